"""RPi.GPIO software PWM, against a fake module with the real one's rules."""

from __future__ import annotations

import sys

import pytest

from vehicle.core.pwm.base import PwmError
from vehicle.core.pwm.rpi_gpio import RpiGpioPwm


def test_opening_sets_up_outputs_and_pwm_without_starting(fake_gpio) -> None:
    pwm = RpiGpioPwm()
    assert fake_gpio.mode == fake_gpio.BCM
    assert fake_gpio.outputs == {12: fake_gpio.LOW, 13: fake_gpio.LOW}
    assert {pin: p.frequency for pin, p in fake_gpio.pwms.items()} == {12: 50.0, 13: 50.0}
    assert not any(p.running for p in fake_gpio.pwms.values())
    assert pwm.pins == {"steering": 12, "throttle": 13}


def test_duty_is_an_unrounded_float_percentage(fake_gpio) -> None:
    pwm = RpiGpioPwm()
    pwm.set_pulse("steering", 1_500_000)
    pwm.set_pulse("steering", 1_450_000)
    pwm.set_pulse("throttle", 1_311_000)
    steering, throttle = fake_gpio.pwms[12], fake_gpio.pwms[13]
    assert steering.running
    assert steering.duties == [7.5, 7.25]
    assert throttle.duties == [pytest.approx(6.555, abs=1e-12)]


def test_period_sets_the_frequency(fake_gpio) -> None:
    pwm = RpiGpioPwm({"steering": 5, "throttle": 6}, period_ns=10_000_000)
    pwm.set_pulse("throttle", 2_000_000)
    assert fake_gpio.pwms[6].frequency == 100.0
    assert fake_gpio.pwms[6].duties == [20.0]


def test_close_stops_and_cleans_up_only_its_pins(fake_gpio) -> None:
    fake_gpio.setmode(fake_gpio.BCM)
    fake_gpio.setup(4, fake_gpio.OUT)  # someone else's pin
    pwm = RpiGpioPwm()
    pwm.set_pulse("steering", 1_450_000)
    channels = dict(fake_gpio.pwms)
    pwm.close()
    pwm.close()
    assert not channels[12].running
    assert fake_gpio.cleaned == [[12, 13]]
    assert 4 in fake_gpio.outputs
    with pytest.raises(PwmError, match="closed"):
        pwm.set_pulse("steering", 1_450_000)


def test_pin_already_driven_by_pwm_is_an_error_and_releases_ours(fake_gpio) -> None:
    fake_gpio.setmode(fake_gpio.BCM)
    fake_gpio.setup(13, fake_gpio.OUT)
    fake_gpio.PWM(13, 50)
    with pytest.raises(PwmError, match="A PWM object already exists"):
        RpiGpioPwm()
    assert fake_gpio.cleaned == [[12, 13]]


def test_board_numbering_already_chosen_is_an_error(fake_gpio) -> None:
    fake_gpio.setmode(fake_gpio.BOARD)
    with pytest.raises(PwmError, match="A different mode has already been set"):
        RpiGpioPwm()


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        ({"steering": 12, "throttle": 12}, "cannot share BCM pin 12"),
        ({"steering": 28, "throttle": 13}, "steering BCM pin must be 0..27, got 28"),
        ({"steering": 12}, "exactly steering and throttle"),
        ({"steering": 12, "throttle": "13"}, "throttle BCM pin"),
    ],
)
def test_bad_pins_are_rejected_before_touching_gpio(fake_gpio, pins: dict, message: str) -> None:
    with pytest.raises(PwmError, match=message):
        RpiGpioPwm(pins)
    assert fake_gpio.mode is None


def test_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "RPi", None)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", None)
    with pytest.raises(PwmError, match=r"pip install 'vehicle\[rpi\]'"):
        RpiGpioPwm()


@pytest.mark.usefixtures("gpio_off_a_pi")
def test_library_refusing_to_load_off_a_pi_is_a_pwm_error() -> None:
    with pytest.raises(PwmError, match="can only be run on a Raspberry Pi"):
        RpiGpioPwm()
