"""The harness around the service: model-derived car, real-time mode, refusal without a model."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from vehicle.config import Settings
from vehicle.core.car import DriveCore
from vehicle.core.pwm.sim import SimPwm
from vehicle.model import ContinuousActionSpace, DiscreteAction, DiscreteActionSpace
from vehicle.sim.session import (
    SimClock,
    SimError,
    Simulation,
    build_core,
    car_params_for,
    run_realtime,
)

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "default"


def test_car_takes_the_models_widest_angle_and_top_speed() -> None:
    space = DiscreteActionSpace(
        (DiscreteAction(0, -20.0, 0.5), DiscreteAction(1, 15.0, 1.5), DiscreteAction(2, 0.0, 1.0))
    )
    params = car_params_for(space)
    assert params.max_steer_rad == pytest.approx(math.radians(20.0))
    assert params.top_speed_mps == 1.5


def test_continuous_ranges_are_clipped_to_the_car() -> None:
    params = car_params_for(ContinuousActionSpace(-45.0, 40.0, 1.0, 6.0))
    assert params.max_steer_rad == pytest.approx(math.radians(30.0))
    assert params.top_speed_mps == 4.0


def test_simulation_needs_a_loaded_model(tmp_path, reinvent) -> None:
    clock = SimClock()
    backend = SimPwm(clock=clock)
    service = DriveCore(Settings(data_dir=tmp_path), backend, clock=clock, watchdog=False)
    try:
        with pytest.raises(SimError, match="model"):
            Simulation(reinvent, service, backend, clock)
    finally:
        service.close()


def test_realtime_run_stops_when_asked_and_leaves_neutral(tmp_path, reinvent) -> None:
    service, backend = build_core(
        Settings(data_dir=tmp_path), DEFAULT_MODEL, time.monotonic, lockstep=False
    )
    ticks = []
    try:
        sim = Simulation(reinvent, service, backend, time.monotonic)
        service.start_background()
        service.run_in_thread()
        service.start()
        result = run_realtime(sim, 3, 30.0, lambda: len(ticks) >= 5, ticks.append)
    finally:
        service.close()
    assert len(ticks) == 5
    assert result["completed_laps"] == 0 and result["track"] == "reinvent_base"
    cal = service.calibration
    assert backend.pulse("throttle") == cal.throttle.mid_ns
    assert backend.pulse("steering") == cal.steering.mid_ns
