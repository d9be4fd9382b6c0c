"""The tail light on PWM outputs 2-4 (red, green, blue), as DeepRacer wires it, through each
back-end against its fake: duties in ns on the servo period, never on the steering or
throttle outputs, refused where the hardware has no room for it."""

from __future__ import annotations

import pytest

from vehicle.core.pwm.base import PwmError
from vehicle.core.pwm.mock import MockPwm
from vehicle.core.pwm.pca9685 import Pca9685Pwm
from vehicle.core.pwm.sim import SimPwm
from vehicle.core.pwm.sysfs import SysfsPwm
from vehicle.core.taillight import NS_PER_LEVEL, TailLight, check_colour, duties_for

LED0_ON_L = 0x06
PURPLE = (255 * NS_PER_LEVEL, 0, 128 * NS_PER_LEVEL)


def test_the_cars_scaling_puts_full_brightness_at_a_10_ms_pulse() -> None:
    assert duties_for((255, 0, 1)) == (9_999_825, 0, 39_215)
    assert check_colour(0, 128, 255) == (0, 128, 255)
    for bad in ((256, 0, 0), (-1, 0, 0), (1.5, 0, 0), (True, 0, 0), ("1", 0, 0)):
        with pytest.raises(ValueError, match="red"):
            check_colour(*bad)


def test_sysfs_exports_the_light_on_first_use_period_before_duty(sysfs_factory) -> None:
    fake = sysfs_factory()
    pwm = SysfsPwm(fake.root, write=fake.write)
    assert pwm.led_outputs == (2, 3, 4)
    assert not fake.channel_dir(0, 2).exists()  # nothing touched until a colour is set
    del fake.writes[:]
    pwm.set_led(PURPLE)
    assert fake.writes == [
        ("pwmchip0/export", "2"),
        ("pwmchip0/pwm2/period", "20000000"),
        ("pwmchip0/pwm2/duty_cycle", str(PURPLE[0])),
        ("pwmchip0/pwm2/enable", "1"),
        ("pwmchip0/export", "3"),
        ("pwmchip0/pwm3/period", "20000000"),
        ("pwmchip0/pwm3/duty_cycle", "0"),
        ("pwmchip0/pwm3/enable", "1"),
        ("pwmchip0/export", "4"),
        ("pwmchip0/pwm4/period", "20000000"),
        ("pwmchip0/pwm4/duty_cycle", str(PURPLE[2])),
        ("pwmchip0/pwm4/enable", "1"),
    ]
    del fake.writes[:]
    pwm.set_led((0, NS_PER_LEVEL, 0))
    assert fake.writes == [
        ("pwmchip0/pwm2/duty_cycle", "0"),
        ("pwmchip0/pwm3/duty_cycle", str(NS_PER_LEVEL)),
        ("pwmchip0/pwm4/duty_cycle", "0"),
    ]
    assert [fake.read(0, n, "enable") for n in (2, 3, 4)] == ["1", "1", "1"]


def test_sysfs_reuses_light_outputs_a_previous_run_exported(sysfs_factory) -> None:
    fake = sysfs_factory()
    fake.make_channel(0, 2, period=20_000_000, duty=9_999_825)
    pwm = SysfsPwm(fake.root, write=fake.write)
    pwm.set_led(PURPLE)
    assert ("pwmchip0/export", "2") not in fake.writes  # the kernel would say EBUSY
    assert fake.read(0, 2, "duty_cycle") == str(PURPLE[0])


def test_a_chip_without_room_has_no_light(sysfs_factory) -> None:
    fake = sysfs_factory({0: (2, "i2c-1")})  # a Raspberry Pi's two-channel PWM
    pwm = SysfsPwm(fake.root, write=fake.write)
    assert pwm.led_outputs is None
    with pytest.raises(PwmError, match="no tail light"):
        pwm.set_led(PURPLE)
    assert not any("pwm2" in path for path, _ in fake.writes)


def test_light_outputs_that_drive_the_car_are_never_the_light(sysfs_factory) -> None:
    fake = sysfs_factory()
    pwm = SysfsPwm(fake.root, outputs={"throttle": 2, "steering": 1}, write=fake.write)
    assert pwm.led_outputs is None  # output 2 is the throttle here


