"""``vehicle model check``: output formats and refusals (main() turns those into exit 1)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from calibration.model import CalibrationError
from vehicle.cli import main as vehicle_main
from vehicle.cli.model import register
from vehicle.config import load_settings
from vehicle.core.actions import ROW_KEYS
from vehicle.core.metadata import ModelError
from vehicle.model.synthetic import build_policy

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


def main(argv: list[str]) -> int:
    """This subcommand as vehicle.cli.main dispatches it (global options first)."""
    parser = argparse.ArgumentParser(prog="vehicle")
    parser.add_argument("--data-dir", type=Path)
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args, load_settings(data_dir=args.data_dir))


def test_json_table_with_deepracer_calibration(bundle, data_dir, capsys):
    argv = ["--data-dir", str(data_dir), "model", "check", str(bundle), "--json"]
    argv += ["--calibration", str(DATA / "calibration.json"), "--throttle-limit", "50"]
    assert main(argv) == 0
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


def test_readable_table_uses_the_cars_calibration_by_default(bundle, data_dir, capsys):
    assert main(["--data-dir", str(data_dir), "model", "check", str(bundle)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "model sample: OK, discrete (15 actions), NHWC input, sensor observation"
    assert out[1].startswith("calibration: DeepRacer defaults")
    assert out[2].split() == list(ROW_KEYS)
    assert out[3].split() == ["0", "-30.0000", "0.6667", "-1.0000", "0.6000", "1200000", "1365000"]
    assert len(out) == 3 + 15


def test_archive_and_continuous_model(tmp_path, make_bundle, tar_bundle, data_dir, capsys):
    folder = make_bundle("cont", metadata=DATA / "continuous.model_metadata.json")
    archive = tar_bundle(tmp_path / "cont.tar.gz", folder, prefix="cont/")
    assert main(["--data-dir", str(data_dir), "model", "check", str(archive), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["steering_angle"] for r in rows] == [-25.0, 1.0, 27.0]
    assert rows[0]["index"] is None and rows[0]["outputs"] == [-1.0, -1.0]


def test_bad_model_is_refused_with_one_line(make_bundle, data_dir, capsys):
    bad = make_bundle("bad", model=build_policy(9))
    with pytest.raises(ModelError, match="9 outputs but the metadata describes 15") as info:
        main(["--data-dir", str(data_dir), "model", "check", str(bad)])
    assert "\n" not in str(info.value)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "extra, error, reason",
    [
        (["--throttle-limit", "150"], ValueError, "between 0 and 100"),
        (["--calibration", "/nonexistent/cal.json"], CalibrationError, "cannot read calibration"),
    ],
)
def test_bad_options_are_refused(bundle, data_dir, extra, error, reason):
    with pytest.raises(error, match=reason):
        main(["--data-dir", str(data_dir), "model", "check", str(bundle), *extra])


@pytest.mark.parametrize(
    "command",
    [
        ["model", "check"],
        ["drive", "--source", "synthetic", "--pwm", "mock", "--frames", "1", "--model"],
        ["sim", "--track", "reinvent_base", "--headless", "--model"],
    ],
    ids=["model check", "drive", "sim"],
)
def test_an_empty_folder_is_refused_by_name(tmp_path, data_dir, capsys, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert vehicle_main(["--data-dir", str(data_dir), *command, str(empty)]) == 1
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"vehicle: {empty}: the folder is empty; no folder holds both model.onnx and "
        "model_metadata.json"
    )


def test_usage_error_exits_2(data_dir):
    with pytest.raises(SystemExit) as info:
        main(["--data-dir", str(data_dir), "model", "check"])
    assert info.value.code == 2


def test_metadata_alone_prints_its_action_table(data_dir, capsys):
    path = DATA / "sample_single_cam.model_metadata.json"
    args = ["--data-dir", str(data_dir), "model", "check", str(path), "--throttle-limit", "40"]
    assert main([*args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 15 and rows[0]["throttle_ns"] == 1_413_600  # DeepRacer's 0.24 at 40 %
    assert main(args) == 0
    assert "OK (no model checked)" in capsys.readouterr().out.splitlines()[0]


def test_bad_metadata_alone_is_refused(tmp_path, data_dir):
    bad = tmp_path / "model_metadata.json"
    bad.write_text('{"action_space": [{"steering_angle": 0, "speed": 1}], "sensor": ["LIDAR"]}')
    with pytest.raises(ModelError, match="LIDAR"):
        main(["--data-dir", str(data_dir), "model", "check", str(bad)])
