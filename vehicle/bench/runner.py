"""The whole bench: every configuration in the same run, each in a fresh process.

A fresh process per configuration keeps resident memory and CPU time honest (one stack's
sessions and threads are not counted against another's) while the machine, the model file
and the camera image stay the same. Each configuration measures its own floor first, so its
ratios compare like with like.
"""

from __future__ import annotations

import concurrent.futures
import gc
import multiprocessing
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import onnx

from vehicle.bench.floor import measure_floor
from vehicle.bench.machine import machine_info
from vehicle.bench.measure import summarize, watch
from vehicle.bench.network import build_shallow_bundle
from vehicle.bench.sources import camera_image
from vehicle.bench.stats import BenchError
from vehicle.bench.targets import evaluate_targets
from vehicle.core.prepared import PreparedStamp
from vehicle.model import ModelError, load_bundle
from vehicle.model.synthetic import parameter_count
from vehicle.model.worker import prepare_in_worker

# ours_alone: the drive process with nothing attached (the one-process figure);
# ours: with the service process attached, as the car runs; ours_viewers: and viewers;
# service_cost: the three and DonkeyCar's loop, in interleaved rounds: costs and jitter compared;
# model_open: how long opening a model stalls the loop while driving.
CONFIGURATIONS = ("ours_alone", "ours", "ours_viewers", "donkeycar", "service_cost", "model_open")
FAST_CAMERA_FACTOR = 3.0  # the "faster than the loop" camera runs at this many x 1/floor
MAX_CAMERA_HZ = 20_000.0
UNPACED_HZ = 1_000_000.0  # DonkeyCar's rate_hz for "no sleep at all"
MAX_FLOOR_S = 3.0


@dataclass(frozen=True)
class BenchOptions:
    duration_s: float = 10.0  # each timed window (two per configuration)
    viewers: int = 4
    rate_hz: float = 30.0
    model: Path | None = None  # None: DeepRacer's shallow network, built for the run
    warmup_s: float = 1.0
    rounds: int = 5  # interleaved rounds of service_cost

    def __post_init__(self) -> None:
        for name, label, unit in (("duration_s", "duration", "s"), ("rate_hz", "rate", "Hz")):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise BenchError(f"{label} must be > 0 {unit}, got {value!r}")
        if self.rate_hz > 1000:
            raise BenchError(f"rate must be at most 1000 Hz, got {self.rate_hz}")
        if isinstance(self.viewers, bool) or not isinstance(self.viewers, int):
            raise BenchError(f"viewers must be a whole number, got {self.viewers!r}")
        if not 0 <= self.viewers <= 12:
            raise BenchError(f"viewers must be between 0 and 12, got {self.viewers}")
        if isinstance(self.rounds, bool) or not isinstance(self.rounds, int) or self.rounds < 2:
            raise BenchError(f"rounds must be a whole number >= 2, got {self.rounds!r}")
        if not self.warmup_s >= 0:
            raise BenchError(f"warm-up must be >= 0 s, got {self.warmup_s!r}")
        if self.model is not None and not Path(self.model).exists():
            raise BenchError(f"model {self.model} not found")

    def configurations(self) -> tuple[str, ...]:
        return tuple(c for c in CONFIGURATIONS if c != "ours_viewers" or self.viewers)


def over(latency_ms: dict[str, float], floor_ms: float) -> dict[str, float]:
    """Latency percentiles as multiples of a floor."""
    return {pct: round(value / floor_ms, 3) for pct, value in latency_ms.items()}


