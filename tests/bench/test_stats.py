import math

import numpy as np
import pytest

from vehicle.bench.stats import (
    BenchError,
    deviation_summary,
    jitter_summary,
    latency_summary,
    p99_ratio_interval,
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


def test_a_p99_ratio_interval_holds_the_ratio_and_narrows_with_more_samples() -> None:
    rng = np.random.default_rng(7)
    steady = [np.full(300, 0.002), np.full(300, 0.002)]
    halved = [np.full(300, 0.001), np.full(300, 0.001)]
    assert p99_ratio_interval(steady, halved) == (2.0, 2.0)  # no spread: no chance at all

    def windows(n: int, scale: float) -> list[np.ndarray]:
        return [rng.exponential(scale, n) for _ in range(3)]

    few = p99_ratio_interval(windows(100, 0.001), windows(100, 0.001))
    many = p99_ratio_interval(windows(3000, 0.001), windows(3000, 0.001))
    assert few[0] < 1.0 < few[1] and many[0] < 1.0 < many[1]  # alike: 1 within both
    assert many[1] - many[0] < (few[1] - few[0]) / 2
    apart = p99_ratio_interval(windows(3000, 0.002), windows(3000, 0.001))
    assert 1.6 < apart[0] < 2.0 < apart[1] < 2.4


def test_a_p99_ratio_interval_is_the_same_for_the_same_samples() -> None:
    windows = [np.linspace(0.0, 0.003, 200)]
    assert p99_ratio_interval(windows, windows) == p99_ratio_interval(windows, windows)


@pytest.mark.parametrize(
    ("numerator", "denominator"),
    [([], [np.ones(3)]), ([np.ones(3)], [np.ones(0)])],
)
def test_a_p99_ratio_interval_needs_samples_on_both_sides(numerator, denominator) -> None:
    with pytest.raises(BenchError, match="needs samples in every window"):
        p99_ratio_interval(numerator, denominator)
