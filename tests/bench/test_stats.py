import math

import numpy as np
import pytest

from vehicle.bench.stats import (
    BenchError,
    deviation_summary,
    jitter_summary,
    latency_summary,
    period_deviations,
    rate_hz,
)


def test_latency_percentiles_in_ms() -> None:
    samples = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    summary = latency_summary(samples)
    assert summary == {"p50": 50.5, "p99": 99.01}


def test_latency_single_sample() -> None:
    assert latency_summary([0.002]) == {"p50": 2.0, "p99": 2.0}


@pytest.mark.parametrize("bad", [[], [math.nan], [math.inf], [-0.001]])
def test_latency_rejects_unusable_samples(bad: list[float]) -> None:
    with pytest.raises(BenchError):
        latency_summary(bad)


def test_jitter_is_distance_from_the_period() -> None:
    # intervals 10, 12, 9, 10 ms against 10 ms: deviations 0, 2, 1, 0 ms
    times = [0.0, 0.010, 0.022, 0.031, 0.041]
    summary = jitter_summary(times, 0.010)
    assert summary["max"] == pytest.approx(2.0)
    assert summary["p50"] == pytest.approx(0.5)
    assert summary["p99"] == pytest.approx(1.97)


def test_perfect_schedule_has_no_jitter() -> None:
    times = [i / 30 for i in range(31)]
    assert jitter_summary(times, 1 / 30) == {"p50": 0.0, "p99": 0.0, "max": 0.0}


@pytest.mark.parametrize(
    ("times", "period"),
    [([0.0], 0.01), ([], 0.01), ([0.0, 0.01], 0.0), ([0.0, 0.01], -1.0), ([0.02, 0.01], 0.01)],
)
def test_jitter_rejects_bad_input(times: list[float], period: float) -> None:
    with pytest.raises(BenchError):
        jitter_summary(times, period)


def test_rate_counts_intervals_over_span() -> None:
    assert rate_hz([0.0, 0.1, 0.2, 0.3]) == 10.0


@pytest.mark.parametrize("times", [[], [1.0], [1.0, 1.0]])
def test_rate_rejects_too_few_or_no_span(times: list[float]) -> None:
    with pytest.raises(BenchError):
        rate_hz(times)


def test_pooled_windows_summarise_every_interval_but_none_between_windows() -> None:
    first, second = [0.0, 0.010, 0.021], [5.0, 5.013, 5.023]  # a gap of 5 s between them
    pooled = np.concatenate([period_deviations(w, 0.010) for w in (first, second)])
    assert pooled == pytest.approx([0.0, 0.001, 0.003, 0.0])
    assert deviation_summary(pooled)["max"] == 3.0
    assert jitter_summary(first, 0.010) == deviation_summary(period_deviations(first, 0.010))
