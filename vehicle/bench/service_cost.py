"""What the service process costs the drive loop, and how steady our loop is beside
DonkeyCar's: A/B windows, interleaved, in one process.

The drive process alone, with the service process attached, with viewers on that service,
and DonkeyCar's loop: each arrangement gets several short windows, taken in turn (A, B, C,
D, A, B, C, D, ...), so that a machine that speeds up or slows down during the run (other
work, thermal limits, a neighbour on the VM's host) weighs on every arrangement alike. The
latency figures are the medians of the windows' own p50 and p99, and their differences from
the drive alone. Period jitter is pooled: the p99 over every interval of an arrangement's
windows, as many intervals as two long windows have, but spread over the whole run.

Each comparison also says how far chance could move it, so that a verdict is not read into
the VM's noise: the differences of each round (service or viewers against the windows beside
them), and for the jitter ratio a bootstrap interval (a p99 of a few hundred intervals rests
on its handful of largest ones).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from vehicle.bench.donkey import DonkeyLoop, donkeycar_vehicle
from vehicle.bench.measure import LoopUnderTest, watch
from vehicle.bench.ours import OursLoop
from vehicle.bench.sources import camera_image
from vehicle.bench.stats import (
    deviation_summary,
    latency_summary,
    p99_ratio_interval,
    period_deviations,
)

ROUNDS = 3
MIN_WINDOW_S = 0.5
ARRANGEMENTS = ("alone", "service", "viewers", "donkeycar")


def measure_service_cost(
    bundle: Path, *, rate_hz: float, duration_s: float, warmup_s: float, viewers: int
) -> dict[str, Any]:
    """Interleaved windows of each arrangement; medians and differences in ms."""
    image = camera_image()
    window_s = max(MIN_WINDOW_S, 2.0 * duration_s / ROUNDS)
    names = tuple(name for name in ARRANGEMENTS if viewers or name != "viewers")
    donkey_class, _ = donkeycar_vehicle()
    windows: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    deviations: dict[str, list[np.ndarray]] = {name: [] for name in names}
    faults: list[str] = []
    period_s = 1.0 / rate_hz
    for _ in range(ROUNDS):
        for name in names:
            loop: LoopUnderTest
            if name == "donkeycar":
                loop = DonkeyLoop(donkey_class, bundle, image, camera_hz=rate_hz, rate_hz=rate_hz)
            else:
                loop = OursLoop(
                    bundle,
                    image,
                    camera_hz=rate_hz,
                    nominal_hz=rate_hz,
                    service=name != "alone",
                    viewers=viewers if name == "viewers" else 0,
                )
            window = watch(loop, warmup_s=warmup_s, duration_s=window_s)
            faults += [f"{name}: {fault}" for fault in getattr(loop, "faults", ())]
            latency = latency_summary(window.latencies_s)
            deviation = period_deviations(window.pulse_times, period_s)
            jitter = deviation_summary(deviation)
            windows[name].append(
                {"p50": latency["p50"], "p99": latency["p99"], "jitter_p99": jitter["p99"]}
            )
            deviations[name].append(deviation)
    medians = {
        name: {key: round(float(np.median([w[key] for w in runs])), 3) for key in runs[0]}
        for name, runs in windows.items()
    }
    result: dict[str, Any] = {
        "rounds": ROUNDS,
        "window_s": window_s,
        "medians_ms": medians,
        "windows_ms": windows,
        "pooled_jitter_p99_ms": {
            name: deviation_summary(np.concatenate(runs))["p99"]
            for name, runs in deviations.items()
        },
        "jitter_p99_ratio_interval": list(
            p99_ratio_interval(deviations["service"], deviations["donkeycar"])
        ),
        "service_minus_alone_p50_ms": round(medians["service"]["p50"] - medians["alone"]["p50"], 3),
        "service_minus_alone_p50_by_round_ms": _by_round(windows["service"], windows["alone"]),
    }
    if "viewers" in medians:
        result["viewers"] = viewers
        result["viewers_minus_service_p50_ms"] = round(
            medians["viewers"]["p50"] - medians["service"]["p50"], 3
        )
        result["viewers_minus_service_p50_by_round_ms"] = _by_round(
            windows["viewers"], windows["service"]
        )
    if faults:
        result["faults"] = faults
    return result


def _by_round(minuend: list[dict[str, float]], subtrahend: list[dict[str, float]]) -> list[float]:
    """p50 differences of windows taken side by side, round by round."""
    return [round(a["p50"] - b["p50"], 3) for a, b in zip(minuend, subtrahend, strict=True)]