def run_configuration(name: str, bundle: Path, options: BenchOptions) -> dict[str, Any]:
    """Floor, then a paced window and a flat-out window of one configuration's loop."""
    from vehicle.bench.donkey import DonkeyLoop, donkeycar_vehicle
    from vehicle.bench.ours import OursLoop

    if name == "model_open":
        from vehicle.bench.model_open import measure_model_open

        return measure_model_open(bundle, rate_hz=options.rate_hz, warmup_s=options.warmup_s)
    if name == "service_cost":
        from vehicle.bench.service_cost import measure_service_cost

        return measure_service_cost(
            bundle,
            rate_hz=options.rate_hz,
            duration_s=options.duration_s,
            warmup_s=options.warmup_s,
            viewers=options.viewers,
            rounds=options.rounds,
        )

    image = camera_image()
    model = load_bundle(bundle)
    floor_s = min(MAX_FLOOR_S, options.duration_s)
    floor = measure_floor(model, image, floor_s)
    paced_floor = measure_floor(model, image, floor_s, hz=options.rate_hz)
    del model  # its session must not count in this configuration's memory
    gc.collect()
    fast_hz = min(MAX_CAMERA_HZ, FAST_CAMERA_FACTOR * 1000.0 / floor["p50"])
    result: dict[str, Any] = {"implementation": "ours", "viewers": 0}
    if name == "donkeycar":
        vehicle_class, result["implementation"] = donkeycar_vehicle()
        loops: tuple[Any, Any] = (
            DonkeyLoop(
                vehicle_class, bundle, image, camera_hz=options.rate_hz, rate_hz=options.rate_hz
            ),
            DonkeyLoop(vehicle_class, bundle, image, camera_hz=fast_hz, rate_hz=UNPACED_HZ),
        )
    else:
        viewers = options.viewers if name == "ours_viewers" else 0
        result["viewers"] = viewers
        result["service_process"] = name != "ours_alone"
        loops = tuple(
            OursLoop(
                bundle,
                image,
                camera_hz=hz,
                nominal_hz=options.rate_hz,
                service=name != "ours_alone",
                viewers=viewers,
            )
            for hz in (options.rate_hz, fast_hz)
        )
    paced, fast = (
        watch(loop, warmup_s=options.warmup_s, duration_s=options.duration_s) for loop in loops
    )
    result.update(
        floor_ms=floor["p50"],
        floor_p99_ms=floor["p99"],
        paced_floor_ms=paced_floor["p50"],
        paced_floor_p99_ms=paced_floor["p99"],
        camera_fast_hz=round(fast_hz),
    )
    result.update(summarize(paced, fast, target_hz=options.rate_hz))
    result["latency_over_floor"] = over(result["latency_ms"], floor["p50"])
    result["latency_over_paced_floor"] = over(result["latency_ms"], paced_floor["p50"])
    faults = [fault for loop in loops for fault in getattr(loop, "faults", ())]
    if faults:  # each latched safety fault was re-armed: the figures need this context
        result["faults"] = faults
    viewers_seen = [loop.viewers.frames for loop in loops if getattr(loop, "viewers", None)]
    if viewers_seen:
        result["viewer_frames"] = viewers_seen[0]
    return result


def _isolated(name: str, bundle: Path, options: BenchOptions) -> dict[str, Any]:
    """``run_configuration`` in a fresh spawned process; a failure is reported, not raised."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        try:
            return pool.submit(run_configuration, name, bundle, options).result()
        except (BenchError, ModelError, ImportError, OSError) as exc:
            return {"error": f"{type(exc).__name__}: {exc}"}


def driven_by(stamp: PreparedStamp) -> dict[str, Any]:
    """The engine and precision the installation chose, and what became of the int8 form:
    the figures mean little without them."""
    reduced = stamp.reduced
    drives_reduced = reduced is not None and reduced.accepted
    return {
        "engine": reduced.engine if drives_reduced else stamp.engine,
        "precision": reduced.precision if drives_reduced else "fp32",
        "reduced": None if reduced is None else f"{reduced.status}: {reduced.reason}",
    }


def run_bench(options: BenchOptions) -> dict[str, Any]:
    """Every configuration, the machine, the model and the targets, as one JSON object."""
    with tempfile.TemporaryDirectory(prefix="vehicle-bench-") as tmp:
        given = Path(options.model or build_shallow_bundle(Path(tmp) / "shallow"))
        # Prepared once, as the car installs it (a bad --model fails here with its reason):
        # every configuration, floor and loop alike, then runs the same prepared network.
        prepared = prepare_in_worker(given, Path(tmp) / "prepared", shown_as=str(given))
        bundle = prepared.directory
        onnx_file = next(iter(sorted(given.rglob("model.onnx"))), None)
        report: dict[str, Any] = {
            "machine": machine_info(),
            "model": {
                "path": str(options.model) if options.model else "built: DeepRacer shallow",
                "parameters": parameter_count(onnx.load(onnx_file)) if onnx_file else None,
                **driven_by(prepared.stamp),
            },
            "options": {
                k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()
            },
        }
        for name in options.configurations():
            report[name] = _isolated(name, bundle, options)
    report["targets"] = evaluate_targets(report)
    return report


__all__ = ["BenchOptions", "run_bench", "run_configuration"]
