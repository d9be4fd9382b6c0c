"""DeepRacer exports as racers have them: `vehicle model predict` agrees with TensorFlow.

Every kind racers upload (discrete PPO, continuous PPO, SAC; the shallow, standard and deep
topologies; the old ``observation`` and the newer ``FRONT_FACING_CAMERA`` input) is rebuilt
byte for byte from its committed skeleton, packed the way it is downloaded, and run through
the command a racer would use, with no TensorFlow installed. TensorFlow's own outputs on
the same frames were stored when the samples were made (models/samples/make_samples.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
FRAMES = DATA / "frames"
TOLERANCE = 1e-4

KINDS = [
    "ppo_discrete_shallow_observation",
    "ppo_discrete_standard_camera",
    "ppo_discrete_deep_camera",
    "ppo_continuous_shallow_camera",
    "sac_continuous_shallow_camera",
]


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """One car for the module: each export is prepared once, then found in its cache."""
    return tmp_path_factory.mktemp("car")


@pytest.fixture
def predict(data_dir: Path, model_cli, capsys):
    """``vehicle model predict MODEL IMAGE... --json`` on this module's car."""

    def run(model: Path, *images: Path) -> list[dict]:
        argv = ["--data-dir", str(data_dir), "model", "predict", str(model), *map(str, images)]
        assert model_cli([*argv, "--json"]) == 0
        return json.loads(capsys.readouterr().out)

    return run


# Weights stored in fp16 (IR as OpenVINO's converter writes it by default, TFLite as the
# community car converts) round each weight by about 1e-3: the outputs stay close, argmax holds.
FP16_TOLERANCE = 5e-3


def assert_agrees(
    records: list[dict], reference: dict[str, list[float]], atol: float = TOLERANCE
) -> None:
    assert [Path(r["image"]).name for r in records] == sorted(reference)
    for record in records:
        expected = np.array(reference[Path(record["image"]).name])
        got = np.array(record["outputs"])
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=atol)
        if record["action"]["index"] is not None:
            assert record["action"]["index"] == int(expected.argmax())


@pytest.mark.parametrize("kind", KINDS)
def test_physical_car_export_matches_tensorflow(kind, export_archive, tf_reference, predict):
    """The .tar.gz DeepRacer's console downloads: a top folder, agent/model.pb, leftovers."""
    archive = export_archive(kind)
    records = predict(archive, FRAMES)
    assert_agrees(records, tf_reference[kind])
    action = records[0]["action"]
    assert set(action) == {"index", "steering_angle", "speed", "steer_norm", "throttle_norm"}
    if "continuous" in kind:
        assert action["index"] is None
        assert -1.0 <= action["steer_norm"] <= 1.0 and 0.0 <= action["throttle_norm"] <= 1.0


def test_continuous_action_is_the_outputs_mapped_onto_the_ranges(export_archive, predict):
    kind = "sac_continuous_shallow_camera"
    (record, *_) = predict(export_archive(kind), FRAMES)
    steer, speed = np.clip(record["outputs"], -1.0, 1.0)
    # continuous.model_metadata.json: steering -25..27 deg, speed 1..3.3 m/s
    assert record["action"]["steering_angle"] == pytest.approx(-25 + (steer + 1) / 2 * 52)
    assert record["action"]["speed"] == pytest.approx(1 + (speed + 1) / 2 * 2.3)


def test_the_cars_artifacts_layout(write_export, tf_reference, predict):
    """One .pb at the root, named after the model, and checksum.txt."""
    folder = write_export("ppo_discrete_tiny_camera", "artifacts", archive=False)
    assert_agrees(predict(folder, FRAMES), tf_reference["ppo_discrete_tiny_camera"])


def test_a_loose_graph_with_its_metadata_one_folder_up(write_export, tf_reference, predict):
    folder = write_export("ppo_discrete_tiny_camera", archive=False)
    records = predict(folder / "agent" / "model.pb", FRAMES)
    assert_agrees(records, tf_reference["ppo_discrete_tiny_camera"])


def test_tflite_alone(tmp_path, tf_reference, predict):
    folder = tmp_path / "lite"
    shutil.copytree(DATA / "deepracer" / "tiny", folder)
    assert_agrees(predict(folder, FRAMES), tf_reference["ppo_discrete_tiny_camera"])


def test_tflite_with_fp16_weights(tmp_path, tf_reference, predict):
    """The community car's default: weights stored in fp16, dequantized at load."""
    folder = tmp_path / "lite16"
    shutil.copytree(DATA / "deepracer" / "tiny-fp16", folder)
    records = predict(folder, FRAMES)
    assert_agrees(records, tf_reference["ppo_discrete_tiny_camera"], FP16_TOLERANCE)


def _openvino_ir(graph: Path, target: Path, *, nchw: bool) -> Path:
    """IR as the stock car's model optimizer leaves it beside the graph (NCHW there)."""
    from vehicle.core.openvino_policy import import_runtime

    ov = import_runtime()
    model = ov.Core().read_model(str(graph))
    if nchw:
        steps = ov.preprocess.PrePostProcessor(model)
        steps.input().tensor().set_layout(ov.Layout("NCHW")).set_shape([1, 1, 120, 160])
        steps.input().model().set_layout(ov.Layout("NHWC"))
        model = steps.build()
    ov.save_model(model, str(target / "model.xml"))  # fp16 weights: the optimizer's default
    return target


@pytest.mark.parametrize("nchw", [False, True], ids=["NHWC", "NCHW"])
def test_openvino_ir_alone(write_export, tf_reference, nchw, predict):
    folder = write_export("ppo_discrete_tiny_camera", archive=False)
    _openvino_ir(folder / "agent" / "model.pb", folder, nchw=nchw)
    (folder / "agent" / "model.pb").unlink()
    records = predict(folder, FRAMES)
    assert_agrees(records, tf_reference["ppo_discrete_tiny_camera"], FP16_TOLERANCE)


def test_the_graph_wins_over_copies_beside_it(write_export, data_dir, tmp_path, capsys, model_cli):
    """IR and .tflite cached beside the .pb (as the stock and community cars leave them)
    are derived copies: the original graph is what gets prepared."""
    folder = write_export("ppo_discrete_tiny_camera", archive=False)
    _openvino_ir(folder / "agent" / "model.pb", folder, nchw=True)
    shutil.copy(DATA / "deepracer" / "tiny" / "model.tflite", folder / "model.tflite")
    argv = ["--data-dir", str(data_dir), "model", "check", str(folder)]
    assert model_cli(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("OK, discrete (10 actions), NHWC input, sensor FRONT_FACING_CAMERA")
    assert out[1].startswith("prepared: DeepRacer TensorFlow export -> openvino")


def test_the_simulator_drives_an_export(export_archive, data_dir, capsys):
    """``vehicle sim --model`` takes the export as downloaded (prepared on the way in)."""
    from vehicle.cli import main as vehicle

    argv = ["--data-dir", str(data_dir), "sim", "--track", "Oval_track", "--headless", "--json"]
    argv += ["--model", str(export_archive("ppo_discrete_tiny_camera")), "--max-time", "2"]
    assert vehicle(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["track"] and result["progress"] > 0  # it moved (random weights: not far)
