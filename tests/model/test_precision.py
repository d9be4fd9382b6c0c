"""Reduced precision: the int8 form drives only where it agrees with fp32, judged on 10,000
simulator frames; a network whose int8 form flips actions is refused, and fp32 drives it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from vehicle.config import ModelSettings
from vehicle.core.policy import open_prepared
from vehicle.core.prepared import PRECISION_OFF
from vehicle.core.preprocess import Preprocessor
from vehicle.model.agreement import (
    MAX_FLIP_MARGIN,
    MIN_FRAMES,
    judge_reduced,
    refused_before_the_end,
)
from vehicle.model.frames import TRACKS, simulator_frames
from vehicle.model.prepare import prepare
from vehicle.model.samples import SampleExport
from vehicle.model.synthetic import Conv, Stack, build_policy

DATA = Path(__file__).resolve().parents[1] / "data"
SHALLOW = "ppo_discrete_shallow_observation"  # DeepRacer's factory layout: 23 MB dense


def _initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {t.name: t for t in model.graph.initializer}


def _array(model: onnx.ModelProto, name: str) -> np.ndarray:
    return numpy_helper.to_array(_initializers(model)[name]).copy()


def _set(model: onnx.ModelProto, name: str, value: np.ndarray) -> None:
    _initializers(model)[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))


def with_int8_outliers(model: onnx.ModelProto) -> onnx.ModelProto:
    """The same kind of network, whose int8 form is useless while fp32 is fine.

    One channel of the last convolution is switched off (a bias far below zero: always 0
    after its ReLU), so the dense weights that read it never matter in fp32. Made huge,
    they set every column's int8 scale, and the weights that matter round to a few levels.
    """
    producers = {out: node for node in model.graph.node for out in node.output}
    dense = next(n for n in model.graph.node if n.op_type == "MatMul")
    node = producers[dense.input[0]]
    while node.op_type != "Add":  # back through Reshape and Relu to the bias of the conv
        node = producers[node.input[0]]
    bias_name = next(name for name in node.input if name in _initializers(model))
    bias, weights = _array(model, bias_name), _array(model, dense.input[1])
    features = weights.shape[0] // bias.size  # per channel, NCHW flatten order
    bias.reshape(-1)[0] = -1e4
    weights[:features] = 1e4
    _set(model, bias_name, bias)
    _set(model, dense.input[1], weights)
    return model


def _onnx_bundle(folder: Path, model: onnx.ModelProto, metadata: dict) -> Path:
    folder.mkdir(parents=True)
    onnx.save(model, folder / "model.onnx")
    (folder / "model_metadata.json").write_text(json.dumps(metadata))
    return folder


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """DeepRacer's shallow network as racers upload it, and an ONNX bundle of the same
    network (as prepared: fp32, optimised) with int8-hostile weights; default settings."""
    root = tmp_path_factory.mktemp("precision")
    export = SampleExport.load(SHALLOW).write_physical_export(root / "export")
    agrees = prepare(export, root / "cache")
    fp32 = onnx.load(str(agrees.directory / "model.onnx"))
    metadata = json.loads((agrees.directory / "model_metadata.json").read_text())
    hostile = _onnx_bundle(root / "hostile", with_int8_outliers(fp32), metadata)
    return {"agrees": agrees, "flips": prepare(hostile, root / "cache")}


@pytest.mark.slow
def test_an_int8_form_that_flips_actions_is_refused(prepared):
    stamp = prepared["flips"].stamp
    reduced = stamp.reduced
    assert (reduced.precision, reduced.status, reduced.model_file) == ("int8", "refused", None)
    figures = reduced.agreement
    # Turned away as soon as the frames so far settle it, within the first chunks.
    assert 0 < figures["frames"] < MIN_FRAMES and not figures["accepted"]
    lost = figures["frames"] - figures["identical"]
    assert lost > (1 - 0.999) * MIN_FRAMES or figures["worst_flip_margin"] > MAX_FLIP_MARGIN
    assert not (prepared["flips"].directory / "model-int8.onnx").exists()
    _, policy = open_prepared(prepared["flips"].directory)  # precision auto: fp32 all the same
    assert policy.precision == "fp32"


@pytest.mark.slow
def test_an_int8_form_that_agrees_drives_where_the_car_allows(prepared, tf_reference):
    stamp = prepared["agrees"].stamp
    reduced = stamp.reduced
    assert (reduced.status, reduced.engine, reduced.model_file) == (
        "accepted",
        "onnxruntime",
        "model-int8.onnx",
    )
    figures = reduced.agreement
    assert figures["frames"] >= MIN_FRAMES and figures["fraction"] >= 0.999
    assert figures["worst_flip_margin"] is None or figures["worst_flip_margin"] <= MAX_FLIP_MARGIN
    assert stamp.timings_ms["onnxruntime int8"] * 1.1 <= stamp.timings_ms[f"{stamp.engine} fp32"]
    directory = prepared["agrees"].directory
    _, fast = open_prepared(directory)
    _, exact = open_prepared(directory, precision="fp32")
    assert (fast.engine, fast.precision) == ("onnxruntime", "int8")
    assert (exact.engine, exact.precision) == (stamp.engine, "fp32")
    # On TensorFlow's own frames: TensorFlow's outputs within 1e-4 in fp32, its actions in int8.
    reference = tf_reference[SHALLOW]
    pre = Preprocessor(fast.layout)
    for name in sorted(reference):
        frame = cv2.imread(str(DATA / "frames" / name), cv2.IMREAD_COLOR)
        expected = np.array(reference[name])
        np.testing.assert_allclose(exact.run(pre(frame)), expected, atol=1e-4)
        assert fast.run(pre(frame)).argmax() == expected.argmax()


def test_with_precision_fp32_no_int8_form_is_made_until_it_is_wanted(tmp_path):
    # One small convolution, then a memory-bound dense layer (4.6 M weights): quick to run.
    model = build_policy(15, stack=Stack((Conv(8, 8, 4),), (512,)))
    metadata = json.loads((DATA / "sample_single_cam.model_metadata.json").read_text())
    bundle = _onnx_bundle(tmp_path / "b", model, metadata)
    fp32_only = replace(ModelSettings(), precision="fp32", agreement_frames=MIN_FRAMES)
    first = prepare(bundle, tmp_path / "cache", limits=fp32_only)
    assert (first.stamp.reduced.status, first.stamp.reduced.reason) == ("skipped", PRECISION_OFF)
    assert prepare(bundle, tmp_path / "cache", limits=fp32_only).cache_hit
    # Switched on, the cached bundle is not current: prepared again, this time with a gate
    # (cut short here by a tiny budget: too few frames is a refusal, never a pass).
    hurried = replace(ModelSettings(), agreement_budget_s=0.0)
    again = prepare(bundle, tmp_path / "cache", limits=hurried)
    assert not again.cache_hit
    assert again.stamp.reduced.status in ("refused", "skipped")
    if again.stamp.reduced.status == "refused":
        assert again.stamp.reduced.reason.startswith("only ")


def test_an_int8_form_that_cannot_be_made_leaves_fp32_driving(tmp_path, monkeypatch):
    from vehicle.model import quantize

    def broken(source, target):
        target.write_bytes(b"half a file")
        raise RuntimeError("the quantizer failed")

    monkeypatch.setattr(quantize, "quantize_dense", broken)
    model = build_policy(15, stack=Stack((Conv(8, 8, 4),), (512,)))
    metadata = json.loads((DATA / "sample_single_cam.model_metadata.json").read_text())
    prepared = prepare(_onnx_bundle(tmp_path / "b", model, metadata), tmp_path / "cache")
    reduced = prepared.stamp.reduced
    assert (reduced.status, reduced.reason) == (
        "skipped",
        "the int8 form could not be made: the quantizer failed",
    )
    assert not (prepared.directory / "model-int8.onnx").exists()
    assert open_prepared(prepared.directory)[1].precision == "fp32"


def _outputs(actions: list[int], margins: list[float], n: int = 4) -> np.ndarray:
    rows = np.zeros((len(actions), n), np.float32)
    for row, action, margin in zip(rows, actions, margins, strict=True):
        row[:] = 0.1
        row[action] = 0.1 + margin
    return rows


def test_the_gate_needs_ten_thousand_frames():
    same = _outputs([1] * (MIN_FRAMES - 1), [0.5] * (MIN_FRAMES - 1))
    verdict = judge_reduced(same, same)
    assert not verdict.accepted and verdict.reason == "only 9,999 frames; the gate needs 10,000"


def test_the_gate_allows_one_close_flip_in_a_thousand_and_no_more():
    n = MIN_FRAMES
    reference = _outputs([0] * n, [0.01] * n)
    flipped = reference.copy()
    flipped[:10, 0], flipped[:10, 1] = 0.1, 0.2  # 10 of 10,000: 99.9 %
    verdict = judge_reduced(reference, flipped)
    assert verdict.accepted and verdict.identical == n - 10
    assert verdict.worst_flip_margin == pytest.approx(0.01)
    flipped[10, 0], flipped[10, 1] = 0.1, 0.2  # 11: below 99.9 %
    assert not judge_reduced(reference, flipped).accepted


def test_the_gate_refuses_one_flip_where_fp32_was_sure():
    n = MIN_FRAMES
    reference = _outputs([0] * n, [0.01] * (n - 1) + [MAX_FLIP_MARGIN + 0.001])
    flipped = reference.copy()
    flipped[-1, 0], flipped[-1, 1] = 0.0, 0.5
    verdict = judge_reduced(reference, flipped)
    assert not verdict.accepted and "margin was above 0.05" in verdict.reason


def test_the_gate_refuses_before_the_end_only_when_the_rest_cannot_save_it():
    planned = MIN_FRAMES
    reference = _outputs([0] * 500, [0.01] * 500)
    candidate = reference.copy()
    settled = refused_before_the_end(planned)
    candidate[:10, 0], candidate[:10, 1] = 0.1, 0.2  # 10 close flips: 99.9 % still possible
    assert not settled([reference, candidate])
    assert judge_reduced(reference, candidate, planned=planned).reason.startswith("only 500")
    candidate[10, 0], candidate[10, 1] = 0.1, 0.2  # 11: no 9,500 more frames can make it up
    assert settled([reference, candidate])
    verdict = judge_reduced(reference, candidate, planned=planned)
    assert not verdict.accepted and verdict.reason == "the same action on fewer than 99.9 %"
    sure = _outputs([0] * 500, [MAX_FLIP_MARGIN + 0.01] * 500)
    one_flip = sure.copy()
    one_flip[7, 0], one_flip[7, 1] = 0.0, 0.9
    assert settled([sure, one_flip])  # a sure flip settles it at once


def test_frames_come_from_every_track_and_are_the_same_every_time():
    first = list(simulator_frames(2 * len(TRACKS) * 3, seed=5))
    again = list(simulator_frames(2 * len(TRACKS) * 3, seed=5))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(f.shape == (120, 160) and f.dtype == np.uint8 for f in first)
    assert len({f.tobytes() for f in first}) == len(first)  # all different
    assert all(5 < f.mean() < 250 for f in first)  # lit, not blank


@pytest.mark.slow
def test_the_listing_and_the_loaded_model_say_which_precision_drives(prepared):
    from vehicle.core.metadata import load_metadata
    from vehicle.core.model import open_model
    from vehicle.model.store import describe_bundle

    directory = prepared["agrees"].directory
    assert open_model(directory, "racer").policy.precision == "int8"
    assert open_model(directory, "racer", precision="fp32").policy.precision == "fp32"
    metadata = load_metadata(directory / "model_metadata.json")
    listed = describe_bundle("racer", directory, metadata).reduced_precision
    assert listed.startswith("int8 accepted: ") and "of 10,000" not in listed
    assert "frames the same action" in listed
    refused = describe_bundle("hostile", prepared["flips"].directory, metadata)
    assert refused.reduced_precision.startswith("int8 refused: ")
