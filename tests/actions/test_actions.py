"""The action table: DeepRacer's mapping from actions to normalised commands and pulses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from calibration.model import Calibration, SpeedTable
from calibration.store import load_calibration_file
from vehicle.core.actions import (
    ROW_KEYS,
    Action,
    ActionError,
    ActionTable,
    ContinuousActionTable,
    DiscreteActionTable,
    speed_to_throttle,
)
from vehicle.core.metadata import (
    ContinuousActionSpace,
    DiscreteAction,
    DiscreteActionSpace,
    load_metadata,
)

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def car() -> Calibration:
    """A stock DeepRacer's calibration file (throttle polarity -1)."""
    return load_calibration_file(DATA / "calibration.json")


@pytest.fixture(scope="module")
def sample_space() -> DiscreteActionSpace:
    return load_metadata(DATA / "sample_single_cam.model_metadata.json").action_space


def _space(*pairs: tuple[float, float]) -> DiscreteActionSpace:
    return DiscreteActionSpace(tuple(DiscreteAction(i, s, v) for i, (s, v) in enumerate(pairs)))


def test_deepracer_worked_example():
    """vmax 0.8 m/s, maximum speed 40 %: an action at 0.4 m/s gets throttle 0.32."""
    table = ActionTable.build(_space((0, 0.4), (0, 0.8)), Calibration(), 0.4)
    assert table.actions[0].throttle_norm == pytest.approx(0.32)
    assert table.actions[1].throttle_norm == pytest.approx(0.4)


def test_curve_passes_through_its_defining_points():
    throttle = speed_to_throttle(np.array([0.0, 1.0, 2.0]), 2.0, 1.0, None)
    np.testing.assert_allclose(throttle, [0.0, 0.8, 1.0])


# index, steering_angle, speed, steer_norm, throttle_norm, steer_ns, throttle_ns with the
# stock car's calibration at 100 %: throttle pulses fall below mid because polarity is -1.
SAMPLE_AT_100 = [
    (0, -30, 2 / 3, -1.0, 0.6, 1_200_000, 1_365_000),
    (1, -30, 4 / 3, -1.0, 14 / 15, 1_200_000, 1_320_000),
    (2, -30, 2, -1.0, 1.0, 1_200_000, 1_311_000),
    (3, -15, 2 / 3, -0.5, 0.6, 1_325_000, 1_365_000),
    (4, -15, 4 / 3, -0.5, 14 / 15, 1_325_000, 1_320_000),
    (5, -15, 2, -0.5, 1.0, 1_325_000, 1_311_000),
    (6, 0, 2 / 3, 0.0, 0.6, 1_450_000, 1_365_000),
    (7, 0, 4 / 3, 0.0, 14 / 15, 1_450_000, 1_320_000),
    (8, 0, 2, 0.0, 1.0, 1_450_000, 1_311_000),
    (9, 15, 2 / 3, 0.5, 0.6, 1_575_000, 1_365_000),
    (10, 15, 4 / 3, 0.5, 14 / 15, 1_575_000, 1_320_000),
    (11, 15, 2, 0.5, 1.0, 1_575_000, 1_311_000),
    (12, 30, 2 / 3, 1.0, 0.6, 1_700_000, 1_365_000),
    (13, 30, 4 / 3, 1.0, 14 / 15, 1_700_000, 1_320_000),
    (14, 30, 2, 1.0, 1.0, 1_700_000, 1_311_000),
]
KEYS = (
    "index",
    "steering_angle",
    "speed",
    "steer_norm",
    "throttle_norm",
    "steer_ns",
    "throttle_ns",
)


def test_factory_sample_table_with_the_stock_calibration(sample_space, car):
    rows = ActionTable.build(sample_space, car, 1.0).rows()
    assert len(rows) == 15
    assert ROW_KEYS == KEYS
    for row, expected in zip(rows, SAMPLE_AT_100, strict=True):
        assert list(row) == list(KEYS)
        for key, value in zip(KEYS, expected, strict=True):
            if key.endswith("_ns") or key == "index":
                assert row[key] == value and isinstance(row[key], int), key
            else:
                assert row[key] == pytest.approx(value, abs=1e-12), key


def test_factory_sample_at_half_throttle(sample_space, car):
    rows = ActionTable.build(sample_space, car, 0.5).rows()
    assert [r["throttle_ns"] for r in rows[:3]] == [1_405_500, 1_383_000, 1_378_500]
    assert [r["steer_ns"] for r in rows[:3]] == [1_200_000] * 3  # the limit is throttle only


def test_decide_is_argmax_and_lookup(sample_space, car):
    table = ActionTable.build(sample_space, car, 1.0)
    outputs = np.full(15, 0.01, np.float32)
    outputs[13] = 0.9
    action = table.decide(outputs)
    assert action == Action(13, 1.0, pytest.approx(14 / 15))
    assert action is table.actions[13]  # precomputed, not built per step


