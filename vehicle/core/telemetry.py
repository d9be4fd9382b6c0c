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
        steps = self.steps
        n = min(steps, self._window)
        latency = self._latency[:n].copy()
        t_done = np.sort(self._t_done[:n])
        last = float(self._latency[(steps - 1) % self._window]) if steps else 0.0
        hz = (n - 1) / (t_done[-1] - t_done[0]) if n >= 2 and t_done[-1] > t_done[0] else 0.0
        p50, p99 = (np.percentile(latency, [50, 99]) * 1e3) if n else (0.0, 0.0)
        return LoopStats(
            steps=steps,
            loop_hz=float(hz),
            latency_ms_p50=float(p50),
            latency_ms_p99=float(p99),
            latency_ms_last=last * 1e3,
            inference_ms_last=self.inference_s_last * 1e3,
            frames_dropped=self.frames_dropped,
        )
