"""Choosing the engine at install: every candidate is the original network, the stamp says
what was measured, and a pinned engine is honoured where it can run the model."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from vehicle.config import ModelSettings
from vehicle.core.policy import open_prepared
from vehicle.core.preprocess import Preprocessor
from vehicle.model.prepare import prepare

DATA = Path(__file__).resolve().parents[1] / "data"
TINY = "ppo_discrete_tiny_camera"


def _frames() -> list[np.ndarray]:
    return [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in sorted((DATA / "frames").glob("*.png"))]


def _matches_tensorflow(directory: Path, reference: dict[str, list[float]]) -> None:
    _, policy = open_prepared(directory)
    pre = Preprocessor(policy.layout)
    for frame, name in zip(_frames(), sorted(reference), strict=True):
        np.testing.assert_allclose(policy.run(pre(frame)), reference[name], atol=1e-4)


@pytest.mark.parametrize("engine", ["litert", "openvino", "onnxruntime"])
def test_a_tflite_upload_runs_on_each_engine(tmp_path, tf_reference, engine):
    folder = Path(shutil.copytree(DATA / "deepracer" / "tiny", tmp_path / "lite"))
    limits = replace(ModelSettings(), engine=engine)
    prepared = prepare(folder, tmp_path / "cache", limits=limits)
    stamp = prepared.stamp
    assert stamp.engine == engine and set(stamp.timings_ms) == {f"{engine} fp32"}
    expected_file = {"litert": "model.tflite", "openvino": "model.xml", "onnxruntime": "model.onnx"}
    assert stamp.model_file == expected_file[engine]
    others = set(expected_file.values()) - {stamp.model_file} | {"model.bin"} - set(stamp.files)
    assert not [name for name in others if (prepared.directory / name).exists()]
    _matches_tensorflow(prepared.directory, tf_reference[TINY])


def test_measured_choice_is_the_fastest_candidate(tmp_path, write_export, tf_reference):
    prepared = prepare(write_export(TINY, archive=False), tmp_path / "cache")
    timings = prepared.stamp.timings_ms
    assert set(timings) == {"openvino fp32", "onnxruntime fp32"}
    assert timings[f"{prepared.stamp.engine} fp32"] == min(timings.values())
    _matches_tensorflow(prepared.directory, tf_reference[TINY])


def test_an_engine_that_cannot_run_the_model_is_noted_and_the_others_measured(
    tmp_path, write_export
):
    limits = replace(ModelSettings(), engine="litert")  # LiteRT reads only .tflite files
    prepared = prepare(write_export(TINY, archive=False), tmp_path / "cache", limits=limits)
    assert prepared.stamp.engine in ("openvino", "onnxruntime")
    assert "litert cannot run this model: measured the others" in prepared.stamp.notes


@pytest.mark.parametrize("kind", ["export", "onnx"])
def test_when_no_optimised_form_matches_the_original_runs_as_uploaded(
    tmp_path, write_export, monkeypatch, kind
):
    from vehicle.model import agreement
    from vehicle.model.synthetic import build_policy

    def never(reference, candidate, *, discrete):
        return agreement.Agreement(len(reference), 0, None, 1.0, False, "made to differ")

    monkeypatch.setattr(agreement, "judge_equivalent", never)
    if kind == "export":
        source, engine, files = write_export(TINY, archive=False), "openvino", {"model.xml"}
    else:
        source = tmp_path / "bundle"
        source.mkdir()
        (source / "model.onnx").write_bytes(build_policy(15).SerializeToString())
        shutil.copy(DATA / "sample_single_cam.model_metadata.json", source)
        (source / "sample_single_cam.model_metadata.json").rename(source / "model_metadata.json")
        engine, files = "onnxruntime", {"model.onnx"}
    prepared = prepare(source, tmp_path / "cache")
    stamp = prepared.stamp
    assert stamp.engine == engine and {stamp.model_file} == files
    assert "no optimised form kept: the network runs as uploaded" in stamp.notes
    assert any("dropped: made to differ" in note for note in stamp.notes)
    assert open_prepared(prepared.directory)[1].engine == engine
