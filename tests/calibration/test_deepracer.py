"""DeepRacer's calibration.json: lossless round trip and every way a file can be wrong."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from calibration import Calibration, CalibrationError, ChannelCalibration
from calibration.deepracer import from_deepracer, is_deepracer, to_deepracer

REAL_FILE = Path(__file__).parents[1] / "data" / "calibration.json"


@pytest.fixture
def real() -> dict:
    return json.loads(REAL_FILE.read_text())


def test_real_file_round_trips_to_identical_json(real: dict) -> None:
    assert to_deepracer(from_deepracer(real)) == real


def test_servo_is_steering_and_motor_is_throttle(real: dict) -> None:
    cal = from_deepracer(real)
    assert cal.steering == ChannelCalibration(1_200_000, 1_450_000, 1_700_000, 1)
    assert cal.throttle == ChannelCalibration(1_311_000, 1_446_000, 1_603_500, -1)


def test_export_of_our_values_reads_back_equal() -> None:
    cal = Calibration(
        steering=ChannelCalibration(1_000_000, 1_500_000, 2_000_000, -1),
        throttle=ChannelCalibration(1_100_000, 1_400_000, 1_900_000, 1),
    )
    exported = to_deepracer(cal)
    assert exported == {
        "Calibration": {
            "Servo": {"min": 1_000_000, "mid": 1_500_000, "max": 2_000_000, "polarity": -1},
            "Motor": {"min": 1_100_000, "mid": 1_400_000, "max": 1_900_000, "polarity": 1},
            "version": 1,
        }
    }
    assert from_deepracer(json.loads(json.dumps(exported))) == cal


def test_file_from_before_the_version_key_is_accepted(real: dict) -> None:
    del real["Calibration"]["version"]
    assert from_deepracer(real) == Calibration()


def test_detection_by_header_key(real: dict) -> None:
    assert is_deepracer(real)
    assert not is_deepracer({"steering": {}})
    assert not is_deepracer([1, 2])


def _broken(real: dict, section: str, key: str, value: object) -> dict:
    data = copy.deepcopy(real)
    data["Calibration"][section][key] = value
    return data


@pytest.mark.parametrize(
    ("section", "key", "value", "message"),
    [
        ("Servo", "min", 1_450_000, "min < mid < max"),
        ("Servo", "max", 1_450_000, "min < mid < max"),
        ("Motor", "mid", 1_700_000, "min < mid < max"),
        ("Servo", "min", 400_000, "between 500000 and 2500000"),
        ("Motor", "max", 2_600_000, "between 500000 and 2500000"),
        ("Servo", "polarity", 0, "polarity must be 1 or -1"),
        ("Motor", "polarity", 2, "polarity must be 1 or -1"),
        ("Servo", "polarity", 1.0, "Calibration.Servo.polarity must be a whole number"),
        ("Servo", "mid", 1_450_000.0, "Calibration.Servo.mid must be a whole number"),
        ("Motor", "mid", "1446000", "Calibration.Motor.mid must be a whole number"),
        ("Motor", "min", True, "Calibration.Motor.min must be a whole number"),
        ("Motor", "min", None, "Calibration.Motor.min must be a whole number"),
    ],
)
def test_invalid_values_are_rejected_with_the_field_named(
    real: dict, section: str, key: str, value: object, message: str
) -> None:
    with pytest.raises(CalibrationError, match=message) as info:
        from_deepracer(_broken(real, section, key, value))
    assert f"Calibration.{section}" in str(info.value)


@pytest.mark.parametrize("key", ["min", "mid", "max", "polarity"])
def test_missing_channel_key_is_named(real: dict, key: str) -> None:
    del real["Calibration"]["Motor"][key]
    with pytest.raises(CalibrationError, match=f"Calibration.Motor is missing {key}"):
        from_deepracer(real)


@pytest.mark.parametrize("section", ["Servo", "Motor"])
def test_missing_section_is_named(real: dict, section: str) -> None:
    del real["Calibration"][section]
    with pytest.raises(CalibrationError, match=f"missing {section}"):
        from_deepracer(real)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "missing Calibration"),
        ([], "must be a JSON object"),
        ({"Calibration": []}, "Calibration must be a JSON object"),
        ({"Calibration": {"Servo": 3, "Motor": {}}}, "Calibration.Servo must be a JSON object"),
    ],
)
def test_wrong_shapes_are_rejected(data: object, message: str) -> None:
    with pytest.raises(CalibrationError, match=message):
        from_deepracer(data)


@pytest.mark.parametrize("version", [2, "1", True, None])
def test_unknown_version_is_rejected(real: dict, version: object) -> None:
    real["Calibration"]["version"] = version
    with pytest.raises(CalibrationError, match="version"):
        from_deepracer(real)


def test_unknown_keys_are_rejected_not_ignored(real: dict) -> None:
    real["Calibration"]["Servo"]["centre"] = 1_450_000
    with pytest.raises(CalibrationError, match="unknown key"):
        from_deepracer(real)