@pytest.mark.parametrize(
    "outputs, reason",
    [
        (np.full(15, np.nan, np.float32), "non-finite"),
        (np.array([np.inf] + [0.0] * 14, np.float32), "non-finite"),
        (np.zeros(14, np.float32), r"expected 15 model outputs, got shape \(14,\)"),
        (np.zeros((1, 15), np.float32), "expected 15"),
    ],
)
def test_decide_refuses_outputs_it_cannot_trust(sample_space, car, outputs, reason):
    with pytest.raises(ActionError, match=reason):
        ActionTable.build(sample_space, car, 1.0).decide(outputs)


@pytest.mark.parametrize("limit", [-0.1, 1.01, float("nan"), True, "0.5", None])
def test_throttle_limit_must_be_a_fraction(sample_space, car, limit):
    with pytest.raises(ActionError, match="throttle limit"):
        ActionTable.build(sample_space, car, limit)


def test_zero_limit_means_neutral_throttle(sample_space, car):
    table = ActionTable.build(sample_space, car, 0)
    assert {a.throttle_norm for a in table.actions} == {0.0}
    assert {r["throttle_ns"] for r in table.rows()} == {car.throttle.mid_ns}


def test_all_straight_actions_steer_straight():
    table = ActionTable.build(_space((0, 1), (0, 2)), Calibration(), 1.0)
    assert [a.steer_norm for a in table.actions] == [0.0, 0.0]


def test_speed_table_replaces_the_curve(sample_space, car):
    table_cal = Calibration(
        car.steering, car.throttle, SpeedTable(((0.2, 0.5), (0.6, 1.5), (1.0, 2.5)))
    )
    table = ActionTable.build(sample_space, table_cal, 0.5)
    assert table.actions[0].throttle_norm == pytest.approx(0.5 * (0.2 + (2 / 3 - 0.5) * 0.4))
    assert table.actions[2].throttle_norm == pytest.approx(0.5 * 0.8)  # 2 m/s -> 0.8


CONTINUOUS = ContinuousActionSpace(-25.0, 27.0, 1.0, 3.3)


def test_continuous_outputs_map_onto_the_ranges(car):
    table = ActionTable.build(CONTINUOUS, car, 1.0)
    assert isinstance(table, ContinuousActionTable)
    low = table.decide(np.array([-1.0, -1.0], np.float32))
    assert low.index is None
    assert low.steer_norm == pytest.approx(-25 / 27)
    slow = -1.2 / 3.3**2 * 1.0**2 + 2.2 / 3.3 * 1.0
    assert low.throttle_norm == pytest.approx(slow)
    high = table.decide(np.array([1.0, 1.0], np.float32))
    assert (high.steer_norm, high.throttle_norm) == (pytest.approx(1.0), pytest.approx(1.0))
    mid = table.decide(np.array([0.0, 0.0], np.float32))
    assert mid.steer_norm == pytest.approx(1 / 27)  # centre of -25..27 is +1 degree


def test_continuous_outputs_are_clipped(car):
    table = ActionTable.build(CONTINUOUS, car, 0.5)
    clipped = table.decide(np.array([5.0, -7.0], np.float32))
    edge = table.decide(np.array([1.0, -1.0], np.float32))
    assert clipped == edge


def test_continuous_rows_show_the_ranges(car):
    rows = ActionTable.build(CONTINUOUS, car, 1.0).rows()
    assert [r["outputs"] for r in rows] == [[-1.0, -1.0], [0.0, 0.0], [1.0, 1.0]]
    assert [r["steering_angle"] for r in rows] == [-25.0, 1.0, 27.0]
    assert [r["speed"] for r in rows] == pytest.approx([1.0, 2.15, 3.3])
    assert rows[2]["throttle_ns"] == car.throttle.min_ns  # full forward, polarity -1
    assert all(r["index"] is None for r in rows)


def test_continuous_refuses_bad_outputs(car):
    table = ActionTable.build(CONTINUOUS, car, 1.0)
    with pytest.raises(ActionError, match="non-finite"):
        table.decide(np.array([np.nan, 0.0], np.float32))
    with pytest.raises(ActionError, match="expected 2"):
        table.decide(np.zeros(3, np.float32))


def test_build_picks_the_table_for_the_space(sample_space, car):
    assert isinstance(ActionTable.build(sample_space, car, 1.0), DiscreteActionTable)
    with pytest.raises(ActionError, match="unknown action space"):
        ActionTable.build("discrete", car, 1.0)


actions_strategy = st.lists(
    st.tuples(
        st.floats(-45, 45, allow_nan=False),
        st.floats(0, 5, allow_nan=False),
    ),
    min_size=1,
    max_size=20,
).filter(lambda pairs: any(v > 0 for _, v in pairs))


@given(actions_strategy, st.floats(0, 1))
def test_every_action_stays_within_limits_and_calibration(pairs, limit):
    car = Calibration()
    table = ActionTable.build(_space(*pairs), car, limit)
    for action, row in zip(table.actions, table.rows(), strict=True):
        assert -1.0 <= action.steer_norm <= 1.0
        assert 0.0 <= action.throttle_norm <= limit + 1e-12
        assert car.steering.min_ns <= row["steer_ns"] <= car.steering.max_ns
        assert car.throttle.min_ns <= row["throttle_ns"] <= car.throttle.max_ns
