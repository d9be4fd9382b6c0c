"""Synthetic cameras for the bench: one cached image, delivered on an exact schedule.

Capture costs nothing, so what is measured is the loop, not a camera driver; and both loops
under test get frames on the same schedule from the same ``Pacer``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np

from vehicle.bench.stats import BenchError
from vehicle.core.camera import FrameSource


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
    """A fixed BGR frame at DeepRacer's camera size, so resizing is part of every step: a
    road with white borders and a dashed centre line, and a little sensor noise, so that it
    compresses for viewers like a real frame (tens of kB), not like noise (hundreds)."""
    rng = np.random.default_rng(seed)
    image = np.full((height, width, 3), 120, dtype=np.uint8)  # the field around the track
    horizon = height // 4
    image[:horizon] = (200, 170, 140)  # a wall beyond the track
    bottom, top = (0, width), (width * 2 // 5, width * 3 // 5)
    road = np.array(
        [[bottom[0], height], [top[0], horizon], [top[1], horizon], [bottom[1], height]],
        dtype=np.int32,
    )
    cv2.fillPoly(image, [road], (55, 55, 55))
    line = max(2, width // 80)
    for x0, x1 in ((bottom[0], top[0]), (bottom[1], top[1])):
        cv2.line(image, (x0, height), (x1, horizon), (210, 210, 210), line * 2)
    for y in range(horizon, height, height // 12):
        cv2.line(image, (width // 2, y), (width // 2, y + height // 24), (210, 210, 210), line)
    noise = rng.normal(0.0, 3.0, size=image.shape)
    return np.clip(image + noise, 0, 255).astype(np.uint8)


class BenchCamera(FrameSource):
    """Our frame-source interface around a ``Pacer``: it paces itself, like a device."""

    def __init__(self, image: np.ndarray, hz: float) -> None:
        super().__init__(None)
        self._image = image
        self._pacer = Pacer(hz)

    def _read(self) -> np.ndarray:
        self._pacer.wait()
        return self._image
