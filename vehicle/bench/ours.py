"""Our stack as the car runs it: the drive core (drive loop, governor, watchdog) in this
process, on a mock PWM we listen to; optionally the service process beside it, started as
the car starts it (``ConsoleChild``, the real ``vehicle console``), with console viewers.

The car is armed only once everything it is measured with is up: starting a Python process
(the console, the viewers) takes seconds of CPU, and on a slow machine a step starved by it
latched a fault before the window began. A fault that still latches (the governor's bounds
are the car's: on a slow or busy machine a step can miss them) is recorded and the car is
re-armed at once, as an operator would, so the window keeps its samples and the report says
how often the car would have stopped.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from vehicle.bench.probe import PulseProbe
from vehicle.bench.sources import BenchCamera
from vehicle.bench.stats import BenchError
from vehicle.bench.viewers import Viewers, console_viewers
from vehicle.config import LoopSettings, Settings
from vehicle.core.camera import Frame, LatestFrameSlot
from vehicle.core.car import DriveCore
from vehicle.core.drive import StepResult
from vehicle.core.link import DriveLink
from vehicle.core.model import open_model
from vehicle.core.pwm.mock import MockPwm
from vehicle.core.safety import GovernorState
from vehicle.core.supervisor import ConsoleChild

ATTACH_TIMEOUT_S = 60.0


class TakeTimingSlot(LatestFrameSlot):
    """The car's frame slot, noting when the drive loop took each frame."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: dict[int, float] = {}

    def wait_newer(self, after_seq: int, timeout: float, *, consume: bool = True) -> Frame | None:
        frame = super().wait_newer(after_seq, timeout, consume=consume)
        if frame is not None and consume:
            self.taken[frame.seq] = self.clock()
        return frame


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(host: str, port: int, child: ConsoleChild, deadline: float) -> None:
    """Until the console has answered its page: the service attaches to the drive early in
    its start-up, and the rest of it (a second or more of CPU) is not what is measured."""
    while True:
        try:
            conn = http.client.HTTPConnection(host, port, timeout=5)
            try:
                conn.request("GET", "/")
                conn.getresponse().read()
                return
            finally:
                conn.close()
        except OSError as exc:
            if time.monotonic() > deadline or child.process.poll() is not None:
                raise BenchError(f"the service's console did not answer: {exc}") from exc
            time.sleep(0.05)


class OursLoop:
    """A fresh car per window (its own data directory), driving autonomously."""

    def __init__(
        self,
        bundle: Path,
        image: np.ndarray,
        *,
        camera_hz: float,
        nominal_hz: float,
        service: bool = True,
        viewers: int = 0,
    ) -> None:
        if viewers and not service:
            raise BenchError("viewers need the service process")
        self.bundle = bundle
        self.image = image
        self.camera_hz = camera_hz
        self.nominal_hz = nominal_hz
        self.with_service = service
        self.viewer_count = viewers
        self.probe = PulseProbe()
        self.viewers: Viewers | None = None
        self.faults: list[str] = []  # every fault the governor latched (each one re-armed)
        self._stack = contextlib.ExitStack()
        self._stop = threading.Event()
        self._car: DriveCore | None = None
        self._armed = False
        self._slot = TakeTimingSlot()

    def _on_step(self, result: StepResult) -> None:
        taken = self._slot.taken.pop(result.seq, result.t_capture)
        self.probe.step_done(
            result.t_capture, wake=taken - result.t_capture, inference=result.inference_s
        )
        self._rearm_after_fault()

    def _rearm_after_fault(self) -> None:
        """Note a latched fault and drive on (after the step's pulse was taken)."""
        car = self._car
        if car is None or not self._armed:
            return
        status = car.governor.status()
        if status.state is GovernorState.FAULT:
            self.faults.append(status.fault_reason or "fault")
            car.start()

    def start(self) -> None:
        stack = self._stack
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        settings = Settings(data_dir=data_dir, loop=LoopSettings(nominal_rate_hz=self.nominal_hz))
        backend = MockPwm(settings.pwm.period_ns)
        backend.add_listener(self.probe.on_pulse)
        car = DriveCore(
            settings,
            backend,
            source=BenchCamera(self.image, self.camera_hz),
            slot=self._slot,
            model=open_model(self.bundle, self.bundle.name),
            throttle_limit=1.0,
            mode="autonomous",
        )
        stack.callback(car.close)
        self._car = car
        car.start_background()
        loop = threading.Thread(
            target=car.run,
            kwargs={"stop": self._stop, "stop_when_source_ends": False, "on_step": self._on_step},
            name="bench-drive",
        )
        loop.start()
        stack.callback(loop.join)
        stack.callback(self._stop.set)
        if self.with_service:
            self._start_service(settings, car)
        car.start()  # last: a loop starved while processes start is not what is measured
        self._armed = True

    def _start_service(self, settings: Settings, car: DriveCore) -> None:
        """The service process as ``vehicle drive --console`` starts it."""
        from webconsole.credentials import PASSWORD_ENV

        stack = self._stack
        password = secrets.token_urlsafe(16)
        os.environ[PASSWORD_ENV] = password  # the child inherits it: this run's password
        port = free_port()
        link = DriveLink(car, settings.link, model_roots=(settings.data_dir,))
        link.start()
        config = settings.data_dir / "bench-console.toml"  # room for every viewer asked for
        viewers = max(self.viewer_count, settings.console.limits.max_viewers)
        config.write_text(f"[console.limits]\nmax_viewers = {viewers}\n")
        command = [sys.executable, "-m", "vehicle", "--config", str(config)]
        command += ["--data-dir", str(settings.data_dir)]
        command += ["console", "--host", "127.0.0.1", "--port", str(port)]
        child = ConsoleChild(link, command)
        child.start()
        stack.callback(child.stop)
        stack.callback(link.close)  # first: the console's leaving at the end is no news
        deadline = time.monotonic() + ATTACH_TIMEOUT_S
        while link.service_pid is None:
            if time.monotonic() > deadline or child.process.poll() is not None:
                raise BenchError("the service process did not attach to the drive")
            time.sleep(0.05)
        wait_until_serving("127.0.0.1", port, child, deadline)
        if self.viewer_count:
            self.viewers = stack.enter_context(
                console_viewers("127.0.0.1", port, password, self.viewer_count)
            )

    def frames_dropped(self) -> int | None:
        return None if self._car is None else self._car.slot.dropped

    def stop(self) -> None:
        armed, self._armed = self._armed, False  # the drive thread re-arms no more
        self._stack.close()  # joins the drive thread before closing the car
        if armed and self._car is not None:
            status = self._car.governor.status()
            if status.state is GovernorState.FAULT:  # latched after the last step
                self.faults.append(status.fault_reason or "fault")
