"""Rules every back-end shares: bad pulses, unknown channels, closing, the factory."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from vehicle.config import PWM_BACKENDS, PwmSettings
from vehicle.core.pwm.base import PwmBackend, PwmError
from vehicle.core.pwm.factory import create_backend
from vehicle.core.pwm.mock import MockPwm
from vehicle.core.pwm.pca9685 import Pca9685Pwm
from vehicle.core.pwm.rpi_gpio import RpiGpioPwm
from vehicle.core.pwm.sim import SimPwm
from vehicle.core.pwm.sysfs import SysfsPwm

Opened = tuple[PwmBackend, Callable[[], object]]


@pytest.fixture(params=["mock", "sysfs", "rpi-gpio", "pca9685"])
def opened(request, sysfs_factory, fake_gpio, pca_chip) -> Opened:  # type: ignore[no-untyped-def]
    """A back-end and a snapshot of everything its hardware has been told."""
    if request.param == "mock":
        mock = MockPwm()
        return mock, lambda: list(mock.history)
    if request.param == "sysfs":
        fake = sysfs_factory()
        return SysfsPwm(fake.root, write=fake.write), lambda: list(fake.writes)
    if request.param == "rpi-gpio":
        gpio = RpiGpioPwm()
        return gpio, lambda: {pin: list(p.duties) for pin, p in fake_gpio.pwms.items()}
    return Pca9685Pwm(), lambda: list(pca_chip.log)


@pytest.mark.parametrize("ns", [0, 499_999, 2_500_001, 20_000_000, -1_500_000])
def test_pulse_out_of_range_is_rejected_and_nothing_written(opened: Opened, ns: int) -> None:
    backend, written = opened
    before = written()
    with pytest.raises(PwmError, match=r"outside 500000\.\.2500000 ns"):
        backend.set_pulse("steering", ns)
    assert written() == before


@pytest.mark.parametrize("ns", [1.5e6, "1500000", None, True])
def test_pulse_that_is_not_whole_ns_is_rejected(opened: Opened, ns: object) -> None:
    backend, written = opened
    before = written()
    with pytest.raises(PwmError, match="whole ns"):
        backend.set_pulse("throttle", ns)  # type: ignore[arg-type]
    assert written() == before


@pytest.mark.parametrize("channel", ["brake", "Steering", "", 0])
def test_unknown_channel_is_rejected(opened: Opened, channel: object) -> None:
    backend, written = opened
    before = written()
    with pytest.raises(PwmError, match="unknown channel"):
        backend.set_pulse(channel, 1_500_000)  # type: ignore[arg-type]
    assert written() == before


def test_limits_of_the_range_are_written(opened: Opened) -> None:
    backend, written = opened
    before = written()
    backend.set_pulse("steering", 500_000)
    backend.set_pulse("steering", 2_500_000)
    assert written() != before


def test_closed_backend_refuses_writes_and_double_close_is_safe(opened: Opened) -> None:
    backend, written = opened
    with backend:
        backend.set_pulse("throttle", 1_446_000)
    assert backend.closed
    backend.close()
    before = written()
    with pytest.raises(PwmError, match="closed"):
        backend.set_pulse("throttle", 1_446_000)
    assert written() == before


def test_factory_builds_mock_with_its_state_file(tmp_path: Path) -> None:
    settings = PwmSettings(backend="mock", period_ns=10_000_000, mock_state_file=tmp_path / "s")
    backend = create_backend(settings)
    assert isinstance(backend, MockPwm)
    assert backend.period_ns == 10_000_000
    assert backend.state_file == tmp_path / "s"


def test_factory_builds_sysfs_on_the_configured_chip_and_channels(sysfs_factory) -> None:
    fake = sysfs_factory({0: (2, None), 1: (8, None)})
    for channel in (2, 5):  # exported by a previous run: the real writer only writes files
        fake.make_channel(1, channel)
    settings = PwmSettings(
        backend="sysfs", sysfs_root=fake.root, sysfs_chip=1, throttle_channel=2, steering_channel=5
    )
    backend = create_backend(settings)
    assert isinstance(backend, SysfsPwm)
    backend.set_pulse("steering", 1_450_000)
    assert fake.read(1, 5, "duty_cycle") == "1450000"
    assert fake.read(1, 2, "period") == "20000000"


def test_factory_builds_rpi_gpio_on_the_configured_pins(fake_gpio) -> None:
    settings = PwmSettings(backend="rpi-gpio", gpio_steering_pin=18, gpio_throttle_pin=19)
    backend = create_backend(settings)
    assert isinstance(backend, RpiGpioPwm)
    assert backend.pins == {"steering": 18, "throttle": 19}


def test_factory_builds_pca9685_on_the_configured_bus_and_outputs(pca_chip) -> None:
    settings = PwmSettings(
        backend="pca9685", i2c_bus=1, i2c_address=0x40, throttle_channel=4, steering_channel=9
    )
    backend = create_backend(settings)
    assert isinstance(backend, Pca9685Pwm)
    backend.set_pulse("steering", 1_500_000)
    assert pca_chip.off_count(9) == 307


def test_factory_builds_sim() -> None:
    assert isinstance(create_backend(PwmSettings(backend="sim")), SimPwm)


def test_factory_covers_every_configurable_backend(sysfs_factory, fake_gpio, pca_chip) -> None:
    fake = sysfs_factory()
    fake.make_channel(0, 0)
    fake.make_channel(0, 1)
    base = PwmSettings(sysfs_root=fake.root)
    for name in PWM_BACKENDS:
        create_backend(replace(base, backend=name)).close()


def test_unknown_backend_lists_the_choices() -> None:
    with pytest.raises(PwmError, match="unknown PWM back-end 'servo'; choose one of mock, sysfs"):
        create_backend(PwmSettings(backend="servo"))
