"""The engines table: every engine's inference floor, at each precision, on one network.

    vehicle bench --engines [--duration S] [--json FILE] [--tf-python PATH]
    (or: make bench-engines)

The network is DeepRacer's factory layout (the "shallow" net: 5.8 M parameters, 23 MB of
fp32 weights) as racers upload it, a frozen TensorFlow graph rebuilt from the committed
sample (``vehicle.model.samples``), and each engine gets it the way its car gets it:

- ``openvino fp32 (stock car)``: OpenVINO reads the graph as it is, as the stock car does;
- ``tflite ... (community car)``: TensorFlow Lite's converter makes the .tflite files (fp32;
  fp16 weights, the community car's default; dynamic-range int8) and LiteRT runs them with
  its default XNNPACK delegate. Needs TensorFlow (the bench-only ``bench-tflite`` extra, or
  ``--tf-python``); without it these rows are left out and said to be;
- ``ours``: the graph installed as the car installs it (``vehicle.model.prepare``: optimised,
  engines measured, int8 dense behind the agreement gate), opened as the drive opens it,
  in fp32 and in the precision it drives; and the other engine's optimised fp32 form.

The anchors are the stock and community cars' fp32 engines; every ratio is a row's p50
against the fastest anchor's at the same thread count, all measured in one run, in
interleaved rounds, on the bench's camera image, at 1 and 2 threads. The drive runs one
thread (the other core is the camera's and the console's); 2 is shown for comparison.
Then capture-to-pulse: our drive core (no service process) at 30 Hz on the installed model,
against its own floor (preprocessing + inference) measured just before.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from vehicle.bench.machine import machine_info
from vehicle.bench.stats import BenchError, latency_summary
from vehicle.config import ModelSettings
from vehicle.core.policy import Policy

NETWORK = "ppo_discrete_shallow_observation"
THREADS = (1, 2)
ANCHORS = ("openvino fp32 (stock car)", "tflite fp32 (community car)")
TFLITE_KINDS = {"fp32": "tflite fp32 (community car)", "fp16": "tflite fp16 (community car)"}
TFLITE_KINDS["dynamic-int8"] = "tflite dynamic-int8"
TF_PYTHON_ENV = "VEHICLE_BENCH_TF_PYTHON"
CAPTURE_HZ = 30.0
GOALS = {"fp32": 0.8, "reduced": 0.5, "capture_to_pulse": 1.3}


@dataclass(frozen=True)
class Row:
    label: str
    role: str  # anchor | ours | other
    open: Callable[[int], Policy]  # threads -> a fresh policy


def _outputs() -> int:
    """The sample's action count (its discrete action space)."""
    from vehicle.model.samples import SampleExport

    return len(SampleExport.load(NETWORK).metadata["action_space"])


def _tf_python(given: str | None) -> str | None:
    """An interpreter with TensorFlow: the one given, the environment's, or this one."""
    candidates = [given, os.environ.get(TF_PYTHON_ENV), sys.executable]
    for python in candidates:
        if (
            python
            and subprocess.run(
                [python, "-c", "import tensorflow"], capture_output=True, check=False
            ).returncode
            == 0
        ):
            return python
    return None


def _tflite_rows(graph: Path, work: Path, tf_python: str | None, notes: list[str]) -> list[Row]:
    from vehicle.core.litert_policy import LiteRtPolicy
    from vehicle.model.samples import SampleExport

    python = _tf_python(tf_python)
    if python is None:
        notes.append("no TensorFlow to make the .tflite files: TFLite rows left out")
        return []
    try:
        import ai_edge_litert  # noqa: F401
    except ImportError:
        notes.append("LiteRT (ai-edge-litert) is not installed: TFLite rows left out")
        return []
    sample = SampleExport.load(NETWORK)
    script = Path(__file__).with_name("tflite_convert.py")
    args = [python, str(script), str(graph), sample.input_name, sample.output_name, str(work)]
    subprocess.run(args, check=True, capture_output=True)
    rows = []
    for kind, label in TFLITE_KINDS.items():
        path = work / f"{kind}.tflite"
        role = "anchor" if label in ANCHORS else "other"
        rows.append(Row(label, role, lambda t, p=path: LiteRtPolicy(p, _outputs(), threads=t)))
    return rows


