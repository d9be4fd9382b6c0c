"""The simulator's PWM back-end: the simulated car reads the pulses the stack wrote."""

from __future__ import annotations

import time
from collections.abc import Callable

from calibration.model import Channel
from vehicle.config import PWM_PERIOD_NS
from vehicle.core.pwm.base import PwmBackend, PwmError


class SimPwm(PwmBackend):
    """Keeps the latest pulse of each channel and when it was written (``clock`` seconds),
    and the tail light's duties (``led``), so the console's light settings work here too."""

    name = "sim"
    led_outputs = (2, 3, 4)

    def __init__(
        self, period_ns: int = PWM_PERIOD_NS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(period_ns)
        self._clock = clock
        self._latest: dict[Channel, tuple[int, float]] = {}
        self.led: tuple[int, int, int] | None = None

    def _write(self, channel: Channel, ns: int) -> None:
        self._latest[channel] = (ns, self._clock())

    def _write_led(self, duties_ns: tuple[int, int, int]) -> None:
        self.led = duties_ns

    def pulse(self, channel: Channel) -> int:
        """The pulse the car sees on ``channel``; PwmError if nothing was ever written."""
        if channel not in self._latest:
            raise PwmError(f"sim: nothing was written to {channel}; neutral must be explicit")
        return self._latest[channel][0]

    def written_at(self, channel: Channel) -> float | None:
        """When ``channel`` was last written, or None."""
        entry = self._latest.get(channel)
        return None if entry is None else entry[1]
