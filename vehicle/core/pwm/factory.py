"""Choose a PWM back-end by name, as gpiozero chooses a pin factory.

Imports are lazy so that a desktop without RPi.GPIO or smbus2 can still use the others.
"""

from __future__ import annotations

from collections.abc import Callable

from vehicle.config import PWM_BACKENDS, PwmSettings
from vehicle.core.pwm.base import PwmBackend, PwmError


def _mock(pwm: PwmSettings) -> PwmBackend:
    from vehicle.core.pwm.mock import MockPwm

    return MockPwm(pwm.period_ns, state_file=pwm.mock_state_file)


def _sysfs(pwm: PwmSettings) -> PwmBackend:
    from vehicle.core.pwm.sysfs import SysfsPwm

    outputs = {"throttle": pwm.throttle_channel, "steering": pwm.steering_channel}
    return SysfsPwm(pwm.sysfs_root, pwm.sysfs_chip, outputs, pwm.period_ns, led=pwm.led_channels)


def _rpi_gpio(pwm: PwmSettings) -> PwmBackend:
    from vehicle.core.pwm.rpi_gpio import RpiGpioPwm

    pins = {"steering": pwm.gpio_steering_pin, "throttle": pwm.gpio_throttle_pin}
    return RpiGpioPwm(pins, pwm.period_ns)


def _pca9685(pwm: PwmSettings) -> PwmBackend:
    from vehicle.core.pwm.pca9685 import Pca9685Pwm

    outputs = {"throttle": pwm.throttle_channel, "steering": pwm.steering_channel}
    return Pca9685Pwm(pwm.i2c_bus, pwm.i2c_address, outputs, pwm.period_ns, led=pwm.led_channels)


def _sim(pwm: PwmSettings) -> PwmBackend:
    from vehicle.core.pwm.sim import SimPwm

    return SimPwm(pwm.period_ns)


_BUILDERS: dict[str, Callable[[PwmSettings], PwmBackend]] = {
    "mock": _mock,
    "sysfs": _sysfs,
    "rpi-gpio": _rpi_gpio,
    "pca9685": _pca9685,
    "sim": _sim,
}


def create_backend(pwm: PwmSettings) -> PwmBackend:
    """The back-end ``pwm.backend`` names, opened; PwmError if unknown or unavailable."""
    builder = _BUILDERS.get(pwm.backend)
    if builder is None:
        raise PwmError(
            f"unknown PWM back-end {pwm.backend!r}; choose one of {', '.join(PWM_BACKENDS)}"
        )
    return builder(pwm)
