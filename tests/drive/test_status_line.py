"""`vehicle drive`'s live line: the model's choice is advice unless the car drives on it."""

from __future__ import annotations

import re

from vehicle.cli.drive import describe_step

from .conftest import frame_image


def step(car, n: int = 1):
    service, _, clock = car
    for i in range(n):
        clock.t += 1 / 15
        result = service.drive.step(service.slot.put(frame_image(i)))
    return result


def pulses_shown(line: str) -> dict[str, int]:
    found = re.search(r"outputs steer (\d+) us throttle (\d+) us", line)
    assert found, line
    return {"steering": int(found[1]), "throttle": int(found[2])}


def test_disarmed_line_marks_the_model_choice_as_advice_and_shows_neutral(car) -> None:
    service, backend, _ = car
    result = step(car)
    assert result.action.throttle_norm > 0  # the model wants to go: the line must not say so
    line = describe_step(service.status(), result.action)
    assert line.startswith("disarmed")
    assert re.search(rf"advice \(not driving\) +#{result.action.index} steer", line), line
    assert "action" not in line
    neutral = service.calibration
    assert backend.current == {
        "steering": neutral.steering.mid_ns,
        "throttle": neutral.throttle.mid_ns,
    }
    assert pulses_shown(line) == {ch: round(ns / 1000) for ch, ns in backend.current.items()}


def test_autonomous_line_shows_the_action_and_the_pulses_written(car) -> None:
    service, backend, _ = car
    service.start()
    result = step(car, 30)  # the throttle ramp has reached the action by now
    line = describe_step(service.status(), result.action)
    assert line.startswith("autonomous")
    assert "advice" not in line
    assert re.search(rf"  action +#{result.action.index} steer", line), line
    assert f"throttle {result.action.throttle_norm:+.2f}" in line
    assert backend.current["throttle"] != service.calibration.throttle.mid_ns
    assert pulses_shown(line) == {ch: round(ns / 1000) for ch, ns in backend.current.items()}