def _stock_openvino(export: Path, work: Path) -> Row:
    """The graph as OpenVINO reads it, unoptimised, as the stock car's model optimizer does."""
    from vehicle.core.openvino_policy import OpenVinoPolicy
    from vehicle.model.convert import policy_model, save_ir
    from vehicle.model.layout import find_model

    model, _ = policy_model(find_model(export, None), max_nodes=ModelSettings().max_graph_nodes)
    save_ir(model, work, "stock")
    return Row(
        ANCHORS[0], "anchor", lambda t: OpenVinoPolicy(work / "stock.xml", _outputs(), threads=t)
    )


def _our_rows(export: Path, work: Path) -> tuple[list[Row], dict[str, Any], Path]:
    """The car's own install of the graph, and the other fp32 engine's optimised form."""
    from vehicle.core.policy import open_prepared
    from vehicle.model.prepare import prepare

    installed = prepare(export, work / "cache")
    stamp = installed.stamp
    directory = installed.directory
    rows = [
        Row(
            f"ours: {stamp.engine} fp32",
            "ours",
            lambda t: open_prepared(directory, threads=t, precision="fp32")[1],
        )
    ]
    if stamp.reduced is not None and stamp.reduced.accepted:
        rows.append(
            Row(
                f"ours: {stamp.reduced.engine} {stamp.reduced.precision}",
                "ours",
                lambda t: open_prepared(directory, threads=t)[1],
            )
        )
    other = "openvino" if stamp.engine == "onnxruntime" else "onnxruntime"
    pinned = prepare(
        export,
        work / "cache-pinned",
        limits=replace(ModelSettings(), engine=other, precision="fp32"),
    )
    if pinned.stamp.engine == other:
        rows.append(
            Row(
                f"{other} fp32 (prepared, not chosen)",
                "other",
                lambda t: open_prepared(pinned.directory, threads=t, precision="fp32")[1],
            )
        )
    return rows, stamp.to_json(), directory


def floors(rows: list[Row], threads: int, duration_s: float) -> dict[str, dict[str, float]]:
    """p50/p99/min (ms) of inference alone on the camera image, all rows interleaved."""
    from vehicle.bench.sources import camera_image
    from vehicle.core.preprocess import Preprocessor
    from vehicle.model.engines import interleaved_samples

    policies = {row.label: row.open(threads) for row in rows}
    image = camera_image()
    tensors = {name: Preprocessor(p.layout)(image).copy() for name, p in policies.items()}
    samples = interleaved_samples(policies, tensors, duration_s, rounds=10)
    figures = {}
    for name, runs in samples.items():
        summary = latency_summary(runs)
        summary["min"] = round(min(runs) * 1000, 3)
        summary["runs"] = len(runs)
        figures[name] = summary
    return figures


def _with_ratios(figures: dict[str, dict[str, float]], roles: dict[str, str]) -> str | None:
    anchors = [name for name in figures if roles[name] == "anchor"]
    if not anchors:
        return None
    fastest = min(anchors, key=lambda name: figures[name]["p50"])
    for summary in figures.values():
        summary["ratio"] = round(summary["p50"] / figures[fastest]["p50"], 3)
    return fastest


def capture_to_pulse(bundle: Path, duration_s: float) -> dict[str, Any]:
    """Our drive core on the installed model at 30 Hz: latency against its own floor."""
    from vehicle.bench.floor import measure_floor
    from vehicle.bench.measure import watch
    from vehicle.bench.ours import OursLoop
    from vehicle.bench.sources import camera_image
    from vehicle.core.model import open_model

    image = camera_image()
    model = open_model(bundle, bundle.name)
    floor = measure_floor(model, image, min(duration_s, 5.0))
    paced = measure_floor(model, image, min(duration_s, 5.0), hz=CAPTURE_HZ)
    loop = OursLoop(bundle, image, camera_hz=CAPTURE_HZ, nominal_hz=CAPTURE_HZ, service=False)
    window = watch(loop, warmup_s=1.0, duration_s=duration_s)
    latency = latency_summary(window.latencies_s)
    return {
        "precision": model.policy.precision,
        "engine": model.policy.engine,
        "floor_ms": floor,
        "paced_floor_ms": paced,
        "latency_ms": latency,
        "latency_over_floor_p50": round(latency["p50"] / floor["p50"], 3),
        "latency_over_paced_floor_p50": round(latency["p50"] / paced["p50"], 3),
        "faults": loop.faults,  # latched and re-armed during the window
    }


