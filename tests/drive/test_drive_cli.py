"""`vehicle drive` end to end: a video file through the whole stack to the mock outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from vehicle.cli import main
from vehicle.core.pwm.mock import read_mock_state

from .test_camera import write_video

DEEPRACER_CAL = Path(__file__).resolve().parents[1] / "data" / "calibration.json"


def vehicle(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "vehicle", *args],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def drive_argv(data: Path, bundle: Path, source: Path, *extra: str) -> list[str]:
    """`vehicle drive` on the mock outputs (global options first, as main() takes them)."""
    return [
        *("--data-dir", str(data), "drive", "--model", str(bundle), "--source", str(source)),
        *("--pwm", "mock", *extra),
    ]


def drive_on_mock(data: Path, bundle: Path, video: Path, state: Path, *extra: str) -> int:
    """`vehicle drive` in-process, the mock outputs mirrored to ``state``."""
    return main(drive_argv(data, bundle, video, "--pwm-mock-state", str(state), *extra))


def test_drive_runs_frames_from_a_video_and_reports_actions(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "run.avi"
    write_video(video, frames=120, fps=200.0)
    state = tmp_path / "pwm.json"
    # Paced at 30 Hz (the file says 200): a loaded machine must not miss frames of the 120.
    code = drive_on_mock(
        tmp_path / "data", bundle, video, state, "--frames", "100", "--fps", "30",
        "--mode", "auto", "--start",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("100 frames; actions #")
    counted = sum(int(part.split(": ")[1]) for part in out.split("actions ")[1].split(", "))
    assert counted == 100
    pulses = read_mock_state(state).pulses
    assert pulses == {"steering": 1_450_000, "throttle": 1_446_000}  # neutral after the run


def test_drive_uses_the_imported_calibration_for_neutral(tmp_path: Path, bundle: Path) -> None:
    data = tmp_path / "data"
    assert main(["--data-dir", str(data), "calibration", "import", str(DEEPRACER_CAL)]) == 0
    video = tmp_path / "run.avi"
    write_video(video, frames=10, fps=200.0)
    state = tmp_path / "pwm.json"
    assert drive_on_mock(data, bundle, video, state) == 0
    cal = json.loads(DEEPRACER_CAL.read_text())["Calibration"]
    assert read_mock_state(state).pulses == {
        "steering": cal["Servo"]["mid"],
        "throttle": cal["Motor"]["mid"],
    }


@pytest.mark.parametrize(
    "args, reason",
    [
        (["--frames", "0"], "--frames must be positive"),
        (["--throttle-limit", "150"], "between 0 and 100"),
        (["--source", "/no/such/device"], "not found"),
        (["--rate", "-3"], "--rate must be positive"),
    ],
)
def test_bad_drive_options_exit_1_with_one_line(
    tmp_path: Path, bundle: Path, args: list[str], reason: str
) -> None:
    video = tmp_path / "run.avi"
    write_video(video, frames=3)
    result = vehicle(*drive_argv(tmp_path / "d", bundle, video, *args))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("vehicle:")]
    assert len(lines) == 1 and reason in lines[0]


def test_corrupt_model_is_rejected_and_exits_1(tmp_path: Path, bundle: Path) -> None:
    (bundle / "model.onnx").write_bytes(b"\x00garbage")
    video = tmp_path / "run.avi"
    write_video(video, frames=3)
    result = vehicle(*drive_argv(tmp_path / "d", bundle, video))
    assert result.returncode == 1
    assert "model.onnx" in result.stderr


def test_usage_error_exits_2(tmp_path: Path) -> None:
    assert vehicle("drive", "--pwm", "warp-drive").returncode == 2


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_driving_leaves_neutral(tmp_path: Path, bundle: Path, sig: int) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames / f"{i}.png"), np.full((120, 160, 3), 40 * i, np.uint8))
    state = tmp_path / "pwm.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vehicle",
            *drive_argv(tmp_path / "d", bundle, frames, "--loop", "--fps", "30"),
            *("--pwm-mock-state", str(state), "--mode", "auto", "--start"),
            *("--throttle-limit", "100"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            current = read_mock_state(state) if state.exists() else None
            if current and current.pulses.get("throttle") != 1_446_000:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the car never drove")
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, proc.stderr
    assert read_mock_state(state).pulses == {"steering": 1_450_000, "throttle": 1_446_000}


def test_neutral_exits_1_when_the_write_is_not_confirmed(tmp_path: Path) -> None:
    state = tmp_path / "pwm.json"
    state.mkdir()  # the "hardware" cannot be written
    result = vehicle(
        "--data-dir",
        str(tmp_path / "d"),
        "neutral",
        "--pwm",
        "mock",
        "--pwm-mock-state",
        str(state),
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("vehicle:")
