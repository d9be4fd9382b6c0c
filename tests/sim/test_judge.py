"""Judging like DeepRacer: front-point progress, laps, all-wheels-off means off track."""

from __future__ import annotations

import math

import pytest

from calibration.model import Calibration
from vehicle.sim.dynamics import Car, CarParams, CarState
from vehicle.sim.judge import FRONT_POINT_M, Judge


def car_at(track, s: float, offset: float = 0.0) -> Car:
    x, y, heading = track.pose_at(s, offset)
    return Car(CarParams(), Calibration(), CarState(x, y, heading))


def place(car: Car, track, s: float, offset: float = 0.0, turn: float = 0.0) -> None:
    car.state.x, car.state.y, heading = track.pose_at(s, offset)
    car.state.heading = heading + turn


def test_progress_is_the_front_point_along_the_centre_line(reinvent) -> None:
    car = car_at(reinvent, 0.0)
    judge = Judge(reinvent, car, 0.0)
    place(car, reinvent, 0.25 * reinvent.length)
    assert not judge.observe(1.0)
    assert judge.progress == pytest.approx(25.0, abs=0.3)


def test_laps_are_counted_with_their_times(reinvent) -> None:
    car = car_at(reinvent, 0.0)
    judge = Judge(reinvent, car, 10.0)
    t = 10.0
    for lap_time in (12.0, 11.0):
        for k in range(1, 21):
            place(car, reinvent, (len(judge.laps) + k / 20) * reinvent.length + 0.01)
            assert not judge.observe(t + lap_time * k / 20)
        t += lap_time
    assert [(lap.lap, lap.off_track) for lap in judge.laps] == [(1, 0), (2, 0)]
    assert [lap.time_s for lap in judge.laps] == pytest.approx([12.0, 11.0])


def test_driving_backwards_loses_progress_and_counts_no_lap(reinvent) -> None:
    car = car_at(reinvent, 1.0)
    judge = Judge(reinvent, car, 0.0)
    for k in range(1, 30):
        place(car, reinvent, 1.0 - k * 0.5, turn=math.pi)
        judge.observe(k * 0.1)
    assert judge.laps == []
    assert judge.progress == 0.0


def test_one_wheel_on_the_road_is_still_on_track(strip) -> None:
    car = car_at(strip, 5.0, offset=0.38 + 0.07)  # the right wheels just inside the border
    judge = Judge(strip, car, 0.0)
    assert strip.on_road(car.wheels()).tolist().count(True) == 2
    assert not judge.observe(0.1)
    assert judge.off_track == 0


def test_all_wheels_off_is_off_track_and_reset_puts_the_car_back(reinvent) -> None:
    car = car_at(reinvent, 4.0)
    judge = Judge(reinvent, car, 0.0)
    place(car, reinvent, 4.0, offset=1.0)
    car.state.speed = 1.0
    assert judge.observe(0.5)
    assert judge.off_track == 1
    s_left, _ = reinvent.project(car.state.point_ahead(FRONT_POINT_M))
    judge.reset_pose()
    assert car.state.speed == 0.0
    assert reinvent.on_road(car.wheels()).all()
    s, lateral = reinvent.project(car.state.point_ahead(FRONT_POINT_M))
    assert abs(lateral[0]) < 0.02 and s[0] == pytest.approx(s_left[0], abs=0.05)
    assert not judge.observe(0.6)


def test_off_track_is_charged_to_the_lap_it_happened_in(reinvent) -> None:
    car = car_at(reinvent, 0.0)
    judge = Judge(reinvent, car, 0.0)
    place(car, reinvent, 3.0, offset=1.0)
    assert judge.observe(1.0)
    judge.reset_pose()
    for k in range(1, 11):
        place(car, reinvent, 3.0 + k * (reinvent.length - 2.9) / 10)
        judge.observe(1.0 + k)
    assert judge.result() == {
        "track": "reinvent_base",
        "laps": [{"lap": 1, "time_s": judge.laps[0].time_s, "off_track": 1}],
        "completed_laps": 1,
        "off_track": 1,
        "progress": judge.result()["progress"],
    }
    assert judge.result()["progress"] < 2.0


def test_a_non_loop_track_ends_once(strip) -> None:
    car = car_at(strip, 0.0)
    judge = Judge(strip, car, 0.0)
    for k in range(1, 101):
        place(car, strip, k * 0.2)
        judge.observe(k * 0.1)
    assert len(judge.laps) == 1
    assert judge.progress == 100.0


def test_leaving_the_road_past_the_finish_of_a_route_is_not_off_track(strip) -> None:
    car = car_at(strip, strip.length - 0.5)
    judge = Judge(strip, car, 0.0)
    car.state.x = strip.length + 1.0  # one long step carries the car past the end of the road
    assert not strip.on_road(car.wheels()).any()
    assert not judge.observe(0.5)
    assert judge.result(3) == {
        "track": "strip",
        "laps": [{"lap": 1, "time_s": 0.5, "off_track": 0}],
        "completed_laps": 1,
        "off_track": 0,
        "progress": 100.0,
    }


def test_run_progress_counts_finished_laps_and_reaches_100(reinvent) -> None:
    car = car_at(reinvent, 0.0)
    judge = Judge(reinvent, car, 0.0)
    place(car, reinvent, reinvent.length / 2)
    judge.observe(1.0)
    assert judge.run_progress(2) == pytest.approx(judge.progress / 2)
    for k in range(1, 11):
        place(car, reinvent, reinvent.length / 2 + k * reinvent.length / 10)
        judge.observe(1.0 + k)
    assert len(judge.laps) == 1
    assert judge.run_progress(2) == pytest.approx(50.0 + judge.progress / 2)
    assert judge.run_progress(1) == 100.0
    assert judge.result(1)["progress"] == 100.0