def _goals(report: dict[str, Any]) -> dict[str, Any]:
    one = report["floor_ms"]["1"]
    ours = {name: f for name, f in one.items() if name.startswith("ours:")}
    fp32 = [f["ratio"] for name, f in ours.items() if name.endswith("fp32") and "ratio" in f]
    reduced = [f["ratio"] for name, f in ours.items() if not name.endswith("fp32") and "ratio" in f]
    capture = report["capture_to_pulse"]["latency_over_floor_p50"]
    return {
        "fp32_ratio": fp32[0] if fp32 else None,
        "fp32_met": bool(fp32) and fp32[0] <= GOALS["fp32"],
        "reduced_ratio": reduced[0] if reduced else None,
        "reduced_met": bool(reduced) and reduced[0] <= GOALS["reduced"],
        "capture_to_pulse_over_floor": capture,
        "capture_to_pulse_met": capture <= GOALS["capture_to_pulse"],
        "targets": GOALS,
    }


def run(duration_s: float, tf_python: str | None = None) -> dict[str, Any]:
    if not duration_s > 0:
        raise BenchError(f"duration must be > 0 s, got {duration_s!r}")
    from vehicle.model.samples import SampleExport

    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vehicle-bench-engines-") as scratch:
        work = Path(scratch)
        export = SampleExport.load(NETWORK).write_physical_export(work / "export")
        rows, stamp, installed = _our_rows(export, work)
        rows.insert(0, _stock_openvino(export, work))
        rows[1:1] = _tflite_rows(export / "agent" / "model.pb", work, tf_python, notes)
        roles = {row.label: row.role for row in rows}
        load_before = os.getloadavg()
        report: dict[str, Any] = {"floor_ms": {}, "fastest_anchor": {}}
        for threads in THREADS:
            figures = floors(rows, threads, duration_s)
            report["fastest_anchor"][str(threads)] = _with_ratios(figures, roles)
            report["floor_ms"][str(threads)] = figures
        report["capture_to_pulse"] = capture_to_pulse(installed, duration_s)
        shutil.rmtree(work / "cache-pinned", ignore_errors=True)
    info = machine_info()
    info["load_average_before"] = [round(x, 2) for x in load_before]
    report.update(
        machine=info,
        network={"kind": NETWORK, "parameters": 5_800_000, "roles": roles},
        installed=stamp,
        notes=notes,
    )
    report["goals"] = _goals(report)
    return report


def format_table(report: dict[str, Any]) -> str:
    """The rows side by side: p50 and ratio to the fastest anchor, per thread count."""
    one, two = report["floor_ms"]["1"], report["floor_ms"]["2"]
    width = max(len(name) for name in one)
    head = f"{'1 thread ms':>11}  {'ratio':>6}  {'2 threads ms':>12}  {'ratio':>6}"
    lines = [f"{'engine':<{width}}  {head}"]
    for name in one:
        lines.append(
            f"{name:<{width}}  {one[name]['p50']:>11.3f}  {one[name].get('ratio', 0):>6.2f}  "
            f"{two[name]['p50']:>12.3f}  {two[name].get('ratio', 0):>6.2f}"
        )
    anchors = report["fastest_anchor"]
    lines.append(f"fastest anchor: {anchors['1']} (1 thread), {anchors['2']} (2 threads)")
    capture = report["capture_to_pulse"]
    lines.append(
        f"capture-to-pulse p50 {capture['latency_ms']['p50']:.3f} ms at {CAPTURE_HZ:g} Hz = "
        f"{capture['latency_over_floor_p50']:.2f}x our floor ({capture['engine']} "
        f"{capture['precision']}, {capture['floor_ms']['p50']:.3f} ms back to back), "
        f"{capture['latency_over_paced_floor_p50']:.2f}x the floor paced at {CAPTURE_HZ:g} Hz "
        f"({capture['paced_floor_ms']['p50']:.3f} ms)"
    )
    goals = report["goals"]
    lines.append(
        f"goals: fp32 {goals['fp32_ratio']} (<= 0.8: {goals['fp32_met']}), reduced "
        f"{goals['reduced_ratio']} (<= 0.5: {goals['reduced_met']}), capture-to-pulse "
        f"{goals['capture_to_pulse_over_floor']} (<= 1.3: {goals['capture_to_pulse_met']})"
    )
    load = report["machine"]["load_average_before"], report["machine"]["load_average"]
    lines.append(f"load average before/after: {load[0]} / {load[1]}")
    lines += [f"note: {note}" for note in report["notes"]]
    return "\n".join(lines)


__all__ = ["format_table", "run"]
