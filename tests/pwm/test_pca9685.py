"""PCA9685 over I2C, against a fake bus and chip that record register writes."""

from __future__ import annotations

import sys

import pytest

from vehicle.core.pwm.base import PwmError
from vehicle.core.pwm.pca9685 import Pca9685Pwm, prescale_for

MODE1, MODE2, PRESCALE = 0x00, 0x01, 0xFE


def test_prescale_for_50_hz_is_121() -> None:
    assert prescale_for(20_000_000) == 121
    assert prescale_for(10_000_000) == 60
    assert prescale_for(3_300_000) == 19


@pytest.mark.parametrize("period_ns", [41_000_000 + 5_000_000, 100_000_000])
def test_period_the_prescaler_cannot_make_is_rejected(period_ns: int) -> None:
    with pytest.raises(PwmError, match="outside what the prescaler can make"):
        prescale_for(period_ns)


def test_init_sleeps_sets_prescale_wakes_restarts_with_auto_increment(pca_chip) -> None:
    pwm = Pca9685Pwm()
    assert pca_chip.log == [
        ("write", MODE2, 0x04),
        ("read", MODE1),
        ("write", MODE1, 0x11),  # power-on ALLCALL kept, SLEEP
        ("write", PRESCALE, 121),
        ("write", MODE1, 0x01),  # awake
        ("write", MODE1, 0xA1),  # RESTART | AI | ALLCALL
    ]
    assert pca_chip.registers[PRESCALE] == 121
    assert not pca_chip.sleeping
    assert pca_chip.restarted
    assert pwm.tick_ns == 4880.0  # 122 oscillator cycles of 40 ns: 19.988 ms / 4096


def test_init_of_a_running_chip_still_writes_prescale_asleep(pca_chip) -> None:
    pca_chip.registers[MODE1] = 0x21  # awake, AI, ALLCALL: left running by a previous process
    pca_chip.registers[PRESCALE] = 60
    Pca9685Pwm()
    assert pca_chip.log[2:] == [
        ("write", MODE1, 0x31),
        ("write", PRESCALE, 121),
        ("write", MODE1, 0x21),
        ("write", MODE1, 0xA1),
    ]
    assert pca_chip.registers[PRESCALE] == 121


def test_pulse_is_one_block_write_of_on_and_off_counts(pca_chip) -> None:
    pwm = Pca9685Pwm()
    del pca_chip.log[:]
    pwm.set_pulse("throttle", 1_500_000)  # output 0
    pwm.set_pulse("steering", 1_000_000)  # output 1
    pwm.set_pulse("steering", 2_000_000)
    assert pca_chip.log == [
        ("block", 0x06, [0, 0, 0x33, 0x01]),  # 307
        ("block", 0x0A, [0, 0, 0xCD, 0x00]),  # 205
        ("block", 0x0A, [0, 0, 0x9A, 0x01]),  # 410
    ]
    assert pca_chip.off_count(0) == 307
    assert pca_chip.off_count(1) == 410


def test_outputs_map_to_led_registers(pca_chip) -> None:
    pwm = Pca9685Pwm(outputs={"steering": 15, "throttle": 7})
    pwm.set_pulse("steering", 1_450_000)
    pwm.set_pulse("throttle", 1_446_000)
    assert pca_chip.off_count(15) == 297  # 0x06 + 4 * 15 = 0x42
    assert pca_chip.off_count(7) == 296
    assert pca_chip.log[-2][1] == 0x42


def test_other_period_uses_its_real_tick(pca_chip) -> None:
    pwm = Pca9685Pwm(period_ns=10_000_000)
    pwm.set_pulse("throttle", 1_500_000)
    assert pca_chip.registers[PRESCALE] == 60
    assert pca_chip.off_count(0) == round(1_500_000 / (61 * 40))  # 615


def test_pulse_as_long_as_the_period_is_rejected(pca_chip) -> None:
    pwm = Pca9685Pwm(period_ns=2_510_000)
    with pytest.raises(PwmError, match="does not fit"):
        pwm.set_pulse("throttle", 2_500_000)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outputs": {"steering": 16, "throttle": 0}}, "steering output must be 0..15, got 16"),
        ({"outputs": {"steering": 3, "throttle": 3}}, "cannot share output 3"),
        ({"address": 0x80}, "address must be 0x03..0x77"),
        ({"address": True}, "address must be 0x03..0x77"),
    ],
)
def test_bad_configuration_is_rejected_before_the_bus(pca_chip, kwargs: dict, message: str) -> None:
    with pytest.raises(PwmError, match=message):
        Pca9685Pwm(**kwargs)
    assert pca_chip.log == []


def test_missing_bus_names_the_device(pca_chip) -> None:
    with pytest.raises(PwmError, match=r"cannot open /dev/i2c-3"):
        Pca9685Pwm(bus=3)


def test_no_chip_at_the_address_is_an_error(pca_chip) -> None:
    with pytest.raises(PwmError, match=r"no answer from 0x41 on /dev/i2c-1: .*Remote I/O error"):
        Pca9685Pwm(address=0x41)


def test_write_failure_while_driving_is_an_error(pca_chip) -> None:
    pwm = Pca9685Pwm()
    pca_chip.present = False
    with pytest.raises(PwmError, match=r"cannot write throttle to 0x40 on /dev/i2c-1"):
        pwm.set_pulse("throttle", 1_500_000)


def test_close_releases_the_bus_and_keeps_the_outputs(pca_chip) -> None:
    pwm = Pca9685Pwm()
    pwm.set_pulse("throttle", 1_446_000)
    bus = pwm._bus
    pwm.close()
    pwm.close()
    assert not bus.open
    assert pca_chip.off_count(0) == 296
    assert not pca_chip.sleeping
    with pytest.raises(PwmError, match="closed"):
        pwm.set_pulse("throttle", 1_446_000)


def test_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "smbus2", None)
    with pytest.raises(PwmError, match=r"pip install 'vehicle\[pca9685\]'"):
        Pca9685Pwm()
