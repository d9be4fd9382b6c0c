"""The summary statistics the bench reports: latency percentiles and loop period jitter.

Kept apart from the timing code so they can be tested exactly, with made-up samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class BenchError(ValueError):
    """A measurement that cannot be summarised or a bench option that cannot be used."""


def _ms(value: float) -> float:
    return round(float(value) * 1000.0, 3)


def latency_summary(samples_s: Sequence[float]) -> dict[str, float]:
    """p50 and p99 of latencies given in seconds, reported in milliseconds."""
    values = np.asarray(samples_s, dtype=np.float64)
    if values.size == 0:
        raise BenchError("no latency samples: the loop produced no pulses")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise BenchError("latency samples must be finite and not negative")
    return {"p50": _ms(np.percentile(values, 50)), "p99": _ms(np.percentile(values, 99))}


def jitter_summary(timestamps_s: Sequence[float], period_s: float) -> dict[str, float]:
    """How far each interval between successive timestamps strays from ``period_s``.

    Jitter of one interval is ``|interval - period|``; reported as p50, p99 and max in ms.
    """
    return deviation_summary(period_deviations(timestamps_s, period_s))


def period_deviations(timestamps_s: Sequence[float], period_s: float) -> np.ndarray:
    """``|interval - period|`` in seconds for each interval between successive timestamps:
    kept per window, so that windows taken apart can be summarised together."""
    if not period_s > 0:
        raise BenchError(f"target period must be positive, got {period_s!r}")
    times = np.asarray(timestamps_s, dtype=np.float64)
    if times.size < 2:
        raise BenchError("jitter needs at least two timestamps")
    intervals = np.diff(times)
    if np.any(intervals < 0):
        raise BenchError("timestamps must not go backwards")
    return np.abs(intervals - period_s)


def deviation_summary(deviations_s: np.ndarray) -> dict[str, float]:
    """p50, p99 and max in ms of period deviations (one window's, or several pooled)."""
    return {
        "p50": _ms(np.percentile(deviations_s, 50)),
        "p99": _ms(np.percentile(deviations_s, 99)),
        "max": _ms(deviations_s.max()),
    }


def rate_hz(timestamps_s: Sequence[float]) -> float:
    """Steps per second over the span of the timestamps (first to last)."""
    times = np.asarray(timestamps_s, dtype=np.float64)
    if times.size < 2:
        raise BenchError("a rate needs at least two timestamps")
    span = float(times[-1] - times[0])
    if span <= 0:
        raise BenchError("timestamps must span a positive time")
    return round((times.size - 1) / span, 2)


def p99_ratio_interval(
    numerator: Sequence[np.ndarray],
    denominator: Sequence[np.ndarray],
    *,
    coverage: float = 0.9,
    draws: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """How far the ratio of two pooled p99s could move by chance: its ``coverage`` interval
    over bootstrap draws that resample each window's samples within that window (a p99 of a
    few hundred intervals rests on its handful of largest ones; resampling by window keeps
    each window's share, so drift between windows is not mistaken for chance)."""
    if not 0 < coverage < 1 or draws < 1:
        raise BenchError(f"bad interval: coverage {coverage!r}, draws {draws!r}")
    groups = [list(numerator), list(denominator)]
    if not all(groups) or any(window.size == 0 for group in groups for window in group):
        raise BenchError("a ratio interval needs samples in every window on both sides")
    rng = np.random.default_rng(seed)
    ratios = np.empty(draws)
    for draw in range(draws):
        top, bottom = (
            np.percentile(np.concatenate([w[rng.integers(0, w.size, w.size)] for w in group]), 99)
            for group in groups
        )
        ratios[draw] = top / bottom if bottom > 0 else np.inf
    tail = (1.0 - coverage) / 2.0 * 100.0
    low, high = np.percentile(ratios, [tail, 100.0 - tail])
    return round(float(low), 3), round(float(high), 3)
