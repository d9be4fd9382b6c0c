"""DonkeyCar's drive loop as the baseline: the same frame, model and outputs, its loop.

DonkeyCar (``donkeycar.vehicle.Vehicle``) runs every part in turn, then sleeps out the rest of
``1 / rate_hz``; a threaded camera part captures in its own thread and the loop reads whatever
frame is cached. We drive the real ``Vehicle`` when ``donkeycar`` imports (``pip install
--no-deps donkeycar pyfiglet prettytable wcwidth pillow``); otherwise ``ReproducedVehicle`` below is
the same loop, line for line in behaviour, and the report says which ran.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import logging
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from calibration.model import Calibration
from vehicle.bench.probe import PulseProbe
from vehicle.bench.sources import Pacer
from vehicle.core.actions import ActionTable
from vehicle.core.pwm.base import PwmBackend
from vehicle.core.pwm.mock import MockPwm
from vehicle.model import Preprocessor, load_bundle


class ReproducedVehicle:
    """DonkeyCar 5.3's ``Vehicle`` loop without the package: parts, memory, sleep pacing."""

    def __init__(self) -> None:
        self.mem: dict[str, Any] = {}
        self.parts: list[dict[str, Any]] = []
        self.on = True

    def add(
        self,
        part: Any,
        inputs: list[str] | None = None,
        outputs: list[str] | None = None,
        threaded: bool = False,
    ) -> None:
        entry: dict[str, Any] = {"part": part, "inputs": inputs or [], "outputs": outputs or []}
        if threaded:
            entry["thread"] = threading.Thread(target=part.update, daemon=True)
        self.parts.append(entry)

    def start(self, rate_hz: float = 10, max_loop_count: int | None = None) -> tuple[int, float]:
        try:
            self.on = True
            for entry in self.parts:
                if entry.get("thread"):
                    entry["thread"].start()
            loop_start_time = time.time()
            loop_count = 0
            while self.on:
                start_time = time.time()
                loop_count += 1
                self.update_parts()
                if max_loop_count and loop_count >= max_loop_count:
                    self.on = False
                else:
                    sleep_time = 1.0 / rate_hz - (time.time() - start_time)
                    if sleep_time > 0.0:
                        time.sleep(sleep_time)
            return loop_count, time.time() - loop_start_time
        finally:
            self.stop()

    def update_parts(self) -> None:
        for entry in self.parts:
            part = entry["part"]
            inputs = [self.mem.get(key) for key in entry["inputs"]]
            outputs = part.run_threaded(*inputs) if entry.get("thread") else part.run(*inputs)
            if outputs is not None:
                names = entry["outputs"]
                values = outputs if len(names) > 1 else (outputs,)
                self.mem.update(zip(names, values, strict=True))

    def stop(self) -> None:
        for entry in self.parts:
            shutdown = getattr(entry["part"], "shutdown", None)
            if shutdown is not None:
                shutdown()


def donkeycar_vehicle() -> tuple[Callable[[], Any], str]:
    """DonkeyCar's ``Vehicle`` class and its version, else the reproduction and "reproduced".

    Importing donkeycar prints a banner and sets up INFO logging for the whole process; the
    banner is swallowed and its loggers are quietened so the bench's own output stays clean.
    It also raises the interpreter's recursion limit to 100,000 for the whole process, where
    deeply nested input (JSON, say) then overflows the C stack and kills the process instead
    of raising RecursionError: the limit is put back.
    """
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    recursion_limit = sys.getrecursionlimit()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            from donkeycar.vehicle import Vehicle
    except ImportError:
        return ReproducedVehicle, "reproduced"
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers
        sys.setrecursionlimit(recursion_limit)
    logging.getLogger("donkeycar").setLevel(logging.WARNING)
    return Vehicle, f"donkeycar {importlib.metadata.version('donkeycar')}"


class CachedFrameCamera:
    """DonkeyCar's threaded camera pattern: ``update`` captures at the camera rate into a
    cache, and the loop's ``run_threaded`` returns whatever is cached, however old."""

    def __init__(
        self, image: np.ndarray, hz: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.image = image
        self.pacer = Pacer(hz, clock)
        self.clock = clock
        self.frame: np.ndarray | None = None
        self.t_capture: float | None = None
        self.on = True

    def update(self) -> None:
        while self.on:
            self.pacer.wait()
            self.frame, self.t_capture = self.image, self.clock()

    def run_threaded(self) -> tuple[np.ndarray | None, float | None]:
        return self.frame, self.t_capture

    def shutdown(self) -> None:
        self.on = False


class OnnxPilot:
    """The same preprocessing, onnxruntime policy and action table as ours, as a part."""

    def __init__(self, preprocessor: Preprocessor, policy: Any, table: ActionTable) -> None:
        self.preprocessor = preprocessor
        self.policy = policy
        self.table = table

    def run(
        self, image: np.ndarray | None, t_capture: float | None
    ) -> tuple[float, float, float | None]:
        if image is None:  # the camera thread has not captured yet
            return 0.0, 0.0, None
        action = self.table.decide(self.policy.run(self.preprocessor(image)))
        return action.steer_norm, action.throttle_norm, t_capture


class PulseOutput:
    """DonkeyCar's PWMSteering and PWMThrottle: map [-1, 1] to a pulse, write it."""

    def __init__(self, backend: PwmBackend, calibration: Calibration, probe: PulseProbe) -> None:
        self.backend = backend
        self.calibration = calibration
        self.probe = probe

    def run(self, steering: float, throttle: float, t_capture: float | None) -> None:
        if t_capture is None:
            return
        self.backend.set_pulse("steering", self.calibration.steering.to_pulse(steering))
        self.backend.set_pulse("throttle", self.calibration.throttle.to_pulse(throttle))
        self.probe.step_done(t_capture)


class DonkeyLoop:
    """DonkeyCar's loop in a thread, with our model and a mock PWM we listen to."""

    def __init__(
        self,
        vehicle_class: Callable[[], Any],
        bundle: Path,
        image: np.ndarray,
        *,
        camera_hz: float,
        rate_hz: float,
    ) -> None:
        self.vehicle_class = vehicle_class
        self.bundle = bundle
        self.image = image
        self.camera_hz = camera_hz
        self.rate_hz = rate_hz
        self.probe = PulseProbe()
        self._car: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        model = load_bundle(self.bundle)
        calibration = Calibration()
        table = ActionTable.build(model.metadata.action_space, calibration, 1.0)
        backend = MockPwm()
        backend.add_listener(self.probe.on_pulse)
        car = self.vehicle_class()
        car.add(
            CachedFrameCamera(self.image, self.camera_hz),
            outputs=["cam/image_array", "cam/t_capture"],
            threaded=True,
        )
        car.add(
            OnnxPilot(model.preprocessor, model.policy, table),
            inputs=["cam/image_array", "cam/t_capture"],
            outputs=["pilot/angle", "pilot/throttle", "pilot/t_capture"],
        )
        car.add(
            PulseOutput(backend, calibration, self.probe),
            inputs=["pilot/angle", "pilot/throttle", "pilot/t_capture"],
        )
        self._car = car
        self._thread = threading.Thread(
            target=car.start, kwargs={"rate_hz": self.rate_hz}, name="bench-donkeycar"
        )
        self._thread.start()

    def frames_dropped(self) -> None:
        """DonkeyCar does not know: its loop reads whatever frame is cached."""
        return None

    def stop(self) -> None:
        if self._car is not None:
            self._car.on = False
        if self._thread is not None:
            self._thread.join()
