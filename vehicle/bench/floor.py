"""The floor: preprocessing plus raw onnxruntime inference, nothing else.

Same model, same session (the ``Policy`` the car drives with, so the same session options),
same camera image, on one thread. Back to back it is the figure no loop can beat. Called at
the loop's rate instead (sleeping in between, like a loop waiting for its camera), the same
two calls cost more, because caches and clocks cool down between frames; that "paced floor"
is what any loop at that rate pays, and the gap between the two is not the loop's doing.
"""

from __future__ import annotations

import time

import numpy as np

from vehicle.bench.sources import Pacer
from vehicle.bench.stats import BenchError, latency_summary
from vehicle.model import LoadedModel

WARMUP_RUNS = 20
MIN_RUNS = 20


def measure_floor(
    model: LoadedModel, image: np.ndarray, duration_s: float, *, hz: float | None = None
) -> dict[str, float]:
    """p50 and p99 (ms) of preprocess + infer over ``duration_s`` (at least ``MIN_RUNS``),
    back to back, or at ``hz`` when given."""
    if not duration_s > 0:
        raise BenchError(f"floor duration must be positive, got {duration_s!r}")
    pacer = None if hz is None else Pacer(hz)
    preprocess, policy = model.preprocessor, model.policy
    for _ in range(WARMUP_RUNS):
        policy.run(preprocess(image))
    samples: list[float] = []
    clock = time.perf_counter
    end = clock() + duration_s
    while len(samples) < MIN_RUNS or clock() < end:
        if pacer is not None:
            pacer.wait()
        start = clock()
        policy.run(preprocess(image))
        samples.append(clock() - start)
    return latency_summary(samples)
