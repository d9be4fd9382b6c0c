"""The issue's targets, as ratios from one run: met, missed, or not measured (and why), and
for the comparisons the VM's noise can swamp, whether the verdict is resolved at all."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

Report = dict[str, Any]


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    needs: tuple[str, ...]  # configurations the figure is computed from
    value: Callable[[Report], float]
    limit: float
    at_most: bool  # True: value <= limit; False: value >= limit
    # where chance could have put the value (a bootstrap interval, or each round's value);
    # a verdict is resolved only when all of it lies on the same side of the limit
    spread: Callable[[Report], Sequence[float]] | None = None


def _latency_over_floor(config: str, pct: str) -> Callable[[Report], float]:
    return lambda r: r[config]["latency_ms"][pct] / r[config]["floor_ms"]


TARGETS = (
    Target(
        "latency_p50_over_floor",
        "capture-to-pulse p50 / floor",
        ("ours",),
        _latency_over_floor("ours", "p50"),
        1.3,
        True,
    ),
    Target(
        "latency_p99_over_floor",
        "capture-to-pulse p99 / floor",
        ("ours",),
        _latency_over_floor("ours", "p99"),
        2.0,
        True,
    ),
    Target(
        "viewers_latency_p50_over_floor",
        "with viewers: p50 / floor",
        ("ours_viewers",),
        _latency_over_floor("ours_viewers", "p50"),
        1.3,
        True,
    ),
    Target(
        "viewers_latency_p99_over_floor",
        "with viewers: p99 / floor",
        ("ours_viewers",),
        _latency_over_floor("ours_viewers", "p99"),
        2.0,
        True,
    ),
    Target(
        "viewers_jitter_p99_ms",
        "with viewers: period jitter p99 (ms)",
        ("ours_viewers",),
        lambda r: r["ours_viewers"]["jitter_ms"]["p99"],
        2.0,
        True,
    ),
    Target(
        "max_rate_times_floor",
        "highest rate x floor",
        ("ours",),
        lambda r: r["ours"]["max_rate_hz"] * r["ours"]["floor_ms"] / 1000.0,
        0.8,
        False,
    ),
    Target(
        "service_process_cost_p50_ms",
        "service process attached: p50 growth (ms)",
        ("service_cost",),
        lambda r: r["service_cost"]["service_minus_alone_p50_ms"],
        0.1,
        True,
        lambda r: r["service_cost"]["service_minus_alone_p50_by_round_ms"],
    ),
    Target(
        "viewers_cost_p50_ms",
        "viewers on the service: p50 growth (ms)",
        ("service_cost",),
        lambda r: r["service_cost"]["viewers_minus_service_p50_ms"],
        0.1,
        True,
        lambda r: r["service_cost"]["viewers_minus_service_p50_by_round_ms"],
    ),
    Target(
        "jitter_p99_over_donkeycar",
        "period jitter p99 / DonkeyCar's (interleaved)",
        ("service_cost",),
        lambda r: (
            r["service_cost"]["pooled_jitter_p99_ms"]["service"]
            / r["service_cost"]["pooled_jitter_p99_ms"]["donkeycar"]
        ),
        1.0,
        True,
        lambda r: r["service_cost"]["jitter_p99_ratio_interval"],
    ),
    Target(
        "latency_p50_over_donkeycar",
        "our p50 / DonkeyCar's p50",
        ("ours", "donkeycar"),
        lambda r: r["ours"]["latency_ms"]["p50"] / r["donkeycar"]["latency_ms"]["p50"],
        0.5,
        True,
    ),
)


def evaluate_targets(report: Report) -> dict[str, dict[str, Any]]:
    """Each target's value, limit and verdict; ``met`` is None when it could not be measured."""
    out: dict[str, dict[str, Any]] = {}
    for target in TARGETS:
        entry: dict[str, Any] = {
            "description": target.description,
            "limit": target.limit,
            "compare": "<=" if target.at_most else ">=",
        }
        missing = [c for c in target.needs if c not in report or "error" in report[c]]
        if missing:
            reasons = [report[c]["error"] if c in report else "not run" for c in missing]
            entry.update(
                value=None,
                met=None,
                reason="; ".join(f"{c}: {why}" for c, why in zip(missing, reasons, strict=True)),
            )
        else:
            value = round(float(target.value(report)), 3)
            met = value <= target.limit if target.at_most else value >= target.limit
            entry.update(value=value, met=met)
            if target.spread is not None:
                spread = [float(v) for v in target.spread(report)]
                low, high = min(spread), max(spread)
                below = high <= target.limit if target.at_most else high < target.limit
                above = low > target.limit if target.at_most else low >= target.limit
                entry.update(spread=[round(low, 3), round(high, 3)], resolved=below or above)
        out[target.name] = entry
    return out
