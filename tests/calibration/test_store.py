"""Our calibration file: format, defaults, corrupt files, atomic replacement."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from calibration import (
    Calibration,
    CalibrationError,
    CalibrationStore,
    ChannelCalibration,
    SpeedTable,
    load_calibration_file,
    to_format,
    write_calibration_file,
)
from calibration.deepracer import to_deepracer
from calibration.store import from_native, to_native

DEEPRACER_FILE = Path(__file__).parents[1] / "data" / "calibration.json"

CUSTOM = Calibration(
    steering=ChannelCalibration(1_100_000, 1_480_000, 1_850_000, -1),
    throttle=ChannelCalibration(1_300_000, 1_450_000, 1_650_000, 1),
    speed_table=SpeedTable(((0.2, 0.4), (0.5, 1.3), (1.0, 3.1))),
)


def native(**changes: object) -> dict:
    data = to_native(CUSTOM)
    data.update(changes)
    return data


def test_native_format_is_exactly_documented_shape() -> None:
    assert to_native(CUSTOM) == {
        "version": 1,
        "steering": {"min_ns": 1_100_000, "mid_ns": 1_480_000, "max_ns": 1_850_000, "polarity": -1},
        "throttle": {"min_ns": 1_300_000, "mid_ns": 1_450_000, "max_ns": 1_650_000, "polarity": 1},
        "speed_table": [[0.2, 0.4], [0.5, 1.3], [1.0, 3.1]],
    }
    assert "speed_table" not in to_native(Calibration())


def test_missing_file_loads_deepracer_defaults(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "calibration.json")
    assert store.load() == Calibration()
    assert not store.exists()


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "sub" / "calibration.json")
    store.save(CUSTOM)
    assert store.load() == CUSTOM
    assert json.loads(store.path.read_text()) == to_native(CUSTOM)


def test_store_reads_a_deepracer_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.write_bytes(DEEPRACER_FILE.read_bytes())
    assert CalibrationStore(path).load() == Calibration()


@pytest.mark.parametrize(
    "content",
    [b"", b"{not json", b"\xff\xfe\x00", b"[]", b'{"version": 1}', b'"text"'],
)
def test_corrupt_file_raises_naming_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "calibration.json"
    path.write_bytes(content)
    with pytest.raises(CalibrationError, match=str(path)):
        CalibrationStore(path).load()


def test_unreadable_path_raises_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    path.mkdir()
    with pytest.raises(CalibrationError, match=f"cannot read calibration {path}"):
        load_calibration_file(path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (native(version=2), "version 2 is not supported"),
        (native(version=True), "version True is not supported"),
        (native(extra=1), "unknown key"),
        (native(steering={"min": 1, "mid": 2, "max": 3, "polarity": 1}), "steering is missing"),
        (native(throttle=[1]), "throttle must be a JSON object"),
        (native(speed_table={"0.5": 1.0}), "speed_table must be a list"),
        (native(speed_table=[[0.5, 1.0, 2.0], [1.0, 2.0]]), r"speed_table\[0\]"),
        (native(speed_table=[[0.5, "1"], [1.0, 2.0]]), r"speed_table\[0\]"),
        (native(speed_table=[[0.5, 1.0], [True, 2.0]]), r"speed_table\[1\]"),
        (native(speed_table=[[0.5, 1.0], [1.0, float("nan")]]), r"speed_table\[1\]"),
        (native(speed_table=[[0.5, 2.0], [1.0, 1.0]]), "strictly increasing"),
        (native(speed_table=[[0.5, 2.0]]), "at least two points"),
        (native(speed_table=[[0.5, 1.0], [1.5, 2.0]]), r"within \[-1, 1\]"),
    ],
)
def test_invalid_native_content_is_rejected(data: dict, message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        from_native(data)


def test_missing_version_is_rejected() -> None:
    data = native()
    del data["version"]
    with pytest.raises(CalibrationError, match="missing version"):
        from_native(data)


def test_channel_errors_name_the_channel() -> None:
    bad = native()
    bad["throttle"]["mid_ns"] = bad["throttle"]["max_ns"]
    with pytest.raises(CalibrationError, match="throttle: pulses must satisfy min < mid < max"):
        from_native(bad)


def test_import_deepracer_file_saves_our_format(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "calibration.json")
    assert store.import_file(DEEPRACER_FILE) == Calibration()
    assert json.loads(store.path.read_text()) == to_native(Calibration())


def test_rejected_import_leaves_file_intact(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "calibration.json")
    store.save(CUSTOM)
    before = store.path.read_bytes()
    bad = tmp_path / "bad.json"
    data = json.loads(DEEPRACER_FILE.read_text())
    data["Calibration"]["Servo"]["polarity"] = 0
    bad.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match=f"{bad}: Calibration.Servo: polarity"):
        store.import_file(bad)
    assert store.path.read_bytes() == before
    with pytest.raises(CalibrationError, match="cannot read"):
        store.import_file(tmp_path / "absent.json")
    assert store.path.read_bytes() == before


def test_failed_write_leaves_file_intact_and_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CalibrationStore(tmp_path / "calibration.json")
    store.save(CUSTOM)
    before = store.path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(CalibrationError, match="No space left on device"):
        store.save(Calibration())
    monkeypatch.undo()
    assert store.path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibration.json"]


def test_saving_something_else_is_rejected_and_file_intact(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "calibration.json")
    store.save(CUSTOM)
    before = store.path.read_bytes()
    with pytest.raises(CalibrationError, match="expected a Calibration, got dict"):
        store.save(to_native(Calibration()))  # type: ignore[arg-type]
    assert store.path.read_bytes() == before


def test_export_deepracer_matches_the_real_file(tmp_path: Path) -> None:
    store = CalibrationStore(tmp_path / "calibration.json")
    store.import_file(DEEPRACER_FILE)
    out = tmp_path / "out.json"
    store.export(out, "deepracer")
    assert json.loads(out.read_text()) == json.loads(DEEPRACER_FILE.read_text())


def test_export_native_then_import_is_lossless(tmp_path: Path) -> None:
    first = CalibrationStore(tmp_path / "a.json")
    first.save(CUSTOM)
    first.export(tmp_path / "exported.json")
    second = CalibrationStore(tmp_path / "b.json")
    assert second.import_file(tmp_path / "exported.json") == CUSTOM


def test_export_deepracer_drops_only_the_speed_table(tmp_path: Path) -> None:
    write_calibration_file(CUSTOM, tmp_path / "dr.json", "deepracer")
    back = load_calibration_file(tmp_path / "dr.json")
    assert back.steering == CUSTOM.steering
    assert back.throttle == CUSTOM.throttle
    assert back.speed_table is None


def test_unknown_export_format_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="unknown calibration format 'yaml'"):
        write_calibration_file(CUSTOM, tmp_path / "x.json", "yaml")  # type: ignore[arg-type]
    assert not (tmp_path / "x.json").exists()


def test_to_format_picks_the_encoding() -> None:
    assert to_format(CUSTOM, "native") == to_native(CUSTOM)
    assert to_format(CUSTOM, "deepracer") == to_deepracer(CUSTOM)
    with pytest.raises(CalibrationError, match="unknown calibration format"):
        to_format(CUSTOM, "DeepRacer")  # type: ignore[arg-type]
