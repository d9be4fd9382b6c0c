"""Which engine runs a model, in which form: built, checked and measured once, at install.

Every format the car accepts is read into OpenVINO (``vehicle.model.convert``), optimised
(``vehicle.model.optimize``) and written out for each engine that can run it: OpenVINO IR,
ONNX for onnxruntime (``vehicle.model.onnx_export``), and for a .tflite upload the file
itself for LiteRT (its graph cannot be rewritten without TensorFlow, so LiteRT runs it as
uploaded). Then, in the worker, with the drive process's own policy classes:

1. each optimised candidate must compute the same network as the original (outputs within
   1e-4 and the same action on simulator frames), or it is dropped;
2. the candidates are timed, interleaved, on one thread as the car runs them; the fastest
   fp32 one drives;
3. for a discrete policy with a big dense layer, an int8 form (``vehicle.model.quantize``)
   is made and timed beside them; if it is faster, it must pass the agreement gate
   (``vehicle.model.agreement``) on ``agreement_frames`` simulator frames, or it is refused.

Layout is not a choice here: with one grey channel, NHWC and NCHW are the same bytes, and
each engine's own layout work (OpenVINO's and onnxruntime's NCHWc reorders) happens once,
at load. Engine settings are the car's (one thread, no spinning, latency hints): a second
thread would take the camera's core.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vehicle.config import ModelSettings
from vehicle.core.metadata import ModelError, one_line
from vehicle.core.policy import Policy, grey_frame, open_network
from vehicle.core.prepared import PRECISION_OFF, ReducedPrecision
from vehicle.model.layout import ModelSource

log = logging.getLogger(__name__)

IR_STEM = "model"
ONNX_MODEL = "model.onnx"
TFLITE_MODEL = "model.tflite"
INT8_MODEL = "model-int8.onnx"
CHECK_FRAMES = 200  # simulator frames an optimised fp32 graph must match the original on
MIN_SPEEDUP = 1.1  # an int8 form must be at least this much faster to be worth a gate
TIMING_ROUNDS = 8
WARMUP_RUNS = 10


@dataclass(frozen=True)
class Candidate:
    """One form of the network for one engine."""

    engine: str
    precision: str
    model_file: str  # relative to the staging folder
    weights_file: str | None = None

    @property
    def label(self) -> str:
        return f"{self.engine} {self.precision}"


@dataclass
class Choice:
    """What ``prepare_network`` decided, for the stamp."""

    fp32: Candidate
    input_name: str
    output_name: str
    layout: str
    reduced: ReducedPrecision | None
    notes: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def files(self) -> list[str]:
        names = [self.fp32.model_file, self.fp32.weights_file]
        if self.reduced is not None and self.reduced.model_file:
            names.append(self.reduced.model_file)
        return [n for n in names if n]


def interleaved_samples(
    policies: dict[str, Policy],
    tensors: dict[str, np.ndarray],
    budget_s: float,
    *,
    rounds: int = TIMING_ROUNDS,
) -> dict[str, list[float]]:
    """Seconds each ``run`` took, timed in interleaved rounds so that a busy moment on the
    machine falls on every policy alike (at least one run per policy and round)."""
    samples: dict[str, list[float]] = {name: [] for name in policies}
    for name, policy in policies.items():
        for _ in range(WARMUP_RUNS):
            policy.run(tensors[name])
    window = budget_s / rounds / max(1, len(policies))
    clock = time.perf_counter
    for _ in range(rounds):
        for name, policy in policies.items():
            tensor, runs = tensors[name], samples[name]
            end, before = clock() + window, len(runs)
            while len(runs) == before or clock() < end:
                start = clock()
                policy.run(tensor)
                runs.append(clock() - start)
    return samples


def time_policies(
    policies: dict[str, Policy], tensors: dict[str, np.ndarray], budget_s: float
) -> dict[str, float]:
    """p50 ms of each policy's ``run`` (``interleaved_samples``)."""
    samples = interleaved_samples(policies, tensors, budget_s)
    return {name: round(float(np.median(runs)) * 1000, 4) for name, runs in samples.items()}


def _open(staging: Path, candidate: Candidate, n_outputs: int, output_name: str) -> Policy:
    return open_network(
        candidate.engine, staging / candidate.model_file, n_outputs, output_name=output_name
    )


