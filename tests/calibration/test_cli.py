"""``vehicle calibration show|import|export`` through the real ``vehicle`` entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vehicle.cli
from calibration import Calibration, CalibrationStore, ChannelCalibration
from calibration.store import to_native

DEEPRACER_FILE = Path(__file__).parents[1] / "data" / "calibration.json"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):  # type: ignore[no-untyped-def]
    """Run ``vehicle --data-dir DIR calibration ...``; returns (status, stdout, stderr)."""
    # Only this subcommand: the test should not depend on every other one importing cleanly.
    monkeypatch.setattr(vehicle.cli, "SUBCOMMANDS", ("calibration",))
    data_dir = tmp_path / "data"

    def run(*argv: str) -> tuple[int, str, str]:
        status = vehicle.cli.main(["--data-dir", str(data_dir), "calibration", *argv])
        out, err = capsys.readouterr()
        return status, out, err

    run.store = CalibrationStore(data_dir / "calibration.json")  # type: ignore[attr-defined]
    return run


def deepracer_file(tmp_path: Path, section: str, key: str, value: int) -> Path:
    """The real DeepRacer file with one value changed."""
    data = json.loads(DEEPRACER_FILE.read_text())
    data["Calibration"][section][key] = value
    path = tmp_path / f"{section}-{key}.json"
    path.write_text(json.dumps(data))
    return path


def test_show_prints_defaults_when_nothing_saved(cli) -> None:
    status, out, _ = cli("show")
    assert status == 0
    assert "defaults" in out
    assert "steering  min 1200000 ns (1.2000 ms)  mid 1450000 ns (1.4500 ms)" in out
    assert "max 1603500 ns (1.6035 ms)  polarity -1" in out
    assert not cli.store.exists()


def test_show_json_is_our_format(cli) -> None:
    status, out, _ = cli("show", "--json")
    assert status == 0
    assert json.loads(out) == to_native(Calibration())


def test_import_deepracer_file_makes_it_active(cli, tmp_path: Path) -> None:
    source = deepracer_file(tmp_path, "Servo", "mid", 1_470_000)
    status, out, _ = cli("import", str(source))
    assert status == 0
    assert f"imported {source}" in out
    assert cli.store.load().steering == ChannelCalibration(1_200_000, 1_470_000, 1_700_000, 1)
    status, out, _ = cli("show")
    assert f"calibration: {cli.store.path}" in out
    assert "mid 1470000 ns" in out


def test_rejected_import_exits_1_with_one_line_and_keeps_the_file(cli, tmp_path: Path) -> None:
    cli("import", str(DEEPRACER_FILE))
    before = cli.store.path.read_bytes()
    source = deepracer_file(tmp_path, "Motor", "min", 2_000_000)
    status, out, err = cli("import", str(source))
    assert status == 1
    assert out == ""
    assert err.count("\n") == 1
    assert str(source) in err
    assert "Calibration.Motor: pulses must satisfy min < mid < max" in err
    assert cli.store.path.read_bytes() == before


@pytest.mark.parametrize("content", [None, "not json", '{"steering": 1}'])
def test_unusable_import_file_exits_1(cli, tmp_path: Path, content: str | None) -> None:
    source = tmp_path / "in.json"
    if content is not None:
        source.write_text(content)
    status, _, err = cli("import", str(source))
    assert status == 1
    assert str(source) in err
    assert not cli.store.exists()


def test_export_deepracer_reproduces_the_real_file(cli, tmp_path: Path) -> None:
    cli("import", str(DEEPRACER_FILE))
    out_file = tmp_path / "exported.json"
    status, out, _ = cli("export", str(out_file), "--format", "deepracer")
    assert status == 0
    assert "deepracer format" in out
    assert json.loads(out_file.read_text()) == json.loads(DEEPRACER_FILE.read_text())


def test_export_defaults_to_our_format(cli, tmp_path: Path) -> None:
    out_file = tmp_path / "exported.json"
    status, out, _ = cli("export", str(out_file))
    assert status == 0
    assert "exported the defaults" in out
    assert json.loads(out_file.read_text()) == to_native(Calibration())


def test_corrupt_active_file_exits_1_naming_it(cli) -> None:
    cli.store.path.parent.mkdir(parents=True)
    cli.store.path.write_text("{")
    status, _, err = cli("show")
    assert status == 1
    assert str(cli.store.path) in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "argv", [(), ("export",), ("export", "x.json", "--format", "yaml"), ("import",), ("fix",)]
)
def test_usage_errors_exit_2(cli, argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as info:
        cli(*argv)
    assert info.value.code == 2
