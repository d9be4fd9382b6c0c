"""Raspberry Pi software PWM through RPi.GPIO (or the rpi-lgpio shim on a Pi 5).

The duty is a float percentage: 1.5 ms at 50 Hz is 7.5 %. Rounding it to a whole percent
would move the pulse in 200 us steps, a fifth of a servo's whole range.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calibration.model import Channel
from vehicle.config import PWM_PERIOD_NS
from vehicle.core.pwm.base import PwmBackend, PwmError
from vehicle.core.pwm.outputs import output_map

BCM_PINS = 28  # GPIO0..GPIO27 on the 40-pin header


class RpiGpioPwm(PwmBackend):
    """Steering and throttle on two BCM-numbered GPIO pins."""

    name = "rpi-gpio"

    def __init__(
        self, pins: Mapping[str, int] | None = None, period_ns: int = PWM_PERIOD_NS
    ) -> None:
        super().__init__(period_ns)
        self.pins = output_map(
            pins if pins is not None else {"steering": 12, "throttle": 13},
            BCM_PINS,
            "BCM pin",
            self.name,
        )
        try:
            import RPi.GPIO as gpio  # lazy: only a Pi has it
        except ImportError as exc:
            raise PwmError(
                "rpi-gpio: RPi.GPIO is not installed; install the rpi extra: "
                "pip install 'vehicle[rpi]'"
            ) from exc
        except RuntimeError as exc:  # RPi.GPIO refuses to import off a Pi
            raise PwmError(f"rpi-gpio: {exc}") from exc
        self._gpio: Any = gpio
        self._pwm: dict[Channel, Any] = {}
        self._started: set[Channel] = set()
        try:
            gpio.setmode(gpio.BCM)
            for channel, pin in self.pins.items():
                gpio.setup(pin, gpio.OUT, initial=gpio.LOW)
                self._pwm[channel] = gpio.PWM(pin, 1e9 / period_ns)
        except (RuntimeError, ValueError) as exc:
            self._release()
            raise PwmError(
                f"rpi-gpio: cannot set up pins {sorted(self.pins.values())}: {exc}"
            ) from exc

    def _write(self, channel: Channel, ns: int) -> None:
        duty = ns * 100.0 / self.period_ns
        pwm = self._pwm[channel]
        try:
            if channel in self._started:
                pwm.ChangeDutyCycle(duty)
            else:
                pwm.start(duty)  # the first pulse is the first output: never a 0 % start
                self._started.add(channel)
        except (RuntimeError, ValueError) as exc:
            raise PwmError(f"rpi-gpio: cannot set {channel} to {duty} %: {exc}") from exc

    def _release(self) -> None:
        """Stop our PWM and return only our pins (others may belong to someone else)."""
        for pwm in self._pwm.values():
            pwm.stop()
        self._gpio.cleanup(list(self.pins.values()))

    def _close(self) -> None:
        try:
            self._release()
        except (RuntimeError, ValueError) as exc:
            raise PwmError(f"rpi-gpio: cannot release pins: {exc}") from exc
