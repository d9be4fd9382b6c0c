"""What the service process costs the drive loop, and how steady our loop is beside
DonkeyCar's: A/B windows, interleaved, in one process.

The drive process alone, with the service process attached, with viewers on that service,
and DonkeyCar's loop: each arrangement gets several short windows, taken in turn (A, B, C,
D, A, B, C, D, ...), so that a machine that speeds up or slows down during the run (other
work, thermal limits, a neighbour on the VM's host) weighs on every arrangement alike. The
latency figures are the medians of the windows' own p50 and p99. What the service costs
(and what viewers cost on top) is the median of the rounds' paired differences: windows
taken side by side share the machine's drift, windows minutes apart do not. Period jitter
is pooled: the p99 over every interval of an arrangement's windows, as many intervals as two
long windows have, but spread over the whole run.

Each comparison also says how far chance could move it, so that a verdict is not read into
the VM's noise: for a cost, the lowest and highest of the rounds' differences (with five
rounds, the default, the true median lies between them with 94 % confidence: a sign test),
and for the jitter ratio a bootstrap interval (a p99 of a few hundred intervals rests on its
handful of largest ones).
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

MIN_WINDOW_S = 0.5
ARRANGEMENTS = ("alone", "service", "viewers", "donkeycar")


def measure_service_cost(
    bundle: Path,
    *,
    rate_hz: float,
    duration_s: float,
    warmup_s: float,
    viewers: int,
    rounds: int,
) -> dict[str, Any]:
    """``rounds`` interleaved windows of each arrangement; medians and differences in ms."""
    image = camera_image()
    window_s = max(MIN_WINDOW_S, 2.0 * duration_s / rounds)
    names = tuple(name for name in ARRANGEMENTS if viewers or name != "viewers")
    donkey_class, _ = donkeycar_vehicle()
    windows: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    deviations: dict[str, list[np.ndarray]] = {name: [] for name in names}
    faults: list[str] = []
    period_s = 1.0 / rate_hz
    for _ in range(rounds):
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
        "rounds": rounds,
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
    }
    pairs = [("service", "alone")] + ([("viewers", "service")] if "viewers" in medians else [])
    for more, less in pairs:
        differences = [
            round(a["p50"] - b["p50"], 3) for a, b in zip(windows[more], windows[less], strict=True)
        ]
        result[f"{more}_minus_{less}_p50_ms"] = round(float(np.median(differences)), 3)
        result[f"{more}_minus_{less}_p50_by_round_ms"] = differences
    if "viewers" in medians:
        result["viewers"] = viewers
    if faults:
        result["faults"] = faults
    return result
