"""The interface every PWM back-end implements.

A back-end knows nothing of calibration or safety: it turns a pulse width in nanoseconds on a
named channel into hardware state, validates it, and fails loudly (``PwmError``). Neutral is a
calibrated value, so it is written by the safety governor through ``set_pulse``.

Back-ends whose chip has room for them also drive DeepRacer's tail light: three more outputs
(red, green, blue) on the same period, whose duty sets the brightness (``set_led``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from calibration.model import CHANNELS, PULSE_CEILING_NS, PULSE_FLOOR_NS, Channel
from vehicle.config import PWM_PERIOD_NS
from vehicle.core.closeable import Closeable


class PwmError(RuntimeError):
    """A pulse that could not be written, or a back-end that could not be opened."""


LED_COLOURS = ("red", "green", "blue")


class PwmBackend(Closeable):
    """Set a channel's pulse width; close. Context manager; ``close()`` is idempotent."""

    name: str = "abstract"
    led_outputs: tuple[int, int, int] | None = None  # the tail light's outputs; None: none

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

    def set_led(self, duties_ns: Sequence[int]) -> None:
        """The tail light's red, green and blue duty in ns (0..period). Raises PwmError on a
        back-end without a tail light, on bad input or on a hardware failure."""
        if self.closed:
            raise PwmError(f"{self.name}: back-end is closed")
        if self.led_outputs is None:
            raise PwmError(f"{self.name}: this back-end drives no tail light")
        duties = tuple(duties_ns)
        if len(duties) != len(LED_COLOURS):
            raise PwmError(f"{self.name}: the tail light takes red, green and blue, got {duties}")
        for colour, ns in zip(LED_COLOURS, duties, strict=True):
            if isinstance(ns, bool) or not isinstance(ns, int) or not 0 <= ns <= self.period_ns:
                raise PwmError(
                    f"{self.name}: {colour} duty must be whole ns in 0..{self.period_ns}, "
                    f"got {ns!r}"
                )
        self._write_led(duties)  # type: ignore[arg-type]

    def _write_led(self, duties_ns: tuple[int, int, int]) -> None:
        """Write validated tail-light duties (back-ends with ``led_outputs`` override this)."""
        raise PwmError(f"{self.name}: this back-end drives no tail light")

    def close(self) -> None:
        """Release the hardware. Outputs keep their last pulse (as real PWM does)."""
        if not self.closed:
            self.closed = True
            self._close()

    def _close(self) -> None:
        """Back-end specific release; default nothing."""
