"""Closed loop through the whole stack: rendered frame -> preprocessing -> ONNX policy ->
action table -> safety governor -> SimPwm -> pulses back to the simulated car.

The bundled default model must lap cleanly on tracks it was trained on and on one it never
saw (Oval_track is held out of training: models/train/train_default.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vehicle.cli import main
from vehicle.config import Settings
from vehicle.sim.session import SimClock, Simulation, build_core, run_lockstep
from vehicle.sim.track import load_track

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "default"


def simulate(tmp_path: Path, name: str, laps: int, max_s: float, limit: float = 1.0) -> tuple:
    clock = SimClock()
    service, backend = build_core(
        Settings(data_dir=tmp_path), DEFAULT_MODEL, clock, throttle_limit=limit
    )
    try:
        sim = Simulation(load_track(name), service, backend, clock)
        service.start()
        return run_lockstep(sim, clock, laps, max_s), sim
    finally:
        service.close()


@pytest.mark.parametrize("name", ["reinvent_base", "reInvent2019_track", "Oval_track"])
def test_default_model_drives_three_clean_laps(tmp_path, name: str) -> None:
    result, sim = simulate(tmp_path, name, 3, 150.0)
    print(json.dumps(result))
    assert result["completed_laps"] == 3
    assert result["off_track"] == 0
    top = sim.car.params.top_speed_mps
    for lap in result["laps"]:
        # cutting corners makes the driven line a little shorter than the centre line
        assert 0.9 * sim.track.length / top <= lap["time_s"] <= 1.25 * sim.track.length / top


def test_the_car_obeys_the_governor_not_the_model(tmp_path) -> None:
    clock = SimClock()
    service, backend = build_core(Settings(data_dir=tmp_path), DEFAULT_MODEL, clock)
    try:
        sim = Simulation(load_track("reinvent_base"), service, backend, clock)
        run_lockstep(sim, clock, 1, 2.0)  # never started: disarmed, neutral written
        assert sim.car.state.speed == 0.0
        assert backend.pulse("throttle") == service.calibration.throttle.mid_ns
        service.start()
        run_lockstep(sim, clock, 1, 5.0)
        assert sim.car.state.speed > 0.2
        service.stop()  # disarm: neutral at once, the car rolls to a stop
        run_lockstep(sim, clock, 1, 8.0)
        assert sim.car.state.speed < 0.01
        assert backend.pulse("throttle") == service.calibration.throttle.mid_ns
    finally:
        service.close()


def test_throttle_limit_slows_the_car(tmp_path) -> None:
    full, _ = simulate(tmp_path / "a", "reinvent_base", 1, 60.0, limit=1.0)
    half, _ = simulate(tmp_path / "b", "reinvent_base", 1, 120.0, limit=0.5)
    assert half["laps"][0]["time_s"] > 2 * full["laps"][0]["time_s"]


def test_cli_headless_json(tmp_path, capsys) -> None:
    args = ["sim", "--track", "reinvent_base", "--headless", "--json", "--laps", "1"]
    code = main(["--data-dir", str(tmp_path), *args])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"track", "laps", "completed_laps", "off_track", "progress"}
    assert result["track"] == "reinvent_base" and result["completed_laps"] == 1


def test_a_route_that_is_not_a_loop_is_one_clean_run(tmp_path, capsys) -> None:
    args = ["--data-dir", str(tmp_path), "sim", "--track", "Straight_track", "--headless"]
    assert main([*args, "--laps", "3", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["completed_laps"] == 1 and len(result["laps"]) == 1
    assert result["off_track"] == 0 and result["laps"][0]["off_track"] == 0
    assert result["progress"] == 100.0
    assert main([*args, "--laps", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("run 1: ")
    assert lines[-1].startswith("Straight_track: 1 of 1 runs (not a loop")
    assert "off track 0," in lines[-1]


@pytest.mark.parametrize(
    "extra",
    [
        ["--track", "no_such_track", "--headless"],
        ["--track", "reinvent_base", "--headless", "--laps", "0"],
        ["--track", "reinvent_base", "--headless", "--console"],
        ["--track", "reinvent_base", "--headless", "--throttle-limit", "150"],
        ["--track", "reinvent_base", "--headless", "--model", "/nonexistent/model"],
    ],
)
def test_cli_rejects_bad_input_with_one_line(tmp_path, capsys, extra) -> None:
    assert main(["--data-dir", str(tmp_path), "sim", *extra]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("vehicle: ")
