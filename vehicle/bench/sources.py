"""Synthetic cameras for the bench: one cached image, delivered on an exact schedule.

Capture costs nothing, so what is measured is the loop, not a camera driver; and both loops
under test get frames on the same schedule from the same ``Pacer``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from vehicle.bench.stats import BenchError
from vehicle.camera import FrameSource


class Pacer:
    """Ticks at ``hz`` on absolute deadlines (no drift); a late tick restarts the schedule."""

    def __init__(self, hz: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not (isinstance(hz, int | float) and 0 < hz <= 100_000):
            raise BenchError(f"camera rate must be in (0, 100000] Hz, got {hz!r}")
        self.period = 1.0 / hz
        self.clock = clock
        self._next_due: float | None = None

    def wait(self) -> None:
        """Sleep until the next tick (the first call returns at once)."""
        now = self.clock()
        if self._next_due is None:
            self._next_due = now
            return
        self._next_due += self.period
        delay = self._next_due - now
        if delay > 0:
            time.sleep(delay)
        else:
            self._next_due = now


def camera_image(width: int = 640, height: int = 480, seed: int = 0) -> np.ndarray:
    """A fixed BGR frame at DeepRacer's camera size (so resizing is part of every step)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)


class BenchCamera(FrameSource):
    """Our frame-source interface around a ``Pacer``: it paces itself, like a device."""

    def __init__(self, image: np.ndarray, hz: float) -> None:
        super().__init__(None)
        self._image = image
        self._pacer = Pacer(hz)

    def _read(self) -> np.ndarray:
        self._pacer.wait()
        return self._image
