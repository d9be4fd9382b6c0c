"""The floor: preprocessing plus raw onnxruntime inference, nothing else.

Same model, same session (the ``Policy`` the car drives with, so the same session options),
same camera image, run back to back on one thread. No loop can beat it; the others are
judged as ratios against it.
"""

from __future__ import annotations

import time

import numpy as np

from vehicle.bench.stats import BenchError, latency_summary
from vehicle.model import LoadedModel

WARMUP_RUNS = 20
MIN_RUNS = 50


def measure_floor(model: LoadedModel, image: np.ndarray, duration_s: float) -> dict[str, float]:
    """p50 and p99 (ms) of preprocess + infer over ``duration_s`` (at least ``MIN_RUNS``)."""
    if not duration_s > 0:
        raise BenchError(f"floor duration must be positive, got {duration_s!r}")
    preprocess, policy = model.preprocessor, model.policy
    for _ in range(WARMUP_RUNS):
        policy.run(preprocess(image))
    samples: list[float] = []
    clock = time.perf_counter
    end = clock() + duration_s
    while len(samples) < MIN_RUNS or clock() < end:
        start = clock()
        policy.run(preprocess(image))
        samples.append(clock() - start)
    return latency_summary(samples)
