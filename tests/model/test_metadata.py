"""DeepRacer's model_metadata.json: the real files parse, every malformed one is refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from vehicle.core.metadata import (
    ContinuousActionSpace,
    DiscreteActionSpace,
    ModelError,
    load_metadata,
    parse_metadata,
)

DATA = Path(__file__).resolve().parents[1] / "data"

# DeepRacer's stereo-camera sample (see /work/shared/reference/README.md).
STEREO = {
    "action_space": [
        {"steering_angle": a, "speed": v} for v in (0.6, 0.3) for a in (30, 15, 0, -15, -30)
    ],
    "sensor": ["STEREO_CAMERAS"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
}
GOOD = {"action_space": [{"steering_angle": 10, "speed": 1}, {"steering_angle": -10, "speed": 2}]}


def test_factory_sample_has_15_actions_and_the_implicit_front_camera():
    meta = load_metadata(DATA / "sample_single_cam.model_metadata.json")
    assert isinstance(meta.action_space, DiscreteActionSpace)
    assert meta.action_space.n_outputs == 15
    assert meta.sensors == ("observation",)
    first, last = meta.action_space.actions[0], meta.action_space.actions[-1]
    assert (first.index, first.steering_angle, first.speed) == (0, -30.0, 0.6666666666666666)
    assert (last.index, last.steering_angle, last.speed) == (14, 30.0, 2.0)


def test_racers_discrete_model_keeps_its_informational_keys():
    meta = load_metadata(DATA / "discrete_10.model_metadata.json")
    assert meta.action_space.n_outputs == 10
    assert meta.sensors == ("FRONT_FACING_CAMERA",)
    assert meta.training_algorithm == "clipped_ppo"
    assert meta.neural_network == "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW"
    assert meta.raw["regional_parameters"] == ["0", "0", "0", "0"]
    assert max(a.speed for a in meta.action_space.actions) == 4.0


def test_continuous_model_ranges():
    meta = load_metadata(DATA / "continuous.model_metadata.json")
    assert meta.action_space == ContinuousActionSpace(-25.0, 27.0, 1.0, 3.3)
    assert meta.action_space.n_outputs == 2


def test_stereo_sample_is_rejected_for_its_sensor():
    with pytest.raises(ModelError, match=r"STEREO_CAMERAS.*single front camera"):
        parse_metadata(STEREO)


def test_stereo_sample_action_space_without_index_uses_list_order():
    meta = parse_metadata({**STEREO, "sensor": ["FRONT_FACING_CAMERA"]})
    assert [a.index for a in meta.action_space.actions] == list(range(10))
    assert meta.action_space.actions[5].steering_angle == 30.0
    assert meta.action_space.actions[5].speed == 0.3


@pytest.mark.parametrize("sensor", ["LIDAR", "SECTOR_LIDAR"])
def test_lidar_models_are_rejected(sensor):
    with pytest.raises(ModelError, match=f"{sensor}.*single front camera"):
        parse_metadata({**GOOD, "sensor": ["FRONT_FACING_CAMERA", sensor]})


def test_action_type_defaults_to_discrete():
    assert parse_metadata(GOOD).action_space.type == "discrete"


def test_indices_in_any_order_are_sorted_into_a_table():
    meta = parse_metadata(
        {
            "action_space": [
                {"steering_angle": 1, "speed": 1, "index": 2},
                {"steering_angle": 2, "speed": 1, "index": 0},
                {"steering_angle": 3, "speed": 1, "index": 1},
            ]
        }
    )
    assert [(a.index, a.steering_angle) for a in meta.action_space.actions] == [
        (0, 2.0),
        (1, 3.0),
        (2, 1.0),
    ]


def _with(action_changes: dict | None = None, **top) -> dict:
    data = copy.deepcopy(GOOD)
    if action_changes is not None:
        data["action_space"][0].update(action_changes)
    data.update(top)
    return data


BAD = {
    "not an object": ([GOOD], "JSON object"),
    "no action space": ({"sensor": ["FRONT_FACING_CAMERA"]}, "no action_space"),
    "unknown type": (_with(action_space_type="hybrid"), "discrete or continuous"),
    "empty list": ({"action_space": []}, "non-empty list"),
    "dict for discrete": ({"action_space": {"steering_angle": {}}}, "non-empty list"),
    "action not object": ({"action_space": [5]}, r"action_space\[0\] must be an object"),
    "missing speed": ({"action_space": [{"steering_angle": 0}]}, r"action_space\[0\] has no speed"),
    "string angle": (_with({"steering_angle": "10"}), "steering_angle must be a finite number"),
    "bool speed": (_with({"speed": True}), "speed must be a finite number"),
    "nan angle": (_with({"steering_angle": float("nan")}), "finite number"),
    "inf speed": (_with({"speed": float("inf")}), "finite number"),
    "negative speed": (_with({"speed": -1}), "must not be negative"),
    "all stopped": (
        {"action_space": [{"steering_angle": 0, "speed": 0}]},
        "could never move",
    ),
    "float index": (_with({"index": 0.0}), "index must be a whole number"),
    "bool index": (_with({"index": False}), "index must be a whole number"),
    "index gap": (
        {
            "action_space": [
                {"steering_angle": 0, "speed": 1, "index": 0},
                {"steering_angle": 0, "speed": 1, "index": 2},
            ]
        },
        r"exactly 0\.\.1",
    ),
    "duplicate index": (
        {
            "action_space": [
                {"steering_angle": 0, "speed": 1, "index": 1},
                {"steering_angle": 0, "speed": 1, "index": 1},
            ]
        },
        "each once",
    ),
    "partial indices": (
        {
            "action_space": [
                {"steering_angle": 0, "speed": 1, "index": 1},
                {"steering_angle": 0, "speed": 1},
            ]
        },
        "each once",
    ),
    "continuous list": (
        {"action_space_type": "continuous", "action_space": GOOD["action_space"]},
        "must be an object",
    ),
    "continuous no speed": (
        {
            "action_space_type": "continuous",
            "action_space": {"steering_angle": {"low": -1, "high": 1}},
        },
        "speed must be an object with low and high",
    ),
    "continuous high equals low": (
        {
            "action_space_type": "continuous",
            "action_space": {
                "steering_angle": {"low": -30, "high": 30},
                "speed": {"low": 1, "high": 1},
            },
        },
        r"speed: high \(1\.0\) must be greater than low",
    ),
    "continuous inverted steering": (
        {
            "action_space_type": "continuous",
            "action_space": {
                "steering_angle": {"low": 30, "high": -30},
                "speed": {"low": 1, "high": 2},
            },
        },
        "steering_angle: high",
    ),
    "continuous reversing": (
        {
            "action_space_type": "continuous",
            "action_space": {
                "steering_angle": {"low": -30, "high": 30},
                "speed": {"low": -1, "high": 2},
            },
        },
        "must not be negative",
    ),
    "sensor not list": (_with(sensor="FRONT_FACING_CAMERA"), "sensor must be a non-empty list"),
    "sensor empty": (_with(sensor=[]), "sensor must be a non-empty list"),
    "sensor unknown": (_with(sensor=["THERMAL"]), "unknown sensor THERMAL"),
}


@pytest.mark.parametrize("data, reason", BAD.values(), ids=BAD.keys())
def test_bad_metadata_is_refused_with_a_reason(data, reason):
    with pytest.raises(ModelError, match=reason):
        parse_metadata(data)


def test_unreadable_and_non_json_files(tmp_path):
    with pytest.raises(ModelError, match="cannot read"):
        load_metadata(tmp_path / "missing.json")
    bad = tmp_path / "model_metadata.json"
    bad.write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_metadata(bad)
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ModelError, match="cannot read"):
        load_metadata(bad)


def test_raw_is_a_copy_of_the_input():
    data = json.loads(json.dumps(GOOD))
    meta = parse_metadata(data)
    data["extra"] = 1
    assert "extra" not in meta.raw
