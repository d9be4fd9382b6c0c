"""One timed window over a running loop: what it cost and what came out of the PWM.

A loop under test starts in its own threads, warms up, and is then watched for a
wall-clock window; pulses and CPU time outside the window are not counted. The window lasts
``duration_s``, longer when a slow machine has not produced ``MIN_WINDOW_STEPS`` steps by
then (up to ``MAX_EXTENSION`` times as long), so every figure rests on enough samples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vehicle.bench.machine import CpuMeter, rss_mb
from vehicle.bench.probe import PulseProbe
from vehicle.bench.stats import BenchError, jitter_summary, latency_summary, rate_hz

MIN_WINDOW_STEPS = 30
MAX_EXTENSION = 3.0  # a window may grow to this many times its duration (plus the duration)


class LoopUnderTest(Protocol):
    probe: PulseProbe

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def frames_dropped(self) -> int | None: ...


@dataclass(frozen=True)
class Window:
    latencies_s: list[float]
    pulse_times: list[float]
    cpu_s: float
    rss_mb: float
    frames_dropped: int | None
    steps_without_pulse: int
    parts_s: dict[str, list[float]]

    @property
    def steps(self) -> int:
        return len(self.pulse_times)

    def cpu_ms_per_step(self) -> float:
        if not self.steps:
            raise BenchError("no steps in the window: cannot divide the CPU time")
        return round(self.cpu_s * 1000.0 / self.steps, 3)


def watch(loop: LoopUnderTest, *, warmup_s: float, duration_s: float) -> Window:
    """Start ``loop``, skip ``warmup_s``, record ``duration_s`` (or until ``MIN_WINDOW_STEPS``
    steps, within the extension), stop it (always, even when starting it failed half-way)."""
    if not duration_s > 0 or warmup_s < 0:
        raise BenchError(f"bad window: warm-up {warmup_s!r} s, duration {duration_s!r} s")
    probe = loop.probe
    cpu = CpuMeter()
    try:
        loop.start()
        time.sleep(warmup_s)
        first, missing = len(probe.pulse_times), probe.steps_without_pulse
        dropped = loop.frames_dropped()
        cpu.start()
        started = time.monotonic()
        time.sleep(duration_s)
        give_up = started + duration_s * (1.0 + MAX_EXTENSION)
        while len(probe.pulse_times) - first < MIN_WINDOW_STEPS and time.monotonic() < give_up:
            time.sleep(min(0.05, duration_s))
        cpu.stop()
        elapsed = time.monotonic() - started
        last = len(probe.pulse_times)
        end_dropped = loop.frames_dropped()
        memory = rss_mb()
    finally:
        loop.stop()
    if last - first < 2:
        raise BenchError(
            f"the loop wrote {last - first} pulses in {elapsed:.1f} s: nothing to measure"
        )
    return Window(
        latencies_s=probe.latencies_s[first:last],
        pulse_times=probe.pulse_times[first:last],
        cpu_s=cpu.spent_s,
        rss_mb=memory,
        frames_dropped=None if end_dropped is None else end_dropped - (dropped or 0),
        steps_without_pulse=probe.steps_without_pulse - missing,
        parts_s={name: values[first:last] for name, values in probe.parts.items()},
    )


def breakdown(window: Window) -> dict[str, float]:
    """Median ms of each named component of a step (wake-up, inference), and of the rest of
    capture-to-pulse (preprocessing, action lookup, governor and PWM write)."""
    medians = {name: float(np.median(values)) for name, values in window.parts_s.items()}
    if not medians:
        return {}
    rest = float(
        np.median(
            np.asarray(window.latencies_s)
            - np.sum([window.parts_s[name] for name in medians], axis=0)
        )
    )
    return {
        name: round(v * 1000.0, 3) for name, v in {**medians, "preprocess_and_output": rest}.items()
    }


def summarize(paced: Window, fast: Window, *, target_hz: float) -> dict[str, object]:
    """The DESIGN.md figures of one configuration (the floor is added by the caller)."""
    parts = breakdown(paced)
    return {
        **({"latency_breakdown_p50_ms": parts} if parts else {}),
        "latency_ms": latency_summary(paced.latencies_s),
        "jitter_ms": jitter_summary(paced.pulse_times, 1.0 / target_hz),
        "rate_hz": target_hz,
        "achieved_hz": rate_hz(paced.pulse_times),
        "max_rate_hz": rate_hz(fast.pulse_times),
        "max_rate_latency_ms": latency_summary(fast.latencies_s),
        "cpu_ms_per_step": paced.cpu_ms_per_step(),
        "rss_mb": paced.rss_mb,
        "steps": paced.steps,
        "frames_dropped": paced.frames_dropped,
        "steps_without_pulse": paced.steps_without_pulse + fast.steps_without_pulse,
    }
