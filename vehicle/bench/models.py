"""Model figures: preparing DeepRacer exports, loading prepared models, and engine floors.

    python -m vehicle.bench.models [--json FILE] [--duration S]      (or: make bench-models)

- ``conversion``: per rl_coach topology (shallow, standard, deep), a physical-car export
  rebuilt from the committed samples is prepared in the worker, as an upload is:
  ``prepare_s`` cold, ``prepare_hit_s`` the same input again (a cache hit), ``first_open_s``
  opening the prepared bundle in a fresh process as the drive process does (imports
  included), ``open_s`` opening it again in a warm process, and ``rss_mb`` of that fresh
  process once open.
- ``floor_ms``: inference alone (one thread, the preprocessed frame bound once, as the drive
  loop runs it), p50/p99/min and CPU per inference, interleaved in rounds so load on the
  machine falls on every engine alike: onnxruntime and OpenVINO on the bench's
  DeepRacer-shaped ONNX network (``vehicle.bench.network``), and OpenVINO on each prepared
  export. Ratios are against onnxruntime on the bench network, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vehicle.atomic import atomic_write_json
from vehicle.bench.machine import machine_info
from vehicle.bench.network import build_shallow_bundle
from vehicle.bench.stats import BenchError, latency_summary

TOPOLOGIES = {
    "shallow": "ppo_discrete_shallow_observation",
    "standard": "ppo_discrete_standard_camera",
    "deep": "ppo_discrete_deep_camera",
}
ROUNDS = 5

# Run in a fresh interpreter: what opening a prepared bundle costs the drive process.
OPEN_PROBE = """
import json, sys, time
start = time.perf_counter()
from vehicle.core.policy import open_prepared
from vehicle.bench.machine import rss_mb
open_prepared(sys.argv[1])
print(json.dumps({"first_open_s": time.perf_counter() - start, "rss_mb": rss_mb()}))
"""


def _seconds(value: float) -> float:
    return round(value, 3)


def _timed(action: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = action()
    return result, time.perf_counter() - start


def conversion_figures(work: Path) -> dict[str, dict[str, float]]:
    from vehicle.core.policy import open_prepared
    from vehicle.model.samples import SampleExport
    from vehicle.model.worker import prepare_in_worker

    figures = {}
    cache = work / "cache"
    for topology, kind in TOPOLOGIES.items():
        export = SampleExport.load(kind).write_physical_export(work / topology)
        prepared, cold = _timed(lambda e=export: prepare_in_worker(e, cache))
        again, hit = _timed(lambda e=export: prepare_in_worker(e, cache))
        if prepared.cache_hit or not again.cache_hit:
            raise BenchError(f"{topology}: expected a cold preparation, then a cache hit")
        probe = subprocess.run(
            [sys.executable, "-c", OPEN_PROBE, str(prepared.directory)],
            capture_output=True,
            check=True,
            text=True,
        )
        fresh = json.loads(probe.stdout.splitlines()[-1])
        open_prepared(prepared.directory)  # warm this process's engine
        _, warm = _timed(lambda d=prepared.directory: open_prepared(d))
        figures[topology] = {
            "graph_mb": round((export / "agent" / "model.pb").stat().st_size / 2**20, 1),
            "prepare_s": _seconds(cold),
            "prepare_hit_s": _seconds(hit),
            "first_open_s": _seconds(fresh["first_open_s"]),
            "open_s": _seconds(warm),
            "rss_mb": round(fresh["rss_mb"], 1),
            "engine": prepared.stamp.engine,
        }
    return figures


def _engines(work: Path, conversion_cache: Path) -> dict[str, Any]:
    """The policies to time: both engines on the bench network, OpenVINO on the exports."""
    from vehicle.core.openvino_policy import OpenVinoPolicy, import_runtime
    from vehicle.core.policy import open_prepared
    from vehicle.model.prepare import prepare

    net = build_shallow_bundle(work / "bench-net")
    _, onnx_policy = open_prepared(prepare(net, work / "bench-cache").directory)
    ov = import_runtime()
    ir = ov.Core().read_model(str(net / "model.onnx"))
    ir.reshape({ir.inputs[0]: [1, 120, 160, 1]})
    ov.save_model(ir, str(work / "bench-net" / "model.xml"), compress_to_fp16=False)
    policies = {
        "bench_net/onnxruntime": onnx_policy,
        "bench_net/openvino": OpenVinoPolicy(work / "bench-net" / "model.xml", 15),
    }
    for entry in sorted(conversion_cache.iterdir()):
        if not entry.name.startswith("."):
            metadata, policy = open_prepared(entry)
            topology = metadata.neural_network or entry.name[:8]
            policies[f"export_{_TOPOLOGY_OF.get(topology, topology)}/openvino"] = policy
    return policies


_TOPOLOGY_OF = {
    "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW": "shallow",
    "DEEP_CONVOLUTIONAL_NETWORK": "standard",
    "DEEP_CONVOLUTIONAL_NETWORK_DEEP": "deep",
}


def floor_figures(policies: dict[str, Any], duration_s: float) -> dict[str, dict[str, float]]:
    from vehicle.bench.sources import camera_image
    from vehicle.core.preprocess import Preprocessor

    image = camera_image()  # the frame the rest of the bench uses
    tensors = {name: Preprocessor(p.layout)(image).copy() for name, p in policies.items()}
    samples: dict[str, list[float]] = {name: [] for name in policies}
    cpu: dict[str, float] = dict.fromkeys(policies, 0.0)
    for name, policy in policies.items():
        for _ in range(20):
            policy.run(tensors[name])
    window = duration_s / ROUNDS / len(policies)
    clock = time.perf_counter
    for _ in range(ROUNDS):
        for name, policy in policies.items():
            tensor, runs = tensors[name], samples[name]
            cpu_start, end = time.process_time(), clock() + window
            while clock() < end:
                start = clock()
                policy.run(tensor)
                runs.append(clock() - start)
            cpu[name] += time.process_time() - cpu_start
    figures = {}
    for name, runs in samples.items():
        summary = latency_summary(runs)
        summary["min"] = round(min(runs) * 1000, 3)
        summary["cpu_ms"] = round(cpu[name] / len(runs) * 1000, 3)
        summary["runs"] = len(runs)
        figures[name] = summary
    anchor = figures["bench_net/onnxruntime"]["p50"]
    for summary in figures.values():
        summary["ratio_to_onnxruntime"] = round(summary["p50"] / anchor, 3)
    return figures


def run(duration_s: float) -> dict[str, Any]:
    from vehicle.core.openvino_policy import import_runtime

    with tempfile.TemporaryDirectory(prefix="vehicle-bench-models-") as scratch:
        work = Path(scratch)
        conversion = conversion_figures(work)
        floors = floor_figures(_engines(work, work / "cache"), duration_s)
    info = machine_info()
    info["openvino"] = import_runtime().get_version()
    return {"machine": info, "conversion": conversion, "floor_ms": floors}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vehicle.bench.models", description=__doc__)
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the results here")
    parser.add_argument(
        "--duration",
        type=float,
        default=20.0,
        metavar="S",
        help="seconds of inference timing in all (default 20)",
    )
    args = parser.parse_args(argv)
    report = run(args.duration)
    if args.json is not None:
        atomic_write_json(args.json, report)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