class _Builder:
    """The candidates of one preparation, written into ``staging``."""

    def __init__(self, source: ModelSource, staging: Path, work: Path, limits: ModelSettings):
        self.source, self.staging, self.work, self.limits = source, staging, work, limits
        self.notes: list[str] = []
        self.versions: dict[str, str] = {}

    def original(self, model: Any | None) -> tuple[Candidate, Path]:
        """The network as uploaded, unoptimised: the reference every candidate must match."""
        if self.source.format == "onnx":
            model_file = self.source.model.name
            return Candidate("onnxruntime", "fp32", model_file), self.source.model.parent
        from vehicle.model.convert import save_ir

        save_ir(model, self.work, "original")
        return Candidate("openvino", "fp32", "original.xml", "original.bin"), self.work

    def optimised(self, model: Any) -> list[Candidate]:
        from vehicle.model.convert import save_ir
        from vehicle.model.onnx_export import ExportError, save_onnx
        from vehicle.model.optimize import optimise

        self.notes += optimise(model)
        save_ir(model, self.staging, IR_STEM)
        found = [Candidate("openvino", "fp32", f"{IR_STEM}.xml", f"{IR_STEM}.bin")]
        try:
            save_onnx(model, self.staging / ONNX_MODEL)
            found.append(Candidate("onnxruntime", "fp32", ONNX_MODEL))
        except ExportError as exc:
            self.notes.append(f"no ONNX form for onnxruntime: {exc}")
        return found

    def uploaded_tflite(self) -> list[Candidate]:
        if self.source.format != "tflite":
            return []
        try:
            import ai_edge_litert  # noqa: F401  (is LiteRT installed?)
        except ImportError:
            self.notes.append("LiteRT is not installed: the .tflite runs in another engine")
            return []
        shutil.copyfile(self.source.model, self.staging / TFLITE_MODEL)
        return [Candidate("litert", "fp32", TFLITE_MODEL)]


def _matching(
    reference: np.ndarray,
    outputs: dict[Candidate, np.ndarray],
    discrete: bool,
    notes: list[str],
) -> list[Candidate]:
    from vehicle.model.agreement import judge_equivalent

    kept = []
    for candidate, got in outputs.items():
        verdict = judge_equivalent(reference, got, discrete=discrete)
        if verdict.accepted:
            kept.append(candidate)
        else:
            notes.append(f"{candidate.label} dropped: {verdict.reason}")
    return kept


def _open_all(
    staging: Path, candidates: Iterable[Candidate], n_outputs: int, output_name: str, notes: list
) -> dict[Candidate, Policy]:
    opened = {}
    for candidate in candidates:
        try:
            opened[candidate] = _open(staging, candidate, n_outputs, output_name)
        except ModelError as exc:
            notes.append(f"{candidate.label} cannot open its form: {one_line(exc)}")
    return opened


def _reduced(
    staging: Path,
    fp32: Policy,
    timings: dict[str, float],
    *,
    discrete: bool,
    limits: ModelSettings,
    n_outputs: int,
    output_name: str,
) -> ReducedPrecision:
    """Make, time and judge the int8 form; what became of it."""
    from vehicle.model.agreement import judge_reduced, outputs_on, refused_before_the_end
    from vehicle.model.quantize import MIN_DENSE_WEIGHTS, quantize_dense

    def skipped(reason: str) -> ReducedPrecision:
        return ReducedPrecision("int8", "skipped", reason)

    if limits.precision == "fp32":
        return skipped(PRECISION_OFF)
    if not discrete:
        return skipped("continuous actions: no discrete action to compare, fp32 drives")
    if not (staging / ONNX_MODEL).is_file():
        return skipped("the network has no ONNX form for onnxruntime's int8 kernels")
    candidate = Candidate("onnxruntime", "int8", INT8_MODEL)
    try:
        if not quantize_dense(staging / ONNX_MODEL, staging / INT8_MODEL):
            return skipped(f"no dense layer has {MIN_DENSE_WEIGHTS:,} weights or more")
        policy = _open(staging, candidate, n_outputs, output_name)
    except Exception as exc:  # the quantizer's own errors too: an optional form never blocks
        (staging / INT8_MODEL).unlink(missing_ok=True)
        log.warning("no int8 form: %s", exc)
        return skipped(f"the int8 form could not be made: {one_line(exc)}")
    tensors = {name: grey_frame(p.layout) for name, p in (("a", fp32), ("b", policy))}
    pair = time_policies({"a": fp32, "b": policy}, tensors, limits.engine_timing_s / 2)
    timings[candidate.label] = pair["b"]
    if pair["b"] * MIN_SPEEDUP > pair["a"]:
        (staging / INT8_MODEL).unlink()
        return skipped(f"int8 ran in {pair['b']:.3f} ms against fp32's {pair['a']:.3f} ms")
    from vehicle.model.frames import simulator_frames

    deadline = time.monotonic() + limits.agreement_budget_s
    planned = limits.agreement_frames
    frames = simulator_frames(planned)
    until = refused_before_the_end(planned)
    reference, got = outputs_on([fp32, policy], frames, deadline=deadline, until=until)
    verdict = judge_reduced(reference, got, planned=planned)
    if not verdict.accepted:
        (staging / INT8_MODEL).unlink()
        return ReducedPrecision("int8", "refused", verdict.reason, agreement=verdict.to_json())
    return ReducedPrecision(
        "int8", "accepted", verdict.summary(), "onnxruntime", INT8_MODEL, verdict.to_json()
    )