def test_a_light_write_failure_is_loud(sysfs_factory) -> None:
    fake = sysfs_factory()
    pwm = SysfsPwm(fake.root, write=fake.write)
    pwm.set_led(PURPLE)
    fake.errors["pwmchip0/pwm3/duty_cycle"] = 5  # EIO
    with pytest.raises(PwmError, match="pwm3/duty_cycle"):
        pwm.set_led(PURPLE)


@pytest.mark.parametrize(
    "duties", [(0, 0), (0, 0, 0, 0), (-1, 0, 0), (0, 20_000_001, 0), (0.5, 0, 0), (True, 0, 0)]
)
def test_bad_duties_are_refused_before_any_write(sysfs_factory, duties) -> None:
    fake = sysfs_factory()
    pwm = SysfsPwm(fake.root, write=fake.write)
    del fake.writes[:]
    with pytest.raises(PwmError):
        pwm.set_led(duties)
    assert fake.writes == []


def test_pca9685_writes_each_colour_as_one_block_and_zero_as_full_off(pca_chip) -> None:
    pwm = Pca9685Pwm()
    assert pwm.led_outputs == (2, 3, 4)
    del pca_chip.log[:]
    pwm.set_led(PURPLE)
    red_ticks = round(PURPLE[0] / pwm.tick_ns)
    blue_ticks = round(PURPLE[2] / pwm.tick_ns)
    assert pca_chip.log == [
        ("block", LED0_ON_L + 8, [0, 0, red_ticks & 0xFF, red_ticks >> 8]),
        ("block", LED0_ON_L + 12, [0, 0, 0, 0x10]),  # full off, not a 0-tick pulse
        ("block", LED0_ON_L + 16, [0, 0, blue_ticks & 0xFF, blue_ticks >> 8]),
    ]
    assert red_ticks == 2049  # 10 ms of the chip's 19.988 ms period
    pwm.set_pulse("steering", 1_450_000)
    assert pca_chip.off_count(1) == round(1_450_000 / pwm.tick_ns)  # untouched by the light


def test_pca9685_light_on_the_cars_outputs_is_refused(pca_chip) -> None:
    pwm = Pca9685Pwm(outputs={"throttle": 3, "steering": 1})
    assert pwm.led_outputs is None
    with pytest.raises(PwmError, match="no tail light"):
        pwm.set_led(PURPLE)


def test_pca9685_light_on_a_chip_that_stopped_answering(pca_chip) -> None:
    pwm = Pca9685Pwm()
    pca_chip.present = False
    with pytest.raises(PwmError, match="tail light output 2"):
        pwm.set_led(PURPLE)


def test_mock_and_sim_record_the_light() -> None:
    mock, sim = MockPwm(), SimPwm()
    for backend in (mock, sim):
        backend.set_led(PURPLE)
    assert mock.led == PURPLE and mock.led_history[-1][1] == PURPLE
    assert sim.led == PURPLE
    mock.fail_writes = True
    with pytest.raises(PwmError, match="injected"):
        mock.set_led((0, 0, 0))
    assert mock.led == PURPLE


def test_rpi_gpio_has_no_light_and_the_tail_light_says_so(fake_gpio) -> None:
    from vehicle.core.pwm.rpi_gpio import RpiGpioPwm

    pwm = RpiGpioPwm()
    with pytest.raises(PwmError, match="no tail light"):
        pwm.set_led(PURPLE)
    light = TailLight(pwm)
    assert not light.available
    with pytest.raises(ValueError, match="no tail light: the rpi-gpio back-end"):
        light.set(255, 0, 0)
    assert light.colour is None


def test_the_tail_light_keeps_its_colour_only_once_written(sysfs_factory) -> None:
    fake = sysfs_factory()
    light = TailLight(SysfsPwm(fake.root, write=fake.write))
    light.set(255, 0, 128)
    assert light.colour == (255, 0, 128)
    fake.errors["pwmchip0/pwm2/duty_cycle"] = 5
    with pytest.raises(PwmError):
        light.set(0, 0, 0)
    assert light.colour == (255, 0, 128)
    light.restore((1, 2, 3))  # a failed restore is logged, never raised
    assert light.colour == (255, 0, 128)
