"""The car under test: the installed code runs, and its own faults are read from its log with
their time and judged against the plan.

Stopping the frames must make the car latch a camera stall; any other fault (or a stall while
frames still flowed) fails the run even when every measured pulse looked right.
"""

from __future__ import annotations

import signal
import time

import cv2
import numpy as np
import pytest

from hil_rig.car import CarProcess, LoggedFault, parse_faults
from hil_rig.frame_watch import FrameWatch
from hil_rig.scenarios import CarFault, check_car_faults
from vehicle import __version__


def test_the_car_runs_the_installed_code_not_a_vehicle_folder_in_the_cwd(
    tmp_path, monkeypatch
) -> None:
    impostor = tmp_path / "vehicle" / "cli"
    impostor.mkdir(parents=True)
    (tmp_path / "vehicle" / "__init__.py").write_text("")
    (impostor / "__init__.py").write_text("def main():\n    print('impostor')\n    return 0\n")
    monkeypatch.chdir(tmp_path)
    with CarProcess(["--version"], tmp_path / "version.log") as car:
        assert car.wait(60.0) == 0
    assert car.tail() == f"vehicle {__version__}"


LOG = """\
2026-12-02 17:37:54,278 INFO vehicle.service: started in autonomous mode
2026-12-02 17:37:56,315 ERROR vehicle.core.safety: safety fault: camera stall: no frame for 506 ms
safety fault: loop overrun: frame to command 337 ms, bound 200 ms
24 frames; actions #3: 8, #5: 4, #6: 12
"""


def test_faults_are_read_with_their_time() -> None:
    stall, overrun = parse_faults(LOG)
    assert stall.reason == "camera stall: no frame for 506 ms"
    assert time.localtime(stall.t_wall)[:6] == (2026, 12, 2, 17, 37, 56)
    assert stall.t_wall % 1 == pytest.approx(0.315)
    assert overrun == LoggedFault(None, "loop overrun: frame to command 337 ms, bound 200 ms")


STOP = 100.0  # when run 1 read its last frame, host monotonic seconds


def judge(*faults: CarFault):
    return check_car_faults(list(faults), frames_stopped=(1, STOP), slack_s=0.03)


def test_no_fault_passes() -> None:
    result = judge()
    assert result.passed and result.detail == "no fault latched"


def test_the_stall_that_stopping_the_frames_provokes_is_expected() -> None:
    result = judge(CarFault(1, STOP + 0.533, "camera stall: no frame for 533 ms"))
    assert result.passed
    assert result.figures == {
        "expected": ["run 1: camera stall: no frame for 533 ms"],
        "unexpected": [],
    }


@pytest.mark.parametrize(
    "fault",
    [
        CarFault(1, STOP - 0.2, "camera stall: no frame for 533 ms"),  # while frames flowed
        CarFault(1, STOP + 0.01, "camera stall: no frame for 533 ms"),  # began before the stop
        CarFault(2, STOP + 30.533, "camera stall: no frame for 533 ms"),  # another run
        CarFault(1, STOP + 0.6, "loop overrun: frame to command 337 ms, bound 200 ms"),
        CarFault(1, None, "camera stall: no frame for 533 ms"),  # no time: cannot tell
    ],
)
def test_any_other_fault_fails(fault: CarFault) -> None:
    expected = CarFault(1, STOP + 0.52, "camera stall: no frame for 520 ms")
    result = judge(expected, fault)
    assert not result.passed
    assert result.figures["unexpected"] == [fault.describe()]
    assert fault.describe() in result.detail


@pytest.mark.slow
def test_a_real_car_whose_frames_stop_latches_the_expected_stall(tmp_path, hil_bundle) -> None:
    """End to end: the car's log format, its clock and the harness's clock agree."""
    frames = tmp_path / "frames"
    frames.mkdir()
    cv2.imwrite(str(frames / "f000.png"), np.full((120, 160, 3), 90, np.uint8))
    args = [
        "--data-dir", str(tmp_path / "car"), "drive", "--model", str(hil_bundle),
        "--source", str(frames), "--mode", "auto", "--start", "--stay",
        "--pwm", "mock", "--pwm-mock-state", str(tmp_path / "pwm.json"),
    ]  # fmt: skip
    with FrameWatch(frames) as watch, CarProcess(args, tmp_path / "car.log") as car:
        t_stop = watch.wait_open("f000.png", car.started, 60.0)
        assert t_stop is not None, car.tail()
        wall_offset = time.time() - time.monotonic()
        deadline = time.monotonic() + 20.0
        while not car.faults() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert car.signal(signal.SIGTERM) == 0
        logged = car.faults()
    assert [f.reason.split(":")[0] for f in logged] == ["camera stall"]
    faults = [CarFault(1, f.t_wall - wall_offset, f.reason) for f in logged]
    assert check_car_faults(faults, frames_stopped=(1, t_stop), slack_s=0.03).passed
    # The same stall seen as if frames had still been flowing a second later: not expected.
    assert not check_car_faults(faults, frames_stopped=(1, t_stop + 1.0), slack_s=0.03).passed