def _versions(engines: Iterable[str]) -> dict[str, str]:
    versions = {}
    for engine in set(engines):
        if engine == "onnxruntime":
            import onnxruntime

            versions["onnxruntime"] = onnxruntime.__version__
        elif engine == "openvino":
            from vehicle.core.openvino_policy import import_runtime

            versions["openvino"] = import_runtime().get_version()
        elif engine == "litert":
            from importlib.metadata import version

            versions["ai-edge-litert"] = version("ai-edge-litert")
    return versions


def prepare_network(
    source: ModelSource,
    staging: Path,
    work: Path,
    *,
    n_outputs: int,
    discrete: bool,
    limits: ModelSettings,
) -> Choice:
    """Build every candidate into ``staging`` (``work`` for scratch), choose, and leave in
    ``staging`` only the files the choice uses."""
    from vehicle.model.convert import policy_model

    builder = _Builder(source, staging, work, limits)
    if source.format == "onnx":
        from vehicle.model.validate import check_onnx

        facts = check_onnx(source.model)
        input_name, output_name = facts.input_name, facts.output_name
        try:
            model, _ = policy_model(source, max_nodes=limits.max_graph_nodes)
        except ModelError as exc:
            model = None
            builder.notes.append(f"OpenVINO cannot read it: {one_line(exc)}")
    else:
        model, converted = policy_model(source, max_nodes=limits.max_graph_nodes)
        input_name, output_name = converted.input_name, converted.output_name
    reference, folder = builder.original(model)
    reference_policy = open_network(
        reference.engine, folder / reference.model_file, n_outputs, output_name=output_name
    )
    candidates = builder.uploaded_tflite()
    if model is not None:
        candidates += builder.optimised(model)
    built = list(candidates)
    if limits.engine != "auto":
        pinned = [c for c in candidates if c.engine == limits.engine]
        if pinned:
            candidates = pinned
        else:
            builder.notes.append(f"{limits.engine} cannot run this model: measured the others")
    opened = _open_all(staging, candidates, n_outputs, output_name, builder.notes)
    from vehicle.model.agreement import outputs_on
    from vehicle.model.frames import simulator_frames

    outputs = outputs_on([reference_policy, *opened.values()], simulator_frames(CHECK_FRAMES))
    by_candidate = dict(zip(opened, outputs[1:], strict=True))
    kept = _matching(outputs[0], by_candidate, discrete, builder.notes)
    if not kept:  # nothing optimised matched: the original drives, as it was
        if reference.engine == "onnxruntime":
            shutil.copyfile(source.model, staging / ONNX_MODEL)
            reference = Candidate("onnxruntime", "fp32", ONNX_MODEL)
        else:
            for suffix in (".xml", ".bin"):
                shutil.copyfile(work / f"original{suffix}", staging / f"{IR_STEM}{suffix}")
            reference = Candidate("openvino", "fp32", f"{IR_STEM}.xml", f"{IR_STEM}.bin")
        builder.notes.append("no optimised form kept: the network runs as uploaded")
        opened = {reference: _open(staging, reference, n_outputs, output_name)}
        kept = [reference]
    policies = {c.label: opened[c] for c in kept}
    tensors = {label: grey_frame(p.layout) for label, p in policies.items()}
    timings = time_policies(policies, tensors, limits.engine_timing_s / 2)
    best = min(kept, key=lambda c: timings[c.label])
    reduced = _reduced(
        staging,
        opened[best],
        timings,
        discrete=discrete,
        limits=limits,
        n_outputs=n_outputs,
        output_name=output_name,
    )
    choice = Choice(
        best,
        input_name,
        output_name,
        opened[best].layout,
        reduced,
        builder.notes,
        timings,
        _versions([c.engine for c in kept] + ([reduced.engine] if reduced.engine else [])),
    )
    written = {name for c in built for name in (c.model_file, c.weights_file) if name}
    for name in written - set(choice.files):
        (staging / name).unlink()
    return choice
