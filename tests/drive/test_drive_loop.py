"""The per-frame path through the real model, action table, governor and mock outputs."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vehicle.config import Settings
from vehicle.core.car import DriveCore
from vehicle.core.drive import ActivePolicy
from vehicle.core.model import open_model
from vehicle.core.pwm.mock import MockPwm

from .conftest import frame_image, make_bundle


def expected_action(service: DriveCore, image: np.ndarray):
    active = service.drive.active
    outputs = active.model.policy.run(active.model.preprocessor(image)).copy()
    return active.table.decide(outputs), outputs


def test_step_writes_the_table_pulse_for_the_argmax_action(car) -> None:
    service, backend, clock = car
    calibration = service.calibration
    service.start()
    image = frame_image(1)
    want, outputs = expected_action(service, image)
    # Ramp-up is bounded: feed frames until the throttle reaches the action's value.
    for _ in range(60):
        clock.t += 1 / 15
        result = service.drive.step(service.slot.put(image))
    assert result.action == want
    assert int(np.argmax(result.outputs)) == want.index == int(np.argmax(outputs))
    assert backend.current["steering"] == calibration.steering.to_pulse(want.steer_norm)
    assert backend.current["throttle"] == calibration.throttle.to_pulse(want.throttle_norm)
    assert service.status()["action"]["index"] == want.index
    assert len(service.status()["action"]["probabilities"]) == 15


def test_steps_while_stopped_leave_outputs_neutral(car) -> None:
    service, backend, clock = car
    cal = service.calibration
    for i in range(5):
        clock.t += 0.05
        service.drive.step(service.slot.put(frame_image(i)))
    assert backend.current == {"steering": cal.steering.mid_ns, "throttle": cal.throttle.mid_ns}


def test_manual_mode_ignores_the_model(car) -> None:
    service, backend, clock = car
    service.set_mode("manual")
    service.start()
    service.manual_drive(0.5, 0.0)
    clock.t += 0.05
    service.drive.step(service.slot.put(frame_image(2)))
    assert backend.current["steering"] == service.calibration.steering.to_pulse(0.5)
    assert backend.current["throttle"] == service.calibration.throttle.mid_ns


def test_model_swap_takes_effect_between_steps(car, tmp_path: Path) -> None:
    service, _, clock = car
    other = open_model(make_bundle(tmp_path / "other", seed=7), "other")
    before = service.drive.active
    service.drive.swap_policy(ActivePolicy(other, before.table))
    clock.t += 0.05
    result = service.drive.step(service.slot.put(frame_image(3)))
    expected = other.policy.run(other.preprocessor(frame_image(3)))
    np.testing.assert_allclose(result.outputs, expected, rtol=1e-6)


def test_throttle_limit_rebuilds_the_table(car) -> None:
    service, _, _ = car
    service.set_throttle_limit(0.25)
    assert service.drive.active.table.throttle_limit == pytest.approx(0.25)
    with pytest.raises(ValueError, match="between 0 and 1"):
        service.set_throttle_limit(1.5)
    assert service.status()["throttle_limit"] == 0.25
    assert service.drive.active.table.throttle_limit == pytest.approx(0.25)


def test_autonomous_start_without_a_model_is_refused(tmp_path: Path) -> None:
    service = DriveCore(Settings(data_dir=tmp_path), MockPwm(), mode="autonomous", watchdog=False)
    try:
        with pytest.raises(ValueError, match="no model"):
            service.start()
        assert service.status()["state"] == "disarmed"
    finally:
        service.close()


def test_exception_in_a_stage_latches_a_fault_and_neutral(car) -> None:
    service, backend, _clock = car
    service.start()
    stop = threading.Event()
    service.slot.put(np.zeros((7,), np.uint8))  # not an image: preprocessing fails
    stop_after_first = threading.Timer(0.5, stop.set)
    stop_after_first.start()
    service.run(stop, max_frames=1)
    stop_after_first.cancel()
    status = service.status()
    assert status["state"] == "fault"
    assert "preprocess failed" in status["fault"]
    assert backend.current["throttle"] == service.calibration.throttle.mid_ns


def test_camera_stall_latches_a_fault(tmp_path: Path, bundle: Path) -> None:
    backend = MockPwm()
    service = DriveCore(
        Settings(data_dir=tmp_path), backend, model=open_model(bundle, "b"), mode="autonomous"
    )
    try:
        service.start()
        stop = threading.Event()
        runner = threading.Thread(target=service.run, args=(stop,))
        runner.start()
        deadline = time.monotonic() + 5.0
        while service.status()["state"] != "fault" and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        runner.join()
        assert "camera stall" in (service.status()["fault"] or "")
        assert backend.current["throttle"] == service.calibration.throttle.mid_ns
    finally:
        service.close()


def test_close_writes_neutral_after_driving(car) -> None:
    service, backend, clock = car
    service.start()
    for _i in range(30):
        clock.t += 1 / 15
        service.drive.step(service.slot.put(frame_image(1)))
    service.close()
    cal = service.calibration
    assert backend.history[-1].ns in (cal.steering.mid_ns, cal.throttle.mid_ns)
    assert backend.current == {"steering": cal.steering.mid_ns, "throttle": cal.throttle.mid_ns}


@pytest.mark.parametrize(
    "filename, name",
    [
        ("My model v2 (1).tar.gz", "My model v2 (1)"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\racer\\fast.tgz", "fast"),
        ("policy.onnx", "policy"),
    ],
)
def test_upload_names_are_kept_as_the_file_names_last_component(filename: str, name: str) -> None:
    from vehicle.service.facade import model_name_for

    assert model_name_for(filename) == name


@pytest.mark.parametrize(
    "filename", ["...", ".tar.gz", "naïve.tar.gz", "a;rm -rf.tar.gz", "x\n.tgz"]
)
def test_upload_names_that_cannot_name_a_folder_are_refused(filename: str) -> None:
    from vehicle.core.metadata import ModelError
    from vehicle.service.facade import model_name_for

    with pytest.raises(ModelError, match="cannot name a model"):
        model_name_for(filename)


def test_commands_in_the_wrong_state_are_refused_with_a_reason(car) -> None:
    service, backend, _ = car
    with pytest.raises(ValueError, match="manual mode"):
        service.manual_drive(0.2, 0.2)
    with pytest.raises(ValueError, match="calibration mode"):
        service.preview_pulse("throttle", 1_500_000)
    mid = service.calibration.throttle.mid_ns
    assert backend.current["throttle"] == mid
    service.enter_calibration()
    service.preview_pulse("steering", 1_300_000)
    assert backend.current["steering"] == 1_300_000


def test_frames_are_copied_for_viewers_only_while_asked_and_at_their_rate(car) -> None:
    """A 30 Hz camera and viewers at 15 fps: every other frame reaches the frame ring."""
    service, _, clock = car
    image = frame_image(3)

    def step() -> int:
        clock.t += 1 / 30
        frame = service.slot.put(image)
        service.drive._after(frame, service.drive.step(frame))
        return service.frames.published

    assert [step() for _ in range(3)] == [0, 0, 0]  # nobody watches: nothing copied
    service.want_frames(5.0, 15.0)
    assert [step() for _ in range(6)] == [1, 1, 2, 2, 3, 3]
    service.want_frames(5.0, 30.0)
    assert [step() for _ in range(3)] == [4, 5, 6]
    with pytest.raises(ValueError, match="viewer frame rate must be > 0"):
        service.want_frames(5.0, 0.0)
