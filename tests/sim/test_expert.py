"""The pure-pursuit expert drives every reference loop: the simulator is drivable."""

from __future__ import annotations

import pytest

from calibration.model import Calibration
from vehicle.sim.dynamics import Car, CarParams, CarState
from vehicle.sim.expert import PurePursuit
from vehicle.sim.judge import Judge
from vehicle.sim.track import load_track, track_names

LOOPS = [name for name in track_names() if name != "Straight_track"]


@pytest.mark.parametrize("name", LOOPS)
def test_expert_laps_every_loop_cleanly(name: str) -> None:
    track = load_track(name)
    cal = Calibration()
    car = Car(CarParams(top_speed_mps=2.0), cal, CarState(*track.pose_at(0.0)))
    judge = Judge(track, car, 0.0)
    expert = PurePursuit(track)
    dt, t = 1 / 15, 0.0
    while not judge.laps and t < 60.0:
        angle = expert.steering_deg(car.state)
        car.step(dt, cal.steering.to_pulse(angle / 30.0), cal.throttle.to_pulse(1.0))
        t += dt
        assert not judge.observe(t), f"off track at {judge.progress:.1f} %"
    assert judge.laps and judge.laps[0].time_s < 1.2 * track.length / 2.0


def test_expert_steers_back_towards_the_centre_line(strip) -> None:
    expert = PurePursuit(strip)
    assert expert.steering_deg(CarState(*strip.pose_at(5.0, 0.2))) < 0  # left of it: right
    assert expert.steering_deg(CarState(*strip.pose_at(5.0, -0.2))) > 0
    assert expert.steering_deg(CarState(*strip.pose_at(5.0))) == pytest.approx(0.0)
