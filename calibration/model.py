"""The calibration data model and the normalised-to-pulse mapping (DeepRacer's).

Values are validated where they enter: a ``ChannelCalibration`` that exists is usable.
numpy is imported only where arrays are made: ``vehicle neutral`` and ``vehicle calibration
show`` load this module and must start fast.
"""

from __future__ import annotations

import itertools
import numbers
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import numpy as np

Channel = Literal["steering", "throttle"]
CHANNELS: tuple[Channel, Channel] = ("steering", "throttle")

PULSE_FLOOR_NS = 500_000  # 0.5 ms: below this no hobby servo or ESC is specified
PULSE_CEILING_NS = 2_500_000  # 2.5 ms


class CalibrationError(ValueError):
    """Calibration values that would drive a channel outside what is safe or sensible."""


@dataclass(frozen=True)
class ChannelCalibration:
    """Pulse widths in nanoseconds for one channel, and which way is positive."""

    min_ns: int
    mid_ns: int
    max_ns: int
    polarity: int = 1

    def __post_init__(self) -> None:
        for name in ("min_ns", "mid_ns", "max_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise CalibrationError(f"{name} must be a whole number of ns, got {value!r}")
            if not PULSE_FLOOR_NS <= value <= PULSE_CEILING_NS:
                raise CalibrationError(
                    f"{name} must be between {PULSE_FLOOR_NS} and {PULSE_CEILING_NS} ns, "
                    f"got {value}"
                )
        if not self.min_ns < self.mid_ns < self.max_ns:
            raise CalibrationError(
                f"pulses must satisfy min < mid < max, got {self.min_ns} / {self.mid_ns} / "
                f"{self.max_ns}"
            )
        if self.polarity not in (1, -1) or isinstance(self.polarity, bool):
            raise CalibrationError(f"polarity must be 1 or -1, got {self.polarity!r}")

    def to_pulse(self, value: float) -> int:
        """Normalised command in [-1, 1] (clipped) to a pulse width in ns."""
        adj = min(1.0, max(-1.0, float(value))) * self.polarity
        if adj < 0:
            return round(self.mid_ns + adj * (self.mid_ns - self.min_ns))
        return round(self.mid_ns + adj * (self.max_ns - self.mid_ns))

    def from_pulse(self, ns: float) -> float:
        """Inverse mapping: the normalised command a pulse stands for (the simulator's car)."""
        ns = min(float(self.max_ns), max(float(self.min_ns), float(ns)))
        if ns < self.mid_ns:
            adj = (ns - self.mid_ns) / (self.mid_ns - self.min_ns)
        else:
            adj = (ns - self.mid_ns) / (self.max_ns - self.mid_ns)
        return adj * self.polarity

    def clamp(self, ns: int) -> int:
        """Keep a raw pulse inside the calibrated range."""
        return min(self.max_ns, max(self.min_ns, int(ns)))


def _default_steering() -> ChannelCalibration:
    return ChannelCalibration(1_200_000, 1_450_000, 1_700_000, 1)


def _default_throttle() -> ChannelCalibration:
    return ChannelCalibration(1_311_000, 1_446_000, 1_603_500, -1)


@dataclass(frozen=True)
class SpeedTable:
    """Measured (throttle_norm, m/s) points, so that an action's m/s means m/s on this car.

    Points are sorted by throttle; speed must rise strictly with throttle. Interpolation maps
    a wanted speed to the throttle that gives it, clipped to the table's ends.
    """

    points: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        if len(self.points) < 2:
            raise CalibrationError("a speed table needs at least two points")
        throttles = [p[0] for p in self.points]
        speeds = [p[1] for p in self.points]
        if any(not -1.0 <= t <= 1.0 for t in throttles):
            raise CalibrationError("speed table throttle values must be within [-1, 1]")
        if any(b <= a for a, b in itertools.pairwise(throttles)) or any(
            b <= a for a, b in itertools.pairwise(speeds)
        ):
            raise CalibrationError("speed table must be strictly increasing in throttle and speed")

    def throttle_for(self, speeds_mps: np.ndarray) -> np.ndarray:
        import numpy as np

        throttles = np.array([p[0] for p in self.points])
        speeds = np.array([p[1] for p in self.points])
        return np.interp(np.asarray(speeds_mps, dtype=np.float64), speeds, throttles)


@dataclass(frozen=True)
class Calibration:
    """Both channels, the PWM period and the optional speed table."""

    steering: ChannelCalibration = field(default_factory=_default_steering)
    throttle: ChannelCalibration = field(default_factory=_default_throttle)
    speed_table: SpeedTable | None = None

    def channel(self, name: Channel) -> ChannelCalibration:
        if name == "steering":
            return self.steering
        if name == "throttle":
            return self.throttle
        raise CalibrationError(f"unknown channel {name!r}; expected steering or throttle")

    def with_channel(self, name: Channel, value: ChannelCalibration) -> Calibration:
        self.channel(name)
        return replace(self, **{name: value})
