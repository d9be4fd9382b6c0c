"""The real ``vehicle`` command driving, then stopped: the outputs end at calibrated neutral."""

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

from calibration.model import Calibration
from vehicle.core.pwm.mock import read_mock_state
from vehicle.model.synthetic import build_policy

DATA = Path(__file__).resolve().parents[1] / "data"
CAL = Calibration()
NEUTRAL = {"throttle": CAL.throttle.mid_ns, "steering": CAL.steering.mid_ns}


@pytest.fixture
def drive_args(tmp_path) -> list[str]:
    """A model and a looping image folder, armed in autonomous mode at full limit."""
    bundle = tmp_path / "model"
    bundle.mkdir()
    metadata = (DATA / "sample_single_cam.model_metadata.json").read_text()
    (bundle / "model_metadata.json").write_text(metadata)
    n = len(json.loads(metadata)["action_space"])
    (bundle / "model.onnx").write_bytes(build_policy(n, seed=3).SerializeToString())
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(4):
        cv2.imwrite(str(frames / f"{i}.png"), np.full((120, 160, 3), 50 * i, np.uint8))
    return [
        "--model", str(bundle), "--source", str(frames), "--loop", "--fps", "30",
        "--mode", "auto", "--start", "--throttle-limit", "100",
    ]  # fmt: skip


def vehicle(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vehicle", "--data-dir", str(tmp_path / "data"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def wait_until(predicate, proc: subprocess.Popen[str], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            pytest.fail(f"vehicle exited ({proc.returncode}) before {what}: {proc.stderr.read()}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}")


def fake_pwm_tree(root: Path) -> Path:
    """A kernel PWM chip with both channels already exported, as after a previous run."""
    chip = root / "pwmchip0"
    chip.mkdir(parents=True)
    (chip / "npwm").write_text("16\n")
    for name in ("export", "unexport"):
        (chip / name).write_text("")
    for channel in ("pwm0", "pwm1"):
        (chip / channel).mkdir()
        for name, value in (("period", "0"), ("duty_cycle", "0"), ("enable", "0")):
            (chip / channel / name).write_text(value + "\n")
    return chip


def test_sigterm_leaves_sysfs_duty_cycle_at_calibrated_neutral(tmp_path, drive_args):
    chip = fake_pwm_tree(tmp_path / "sys")
    throttle, steering = chip / "pwm0", chip / "pwm1"  # DeepRacer's wiring

    def duty(channel: Path) -> int:
        text = (channel / "duty_cycle").read_text().strip()
        return int(text) if text else -1

    proc = vehicle(tmp_path, "drive", "--pwm", "sysfs", "--pwm-sysfs-root", str(tmp_path / "sys"),
                   *drive_args)  # fmt: skip
    try:
        wait_until(lambda: duty(throttle) not in (0, -1, NEUTRAL["throttle"]), proc, "driving")
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, proc.stderr.read()
    assert duty(throttle) == NEUTRAL["throttle"]
    assert duty(steering) == NEUTRAL["steering"]
    for channel in (throttle, steering):
        assert (channel / "period").read_text().strip() == "20000000"
        assert (channel / "enable").read_text().strip() == "1"  # a pulse, never "no pulse"


def test_neutral_command_restores_neutral_after_sigkill(tmp_path, drive_args):
    state = tmp_path / "pwm-state.json"

    def pulses() -> dict[str, int]:
        current = read_mock_state(state) if state.exists() else None
        return current.pulses if current else {}

    proc = vehicle(tmp_path, "drive", "--pwm", "mock", "--pwm-mock-state", str(state), *drive_args)
    try:
        wait_until(lambda: pulses().get("throttle", NEUTRAL["throttle"]) != NEUTRAL["throttle"],
                   proc, "driving")  # fmt: skip
        proc.send_signal(signal.SIGKILL)  # no handler, no finally: the "hardware" keeps going
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert pulses()["throttle"] != NEUTRAL["throttle"], "a crashed process leaves its last pulse"
    neutral = vehicle(tmp_path, "neutral", "--pwm", "mock", "--pwm-mock-state", str(state))
    out, err = neutral.communicate(timeout=60)
    assert neutral.returncode == 0, err
    assert pulses() == NEUTRAL
    assert f"throttle {NEUTRAL['throttle']} ns" in out
