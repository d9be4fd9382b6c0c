"""The tail light: DeepRacer's RGB LED on three PWM outputs, driven by the drive process.

Colours arrive as DeepRacer's console sends them, 0..255 a channel, and become a duty on the
PWM period as DeepRacer's servo node writes them: 39215 ns a step (int(10 ms / 255)), so full
brightness is a 10 ms pulse. The light belongs to the process that owns the outputs; the
console only asks for a colour over the drive link.
"""

from __future__ import annotations

import logging

from vehicle.core.pwm.base import LED_COLOURS, PwmBackend

log = logging.getLogger(__name__)

LEVELS = 255
NS_PER_LEVEL = 39_215  # DeepRacer's LED_SCALING_FACTOR

Colour = tuple[int, int, int]


def check_colour(red: object, green: object, blue: object) -> Colour:
    """Three whole numbers in 0..255, or ValueError naming the one that is not."""
    for name, value in zip(LED_COLOURS, (red, green, blue), strict=True):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number in 0..{LEVELS}, got {value!r}")
        if not 0 <= value <= LEVELS:
            raise ValueError(f"{name} must be in 0..{LEVELS}, got {value}")
    return red, green, blue  # type: ignore[return-value]


def duties_for(colour: Colour) -> tuple[int, int, int]:
    """The PWM duty (ns) of each channel, as DeepRacer's servo node writes it."""
    red, green, blue = colour
    return red * NS_PER_LEVEL, green * NS_PER_LEVEL, blue * NS_PER_LEVEL


class TailLight:
    """The colour shown, set through the back-end; refused where there is no light."""

    def __init__(self, backend: PwmBackend) -> None:
        self._backend = backend
        self.colour: Colour | None = None  # None: never set by this process

    @property
    def available(self) -> bool:
        return self._backend.led_outputs is not None

    def set(self, red: object, green: object, blue: object) -> None:
        """Show a colour; ValueError (nothing changed) for a bad colour or no light."""
        colour = check_colour(red, green, blue)
        if not self.available:
            raise ValueError(
                f"this car has no tail light: the {self._backend.name} back-end drives no LED "
                "outputs"
            )
        self._backend.set_led(duties_for(colour))
        self.colour = colour

    def restore(self, colour: Colour | None) -> None:
        """Show the colour saved before a restart; a failure is logged, never fatal."""
        if colour is None or not self.available:
            return
        try:
            self.set(*colour)
        except (ValueError, RuntimeError) as exc:
            log.warning("cannot restore the tail light colour %s: %s", colour, exc)
