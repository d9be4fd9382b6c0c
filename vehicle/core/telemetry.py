"""Loop statistics the console and the CLI read without ever blocking the drive loop.

The loop writes into fixed numpy ring buffers (no allocation per step); readers copy them.
A reader may see one sample mid-update, which is harmless for statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WINDOW = 256


@dataclass(frozen=True)
class LoopStats:
    steps: int
    loop_hz: float
    latency_ms_p50: float
    latency_ms_p99: float
    latency_ms_last: float
    inference_ms_last: float
    frames_dropped: int


class Telemetry:
    def __init__(self, window: int = WINDOW) -> None:
        self._latency = np.zeros(window, dtype=np.float64)
        self._t_done = np.zeros(window, dtype=np.float64)
        self._window = window
        self.steps = 0
        self.inference_s_last = 0.0
        self.frames_dropped = 0
        # The newest step's decision, replaced as a whole tuple so readers see one step's data.
        self.last_action: tuple[int | None, float, float, np.ndarray | None] | None = None

    def record(
        self,
        t_done: float,
        latency_s: float,
        inference_s: float,
        action: tuple[int | None, float, float, np.ndarray | None],
    ) -> None:
        i = self.steps % self._window
        self._latency[i] = latency_s
        self._t_done[i] = t_done
        self.inference_s_last = inference_s
        self.last_action = action
        self.steps += 1

    def stats(self) -> LoopStats:
        """Read by the drive link ten times a second while the loop runs: kept to a few
        microseconds (one sort, no ``np.percentile`` machinery), as it holds the GIL the
        drive thread may be waiting for."""
        steps = self.steps
        n = min(steps, self._window)
        latency = np.sort(self._latency[:n])
        t_done = self._t_done[:n]
        last = float(self._latency[(steps - 1) % self._window]) if steps else 0.0
        span = float(t_done.max() - t_done.min()) if n >= 2 else 0.0
        return LoopStats(
            steps=steps,
            loop_hz=(n - 1) / span if span > 0 else 0.0,
            latency_ms_p50=_percentile(latency, 0.50) * 1e3,
            latency_ms_p99=_percentile(latency, 0.99) * 1e3,
            latency_ms_last=last * 1e3,
            inference_ms_last=self.inference_s_last * 1e3,
            frames_dropped=self.frames_dropped,
        )


def _percentile(ascending: np.ndarray, q: float) -> float:
    """``np.percentile``'s default (linear) method on sorted values, 0.0 when empty."""
    if not ascending.size:
        return 0.0
    position = (ascending.size - 1) * q
    below = int(position)
    above = min(below + 1, ascending.size - 1)
    low = float(ascending[below])
    return low + (float(ascending[above]) - low) * (position - below)
