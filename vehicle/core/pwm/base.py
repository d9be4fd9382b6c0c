"""The interface every PWM back-end implements.

A back-end knows nothing of calibration or safety: it turns a pulse width in nanoseconds on a
named channel into hardware state, validates it, and fails loudly (``PwmError``). Neutral is a
calibrated value, so it is written by the safety governor through ``set_pulse``.
"""

from __future__ import annotations

from abc import abstractmethod

from calibration.model import CHANNELS, PULSE_CEILING_NS, PULSE_FLOOR_NS, Channel
from vehicle.config import PWM_PERIOD_NS
from vehicle.core.closeable import Closeable


class PwmError(RuntimeError):
    """A pulse that could not be written, or a back-end that could not be opened."""


class PwmBackend(Closeable):
    """Set a channel's pulse width; close. Context manager; ``close()`` is idempotent."""

    name: str = "abstract"

    def __init__(self, period_ns: int = PWM_PERIOD_NS) -> None:
        if not 2_500_000 < period_ns <= 100_000_000:
            raise PwmError(f"PWM period must be between 2.5 ms and 100 ms, got {period_ns} ns")
        self.period_ns = period_ns
        self.closed = False

    def set_pulse(self, channel: Channel, ns: int) -> None:
        """Validate, then write. Raises PwmError on bad input or a hardware failure."""
        if self.closed:
            raise PwmError(f"{self.name}: back-end is closed")
        if channel not in CHANNELS:
            raise PwmError(f"{self.name}: unknown channel {channel!r}; expected {CHANNELS}")
        if isinstance(ns, bool) or not isinstance(ns, int):
            raise PwmError(f"{self.name}: pulse width must be whole ns, got {ns!r}")
        if not PULSE_FLOOR_NS <= ns <= PULSE_CEILING_NS:
            raise PwmError(
                f"{self.name}: pulse {ns} ns outside {PULSE_FLOOR_NS}..{PULSE_CEILING_NS} ns"
            )
        self._write(channel, ns)

    @abstractmethod
    def _write(self, channel: Channel, ns: int) -> None:
        """Write a validated pulse to the hardware."""

    def close(self) -> None:
        """Release the hardware. Outputs keep their last pulse (as real PWM does)."""
        if not self.closed:
            self.closed = True
            self._close()

    def _close(self) -> None:
        """Back-end specific release; default nothing."""
