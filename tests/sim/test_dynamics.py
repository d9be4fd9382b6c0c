"""The simulated car: pulses back to commands, servo rate, ESC lag, bicycle motion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.model import Calibration, SpeedTable
from vehicle.core.actions import speed_to_throttle
from vehicle.sim.dynamics import Car, CarParams, CarState, DynamicsError, speed_for_throttle

CAL = Calibration()  # DeepRacer's defaults: the throttle's polarity is -1


def drive(car: Car, steer_norm: float, throttle_norm: float, seconds: float, dt=1 / 15) -> None:
    for _ in range(round(seconds / dt)):
        car.step(dt, CAL.steering.to_pulse(steer_norm), CAL.throttle.to_pulse(throttle_norm))


def new_car(**params) -> Car:
    return Car(CarParams(**params), CAL, CarState(0.0, 0.0, 0.0))


@pytest.mark.parametrize("vmax", [1.0, 2.5, 4.0])
def test_speed_mapping_inverts_deepracers_throttle_curve(vmax: float) -> None:
    speeds = np.linspace(0.0, 0.8 * vmax, 9)
    throttles = speed_to_throttle(speeds, vmax, 1.0, None)
    back = [speed_for_throttle(t, vmax) for t in throttles]
    assert np.allclose(back, speeds, atol=1e-9)
    assert speed_for_throttle(1.0, vmax) == vmax
    assert speed_for_throttle(-0.5, vmax) == -speed_for_throttle(0.5, vmax)


def test_neutral_pulses_hold_the_car_still() -> None:
    car = new_car()
    car.step(0.1, CAL.steering.mid_ns, CAL.throttle.mid_ns)
    assert (car.state.x, car.state.y, car.state.speed) == (0.0, 0.0, 0.0)


def test_forward_pulse_drives_forward_at_the_actions_speed() -> None:
    car = new_car(top_speed_mps=2.0)
    drive(car, 0.0, float(speed_to_throttle(np.array([1.5]), 2.0, 1.0, None)[0]), 3.0)
    assert car.state.speed == pytest.approx(1.5, abs=0.01)
    assert car.state.x > 3.0 and car.state.y == pytest.approx(0.0)


def test_esc_lag_means_speed_builds_up() -> None:
    car = new_car(top_speed_mps=1.0)
    drive(car, 0.0, 1.0, 1 / 15)
    assert 0.0 < car.state.speed < 0.6


def test_servo_turns_at_a_bounded_rate() -> None:
    params = CarParams()
    car = Car(params, CAL, CarState(0.0, 0.0, 0.0))
    car.step(0.01, CAL.steering.to_pulse(1.0), CAL.throttle.mid_ns)
    assert car.state.steer == pytest.approx(params.servo_rate_rad_s * 0.01)
    drive(car, 1.0, 0.0, 0.5)
    assert car.state.steer == pytest.approx(params.max_steer_rad)


def test_full_left_circles_left_with_the_bicycle_radius() -> None:
    car = new_car(top_speed_mps=1.0, max_steer_rad=math.radians(30))
    drive(car, 1.0, 1.0, 2.0, dt=0.01)
    heading0 = car.state.heading
    drive(car, 1.0, 1.0, 0.5, dt=0.01)
    yaw_rate = math.remainder(car.state.heading - heading0, math.tau) / 0.5
    assert yaw_rate == pytest.approx(1.0 * math.tan(math.radians(30)) / 0.164, rel=0.01)


def test_steering_polarity_follows_the_calibration() -> None:
    flipped = Calibration(steering=CAL.steering.__class__(1_200_000, 1_450_000, 1_700_000, -1))
    car = Car(CarParams(top_speed_mps=1.0), flipped, CarState(0.0, 0.0, 0.0))
    car.step(0.1, flipped.steering.to_pulse(0.5), CAL.throttle.mid_ns)
    assert car.state.steer > 0


def test_speed_table_replaces_the_curve() -> None:
    table = SpeedTable(((0.0, 0.0), (0.5, 1.2), (1.0, 2.0)))
    cal = Calibration(speed_table=table)
    car = Car(CarParams(), cal, CarState(0.0, 0.0, 0.0))
    _, speed = car.targets(cal.steering.mid_ns, cal.throttle.to_pulse(0.5))
    assert speed == pytest.approx(1.2)


def test_wheels_sit_at_the_axles() -> None:
    car = Car(CarParams(), CAL, CarState(1.0, 2.0, math.pi / 2))
    wheels = car.wheels()
    assert wheels[0] == pytest.approx((0.92, 2.0))
    assert wheels[3] == pytest.approx((1.08, 2.164))


@pytest.mark.parametrize("dt", [0.0, -0.1, 0.6, math.nan])
def test_bad_time_step_is_rejected_and_nothing_moves(dt: float) -> None:
    car = new_car()
    with pytest.raises(DynamicsError):
        car.step(dt, CAL.steering.mid_ns, CAL.throttle.to_pulse(1.0))
    assert (car.state.x, car.state.speed) == (0.0, 0.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"wheelbase_m": 0.0},
        {"max_steer_rad": 0.0},
        {"max_steer_rad": 2.0},
        {"top_speed_mps": 0.0},
        {"top_speed_mps": 5.0},
        {"servo_rate_rad_s": 0.0},
        {"esc_tau_s": -1.0},
    ],
)
def test_bad_car_parameters_are_rejected(kwargs) -> None:
    with pytest.raises(DynamicsError):
        CarParams(**kwargs)
