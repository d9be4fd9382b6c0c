"""The car as two real processes: ``vehicle drive --console`` on a fake sysfs PWM tree.

The test watches the throttle's ``duty_cycle`` file from outside (every write changes its
modification time), talks to the console over HTTP as an operator would, and signals the
service process (the drive's child) directly.
"""

from __future__ import annotations

import http.cookiejar
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from calibration.model import Calibration
from vehicle.model.synthetic import build_policy

DATA = Path(__file__).resolve().parents[1] / "data"
PASSWORD = "a process test password"
FPS = 15.0
PERIOD_S = 1 / FPS
NEUTRAL = Calibration().throttle.mid_ns
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Console:
    """An operator's browser session, as DeepRacer's tools hold one (cookie + CSRF header)."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        self.csrf = ""

    def open(self, method: str, path: str, body: bytes | None = None, headers=None, timeout=10):
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers or {}
        )
        return self.opener.open(request, timeout=timeout)

    def login(self) -> None:
        page = self.open("GET", "/").read().decode()
        self.csrf = CSRF_META.search(page).group(1)
        body = urllib.parse.urlencode({"password": PASSWORD}).encode()
        headers = {"X-CSRFToken": self.csrf, "Content-Type": "application/x-www-form-urlencoded"}
        self.open("POST", "/login", body, headers).read()

    def call(self, method: str, path: str, payload: dict | None = None, timeout=10) -> dict:
        headers = {"X-CSRFToken": self.csrf, "Content-Type": "application/json"}
        body = None if payload is None else json.dumps(payload).encode()
        return json.loads(self.open(method, path, body, headers, timeout).read())

    def status(self) -> dict:
        return self.call("GET", "/api/v1/status")["status"]


class ThrottleWatch:
    """Every write to the throttle's duty_cycle, seen from outside: (time, value)."""

    def __init__(self, chip: Path) -> None:
        self.path = chip / "pwm0" / "duty_cycle"
        self.writes: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        last = None
        while not self._stop.is_set():
            try:
                stamp = os.stat(self.path).st_mtime_ns
                if stamp != last:
                    text = self.path.read_text().strip()
                    if text:
                        last = stamp
                        self.writes.append((time.monotonic(), int(text)))
            except (OSError, ValueError):
                pass
            time.sleep(0.001)

    def value(self) -> int:
        return int(self.path.read_text().strip() or -1)

    def between(self, start: float, end: float) -> list[tuple[float, int]]:
        return [(t, v) for t, v in self.writes if start <= t <= end]

    def first_neutral_after(self, start: float, timeout: float = 10.0) -> float:
        """When the throttle first read neutral after ``start`` (waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, value in self.between(start, float("inf")):
                if value == NEUTRAL:
                    return t
            time.sleep(0.005)
        raise AssertionError(f"the throttle did not go neutral within {timeout} s")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


class TwoProcessCar:
    """``vehicle drive --console``, its console session, and a watch on the throttle."""

    def __init__(self, tmp_path: Path, *extra: str) -> None:
        self.tmp = tmp_path
        self.chip = fake_pwm_tree(tmp_path / "sys")
        self.frames = tmp_path / "frames"
        self.frames.mkdir()
        for i in range(6):
            image = np.full((120, 160, 3), 40 * i, np.uint8)
            cv2.imwrite(str(self.frames / f"{i}.png"), image)
        bundle = tmp_path / "model"
        bundle.mkdir()
        metadata = (DATA / "sample_single_cam.model_metadata.json").read_text()
        (bundle / "model_metadata.json").write_text(metadata)
        n = len(json.loads(metadata)["action_space"])
        (bundle / "model.onnx").write_bytes(build_policy(n, seed=3).SerializeToString())
        self.port = free_port()
        self.log = (tmp_path / "car.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vehicle", "--data-dir", str(tmp_path / "data"), "drive",
             "--pwm", "sysfs", "--pwm-sysfs-root", str(tmp_path / "sys"),
             "--source", str(self.frames), "--loop", "--stay", "--fps", str(FPS),
             "--model", str(bundle), "--throttle-limit", "100",
             "--console", "--host", "127.0.0.1", "--port", str(self.port), *extra],
            stdout=self.log, stderr=subprocess.STDOUT,
            env={**os.environ, "VEHICLE_CONSOLE_PASSWORD": PASSWORD, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        self.console = Console(f"http://127.0.0.1:{self.port}")
        self.watch = ThrottleWatch(self.chip)

    def output(self) -> str:
        return (self.tmp / "car.log").read_text(errors="replace")

    def wait(self, predicate, what: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the car exited before {what}:\n{self.output()}")
            try:
                if predicate():
                    return
            except OSError:
                pass
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}:\n{self.output()}")

    def log_in(self) -> Console:
        def up() -> bool:
            self.console.login()
            return True

        self.wait(up, "the console")
        return self.console

    def drive_autonomously(self) -> None:
        console = self.log_in()
        assert console.call("PUT", "/api/v1/mode", {"mode": "autonomous"})["success"]
        assert console.call("POST", "/api/v1/start")["success"]
        self.wait(lambda: self.watch.value() not in (0, -1, NEUTRAL), "driving")

    def service_pid(self) -> int:
        pids = children(self.process.pid)
        assert len(pids) == 1, f"expected one console process, found {pids}"
        return pids[0]

    def close(self) -> None:
        self.watch.stop()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def car(tmp_path: Path):
    made = TwoProcessCar(tmp_path)
    yield made
    made.close()


def gaps(writes: list[tuple[float, int]]) -> list[float]:
    times = [t for t, _ in writes]
    return [b - a for a, b in itertools.pairwise(times)]
