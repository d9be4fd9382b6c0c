"""Loop statistics: the figures the console shows, against numpy's own definitions."""

from __future__ import annotations

import numpy as np
import pytest

from vehicle.core.telemetry import Telemetry


def _record(telemetry: Telemetry, t_done: float, latency_s: float) -> None:
    telemetry.record(t_done, latency_s, latency_s / 2, (0, 0.0, 0.5, None))


def test_no_steps_reads_zeros() -> None:
    stats = Telemetry().stats()
    assert (stats.steps, stats.loop_hz, stats.latency_ms_p50, stats.latency_ms_p99) == (0, 0, 0, 0)


def test_one_step_has_latency_but_no_rate() -> None:
    telemetry = Telemetry()
    _record(telemetry, 5.0, 0.002)
    stats = telemetry.stats()
    assert stats.loop_hz == 0.0
    assert stats.latency_ms_p50 == stats.latency_ms_p99 == stats.latency_ms_last == 2.0


@pytest.mark.parametrize("steps", [2, 7, 100, 256, 257, 1000])
def test_percentiles_and_rate_match_numpy_over_the_window(steps: int) -> None:
    window = 256
    rng = np.random.default_rng(steps)
    latencies = rng.uniform(0.001, 0.01, steps)
    times = np.cumsum(rng.uniform(0.02, 0.05, steps))
    telemetry = Telemetry(window)
    for t, latency in zip(times, latencies, strict=True):
        _record(telemetry, float(t), float(latency))
    stats = telemetry.stats()
    kept_latency, kept_times = latencies[-window:], times[-window:]
    p50, p99 = np.percentile(kept_latency, [50, 99]) * 1e3
    assert stats.latency_ms_p50 == pytest.approx(p50, rel=1e-12)
    assert stats.latency_ms_p99 == pytest.approx(p99, rel=1e-12)
    assert stats.latency_ms_last == pytest.approx(latencies[-1] * 1e3)
    expected_hz = (kept_times.size - 1) / (kept_times[-1] - kept_times[0])
    assert stats.loop_hz == pytest.approx(expected_hz, rel=1e-12)
    assert stats.steps == steps


def test_steps_at_one_instant_report_no_rate() -> None:
    telemetry = Telemetry()
    for _ in range(3):
        _record(telemetry, 1.0, 0.003)
    assert telemetry.stats().loop_hz == 0.0
