"""Our stack as the car runs it: ``VehicleService`` with its drive loop, governor, watchdog,
JPEG encoder and (optionally) the console with viewers, on a mock PWM we listen to."""

from __future__ import annotations

import contextlib
import tempfile
import threading
from pathlib import Path

import numpy as np

from vehicle.bench.probe import PulseProbe
from vehicle.bench.sources import BenchCamera
from vehicle.bench.viewers import Viewers, console_viewers
from vehicle.config import LoopSettings, Settings
from vehicle.core.camera import Frame, LatestFrameSlot
from vehicle.core.drive import StepResult
from vehicle.core.pwm.mock import MockPwm
from vehicle.service import VehicleService


class TakeTimingSlot(LatestFrameSlot):
    """The service's frame slot, noting when the drive loop took each frame."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: dict[int, float] = {}

    def wait_newer(self, after_seq: int, timeout: float, *, consume: bool = True) -> Frame | None:
        frame = super().wait_newer(after_seq, timeout, consume=consume)
        if frame is not None and consume:
            self.taken[frame.seq] = self.clock()
        return frame


class OursLoop:
    """A fresh service per window (its own data directory), driving autonomously."""

    def __init__(
        self,
        bundle: Path,
        image: np.ndarray,
        *,
        camera_hz: float,
        nominal_hz: float,
        viewers: int = 0,
    ) -> None:
        self.bundle = bundle
        self.image = image
        self.camera_hz = camera_hz
        self.nominal_hz = nominal_hz
        self.viewer_count = viewers
        self.probe = PulseProbe()
        self.viewers: Viewers | None = None
        self.fault: str | None = None
        self._stack = contextlib.ExitStack()
        self._stop = threading.Event()
        self._service: VehicleService | None = None
        self._slot = TakeTimingSlot()

    def _on_step(self, result: StepResult) -> None:
        taken = self._slot.taken.pop(result.seq, result.t_capture)
        self.probe.step_done(
            result.t_capture, wake=taken - result.t_capture, inference=result.inference_s
        )

    def start(self) -> None:
        stack = self._stack
        data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        settings = Settings(data_dir=data_dir, loop=LoopSettings(nominal_rate_hz=self.nominal_hz))
        backend = MockPwm(settings.pwm.period_ns)
        backend.add_listener(self.probe.on_pulse)
        service = VehicleService(
            settings,
            backend,
            source=BenchCamera(self.image, self.camera_hz),
            slot=self._slot,
            model_path=self.bundle,
            throttle_limit=1.0,
            mode="autonomous",
        )
        stack.callback(service.close)
        self._service = service
        service.start_background()
        service.start()
        loop = threading.Thread(
            target=service.run,
            kwargs={"stop": self._stop, "stop_when_source_ends": False, "on_step": self._on_step},
            name="bench-drive",
        )
        loop.start()
        stack.callback(loop.join)
        stack.callback(self._stop.set)
        if self.viewer_count:
            self.viewers = stack.enter_context(
                console_viewers(service, settings, self.viewer_count)
            )

    def frames_dropped(self) -> int | None:
        return None if self._service is None else self._service.slot.dropped

    def stop(self) -> None:
        if self._service is not None:
            self.fault = self._service.governor.status().fault_reason
        self._stack.close()
