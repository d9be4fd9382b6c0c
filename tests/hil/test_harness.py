"""The whole harness against the emulator: clean, and with each fault the emulator injects.

Each run starts the real ``vehicle drive`` three times and ``vehicle neutral`` once. A fault
must fail exactly the scenarios it makes unverifiable, and nothing else.
"""

from __future__ import annotations

import json
import os

import pytest

from vehicle.cli import main

ALL = {
    "link",
    "pwm_frames",
    "actions",
    "latency",
    "frames_stop",
    "throttle_limit",
    "sigterm_neutral",
    "sigkill_holds_last_pulse",
    "neutral_after_kill",
    "car_faults",
}
EXPECTED_FAILURES = {
    None: set(),
    # Values wrong by a constant: every check against a known pulse fails; timing still fine.
    "offset": {"actions", "throttle_limit", "frames_stop", "sigterm_neutral", "neutral_after_kill"},
    # The output skips frames: only the frame check notices; values and timing are right.
    "drop": {"pwm_frames"},
    # Readings stuck at the boot neutral: the car is never seen driving, so nothing that
    # depends on it can pass; the link, the frame timing and the car itself are still fine.
    "freeze": ALL - {"link", "pwm_frames", "car_faults"},
    # Noise on the serial line: the link fails; the car is fine.
    "garbage": {"link"},
}
# Frozen at whatever the emulator read first: normally the boot neutral, but when a busy CPU
# delays its first read until the car drives, the frozen pulse is a driving one, which is
# exactly what "held after SIGKILL" looks for. Either verdict on that one scenario is right.
EITHER_WAY = {"freeze": {"sigkill_holds_last_pulse"}}


@pytest.mark.slow
@pytest.mark.parametrize("fault", list(EXPECTED_FAILURES), ids=lambda f: f or "clean")
def test_harness_fails_exactly_the_affected_scenarios(fault, hil_bundle, tmp_path, capsys):
    argv = ["--data-dir", str(tmp_path), "hil", "--emulate", "--json", "--model", str(hil_bundle)]
    if fault:
        argv += ["--inject", fault]
    code = main(argv)
    report = json.loads(capsys.readouterr().out)
    failed = {s["name"] for s in report["scenarios"] if not s["passed"]}
    details = {s["name"]: s["detail"] for s in report["scenarios"]}
    assert {s["name"] for s in report["scenarios"]} == ALL
    either = EITHER_WAY.get(fault, set())
    assert failed - either == EXPECTED_FAILURES[fault] - either, (details, report["car_faults"])
    assert code == (1 if failed else 0)
    assert report["passed"] is not failed
    if fault in (None, "drop", "garbage", "offset"):
        assert report["latency_ms"]["p50"] > 0
    assert not os.listdir(tmp_path)  # an emulated run leaves the car's data directory alone


def test_inject_needs_emulate(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "hil", "--port", "loop://", "--inject", "drop"]) == 1
    assert "--inject needs --emulate" in capsys.readouterr().err


def test_port_and_emulate_are_exclusive(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main(["hil", "--port", "loop://", "--emulate"])
    assert exc.value.code == 2


def test_a_silent_rig_fails_cleanly(tmp_path, capsys):
    assert main(["--data-dir", str(tmp_path), "hil", "--port", "loop://"]) == 1
    assert "no HELLO" in capsys.readouterr().err
