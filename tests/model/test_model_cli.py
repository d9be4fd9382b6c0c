"""``vehicle model check|predict``: output formats and refusals (main() turns those into
exit 1). Agreement with TensorFlow on DeepRacer's exports is in test_exports.py."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from calibration.model import CalibrationError
from vehicle.cli import main as vehicle_main
from vehicle.core.actions import ROW_KEYS
from vehicle.core.metadata import ModelError
from vehicle.model.synthetic import build_policy

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """One car for the module: a bundle prepared once is found in its cache afterwards."""
    return tmp_path_factory.mktemp("car") / "data"


def test_json_table_with_deepracer_calibration(bundle, data_dir, capsys, model_cli):
    argv = ["--data-dir", str(data_dir), "model", "check", str(bundle), "--json"]
    argv += ["--calibration", str(DATA / "calibration.json"), "--throttle-limit", "50"]
    assert model_cli(argv) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 15
    assert rows[0] == {
        "index": 0,
        "steering_angle": -30.0,
        "speed": pytest.approx(2 / 3),
        "steer_norm": -1.0,
        "throttle_norm": pytest.approx(0.3),
        "steer_ns": 1_200_000,
        "throttle_ns": 1_405_500,
    }


def test_readable_table_uses_the_cars_calibration_by_default(bundle, tmp_path, capsys, model_cli):
    data_dir = tmp_path / "fresh-car"
    assert model_cli(["--data-dir", str(data_dir), "model", "check", str(bundle)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "model sample: OK, discrete (15 actions), NHWC input, sensor observation"
    assert out[1].startswith("prepared: ONNX -> onnxruntime (sha256 ")
    assert out[1].endswith(", prepared now)")
    assert out[2].startswith("calibration: DeepRacer defaults")
    assert out[3].split() == list(ROW_KEYS)
    assert out[4].split() == ["0", "-30.0000", "0.6667", "-1.0000", "0.6000", "1200000", "1365000"]
    assert len(out) == 4 + 15
    assert model_cli(["--data-dir", str(data_dir), "model", "check", str(bundle)]) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith(", cached)")


def test_archive_and_continuous_model(
    tmp_path, make_bundle, tar_bundle, data_dir, capsys, model_cli
):
    folder = make_bundle("cont", metadata=DATA / "continuous.model_metadata.json")
    archive = tar_bundle(tmp_path / "cont.tar.gz", folder, prefix="cont/")
    assert model_cli(["--data-dir", str(data_dir), "model", "check", str(archive), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["steering_angle"] for r in rows] == [-25.0, 1.0, 27.0]
    assert rows[0]["index"] is None and rows[0]["outputs"] == [-1.0, -1.0]


def test_bad_model_is_refused_with_one_line(make_bundle, data_dir, capsys, model_cli):
    bad = make_bundle("bad", model=build_policy(9))
    with pytest.raises(ModelError, match="9 outputs but the metadata describes 15") as info:
        model_cli(["--data-dir", str(data_dir), "model", "check", str(bad)])
    assert "\n" not in str(info.value)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "extra, error, reason",
    [
        (["--throttle-limit", "150"], ValueError, "between 0 and 100"),
        (["--calibration", "/nonexistent/cal.json"], CalibrationError, "cannot read calibration"),
    ],
)
def test_bad_options_are_refused(bundle, data_dir, extra, error, reason, model_cli):
    with pytest.raises(error, match=reason):
        model_cli(["--data-dir", str(data_dir), "model", "check", str(bundle), *extra])


@pytest.mark.parametrize(
    "command",
    [
        ["model", "check"],
        ["model", "predict"],
        ["drive", "--source", "synthetic", "--pwm", "mock", "--frames", "1", "--model"],
        ["sim", "--track", "reinvent_base", "--headless", "--model"],
    ],
    ids=["model check", "model predict", "drive", "sim"],
)
def test_an_empty_folder_is_refused_by_name(tmp_path, data_dir, capsys, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    pictures = [str(DATA / "frames")] if command[-1] == "predict" else []
    assert vehicle_main(["--data-dir", str(data_dir), *command, str(empty), *pictures]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"vehicle: {empty}: the folder is empty; no model_metadata.json found; expected it "
        "beside model.onnx, a DeepRacer export (agent/model.pb or one .pb), model.tflite, or "
        "model.xml + model.bin"
    )


def test_usage_error_exits_2(data_dir, model_cli):
    with pytest.raises(SystemExit) as info:
        model_cli(["--data-dir", str(data_dir), "model", "check"])
    assert info.value.code == 2


def test_metadata_alone_prints_its_action_table(data_dir, capsys, model_cli):
    path = DATA / "sample_single_cam.model_metadata.json"
    args = ["--data-dir", str(data_dir), "model", "check", str(path), "--throttle-limit", "40"]
    assert model_cli([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 15 and rows[0]["throttle_ns"] == 1_413_600  # DeepRacer's 0.24 at 40 %
    assert model_cli(args) == 0
    assert "OK (no model checked)" in capsys.readouterr().out.splitlines()[0]


def test_bad_metadata_alone_is_refused(tmp_path, data_dir, model_cli):
    bad = tmp_path / "model_metadata.json"
    bad.write_text('{"action_space": [{"steering_angle": 0, "speed": 1}], "sensor": ["LIDAR"]}')
    with pytest.raises(ModelError, match="LIDAR"):
        model_cli(["--data-dir", str(data_dir), "model", "check", str(bad)])


# -- predict ------------------------------------------------------------------------------

FRAMES = DATA / "frames"


def test_predict_json_for_a_folder_in_file_name_order(bundle, data_dir, capsys, model_cli):
    argv = ["--data-dir", str(data_dir), "model", "predict", str(bundle), str(FRAMES), "--json"]
    assert model_cli(argv) == 0
    records = json.loads(capsys.readouterr().out)
    assert [Path(r["image"]).name for r in records] == sorted(p.name for p in FRAMES.iterdir())
    for record in records:
        assert set(record) == {"image", "outputs", "action"}
        assert len(record["outputs"]) == 15
        action = record["action"]
        assert action["index"] == int(np.argmax(record["outputs"]))
        assert set(action) == {"index", "steering_angle", "speed", "steer_norm", "throttle_norm"}


def test_predict_matches_the_check_table_and_the_policy(bundle, data_dir, capsys, model_cli):
    """The same preprocessing, session and table as the drive loop."""
    from vehicle.model.bundle import load_bundle

    image = FRAMES / "03_reinvent_right_320x240.png"
    argv = ["--data-dir", str(data_dir), "model", "predict", str(bundle), str(image), "--json"]
    assert model_cli(argv) == 0
    (record,) = json.loads(capsys.readouterr().out)
    loaded = load_bundle(bundle)
    expected = loaded.policy.run(loaded.preprocessor(cv2.imread(str(image))))
    np.testing.assert_allclose(record["outputs"], expected, rtol=0, atol=1e-6)
    assert model_cli(["--data-dir", str(data_dir), "model", "check", str(bundle), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[record["action"]["index"]]
    assert {k: row[k] for k in record["action"]} == record["action"]


def test_predict_text_output_and_several_images(bundle, data_dir, capsys, model_cli):
    images = [FRAMES / "02_reinvent_left.png", FRAMES / "01_oval_centre.png"]
    argv = ["--data-dir", str(data_dir), "model", "predict", str(bundle), *map(str, images)]
    assert model_cli(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [str(p) for p in images]  # as given
    assert all(" deg, " in line and "; outputs " in line for line in lines)


def test_predict_continuous_has_no_index(make_bundle, data_dir, capsys, model_cli):
    folder = make_bundle("cont", metadata=DATA / "continuous.model_metadata.json")
    argv = ["--data-dir", str(data_dir), "model", "predict", str(folder), str(FRAMES), "--json"]
    assert model_cli(argv) == 0
    records = json.loads(capsys.readouterr().out)
    assert all(r["action"]["index"] is None and len(r["outputs"]) == 2 for r in records)


def _not_a_picture(folder: Path) -> Path:
    (folder / "x.png").write_text("not a picture")
    return folder / "x.png"


def _empty_folder(folder: Path) -> Path:
    (folder / "empty").mkdir()
    return folder / "empty"


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda d: d / "missing.png", "no such picture or folder"),
        (_empty_folder, "no pictures in"),
        (_not_a_picture, r"cannot read .*x\.png as a picture"),
    ],
    ids=["missing", "empty folder", "not a picture"],
)
def test_predict_refuses_bad_images(tmp_path, bundle, data_dir, make, reason, capsys, model_cli):
    with pytest.raises(ValueError, match=reason):
        model_cli(
            ["--data-dir", str(data_dir), "model", "predict", str(bundle), str(make(tmp_path))]
        )
    assert capsys.readouterr().out == ""


def test_predict_refuses_a_bad_model_before_reading_images(make_bundle, data_dir, model_cli):
    bad = make_bundle("bad", model=build_policy(9))
    with pytest.raises(ModelError, match="9 outputs"):
        model_cli(["--data-dir", str(data_dir), "model", "predict", str(bad), str(FRAMES)])
