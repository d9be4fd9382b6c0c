"""The car as the drive process holds it: frame slot, drive loop, governor, active policy.

Every operator action reaches the car as one method call here: from the service process
through the drive link (``vehicle.core.link``), or from the command line. Each method
validates, acts through the safety governor, and raises ``ValueError`` with the reason when
it refuses (nothing changed then). ``status()`` is a JSON-ready snapshot; reading it never
makes the drive loop wait.

After each step the car publishes, without waiting on anyone, one record to the step ring
and (only while viewers watch, at their rate) the frame to the frame ring: both shared
memory the service reads (``vehicle.core.shm``).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from calibration.model import Calibration, Channel
from calibration.store import CalibrationStore
from vehicle.config import Settings
from vehicle.core.actions import ActionTable
from vehicle.core.battery import BatteryError, BatteryMonitor, NoBattery, open_battery
from vehicle.core.camera import Frame, FrameSource, LatestFrameSlot
from vehicle.core.drive import ActivePolicy, DriveLoop, StepResult
from vehicle.core.metadata import ModelError
from vehicle.core.model import LoadedModel, open_model
from vehicle.core.safety import GOVERNOR_STATES, GovernorLimits, SafetyGovernor
from vehicle.core.shm import FrameRing, StepRing
from vehicle.core.taillight import Colour, TailLight
from vehicle.core.telemetry import Telemetry
from vehicle.runtime_state import check_mode, check_throttle_limit

log = logging.getLogger(__name__)

FRAME_RATE_SLACK = 1.1  # frames for viewers: camera intervals vary by a few percent


class DriveCore:
    def __init__(
        self,
        settings: Settings,
        backend: Any,
        *,
        source: FrameSource | None = None,
        slot: LatestFrameSlot | None = None,
        model: LoadedModel | None = None,
        throttle_limit: float = 0.5,
        mode: str = "manual",
        clock: Callable[[], float] = time.monotonic,
        watchdog: bool = True,
        heartbeat: Callable[[], None] | None = None,
        shared_memory: bool = True,
        led_colour: Colour | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._mode = check_mode(mode)
        self._limit = check_throttle_limit(throttle_limit)
        self._calibration = CalibrationStore(settings.calibration_path).load()
        loop = settings.loop
        self.governor = SafetyGovernor(
            backend,
            self._calibration,
            GovernorLimits.from_settings(loop, self._limit),
            clock=clock,
        )
        self.slot = slot or LatestFrameSlot(clock)
        self.source = source
        self.telemetry = Telemetry()
        self.frames = FrameRing() if shared_memory else None
        self.steps = StepRing() if shared_memory else None
        self.stepped = threading.Event()  # set after each step: idle until the next frame
        self.drive = DriveLoop(
            self.governor,
            self.slot,
            loop,
            telemetry=self.telemetry,
            heartbeat=heartbeat,
            after_step=self._publish,
        )
        self._watchdog = watchdog
        self._model: LoadedModel | None = None
        self._model_lock = threading.Lock()  # serialises loads and table rebuilds, not steps
        self.model_loading = False
        self.model_error: str | None = None
        self.stop_reason: str | None = None
        self._frames_wanted_until = -math.inf  # time.monotonic(): viewers are a wall-clock thing
        self._frame_gap_s = 0.0  # viewers' frames are captured at least this far apart
        self._next_frame_capture = -math.inf
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.tail_light = TailLight(backend)
        self._led_at_start = led_colour
        self.battery = self._open_battery(backend)
        if model is not None:
            self._activate(model)

    def _open_battery(self, backend: Any) -> BatteryMonitor:
        """The configured battery source; a misconfigured one reads "not connected"."""
        battery = self.settings.battery
        try:
            reader = open_battery(
                battery,
                simulated=getattr(backend, "name", "") == "sim",
                throttle=lambda: self.governor.status().throttle_norm,
            )
        except BatteryError as exc:
            log.error("no battery reading: %s", exc)
            reader = NoBattery()
        return BatteryMonitor(reader, battery.poll_interval_s)

    # -- lifecycle ---------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the frame source and the governor's watchdog (the loop runs via ``run``)."""
        if self.source is not None:
            self.source.start(self.slot)
        if self._watchdog:
            self.governor.start_watchdog(self.settings.loop.watchdog_interval_s)
        self.battery.start()
        self.tail_light.restore(self._led_at_start)

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        max_frames: int | None = None,
        stop_when_source_ends: bool = True,
        on_step: Callable[[StepResult], None] | None = None,
    ) -> int:
        """Run the drive loop in the calling thread until stopped; returns frames processed."""
        stop = stop or self._stop
        done = self.source.finished if (self.source and stop_when_source_ends) else None
        return self.drive.run(stop, max_frames=max_frames, source_done=done, on_step=on_step)

    def run_in_thread(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.run, kwargs={"stop_when_source_ends": False}, name="drive", daemon=True
        )
        thread.start()
        self._threads.append(thread)
        return thread

    def close(self) -> None:
        """Neutral, then stop every thread and release the hardware. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self.governor.disarm()
        for thread in self._threads:
            thread.join(timeout=2.0)
        if self.source is not None:
            self.source.stop()
        self.battery.stop()
        self.governor.close()
        for ring in (self.frames, self.steps):
            if ring is not None:
                ring.close()

    # -- operator actions ----------------------------------------------------------------

    def set_mode(self, mode: str) -> None:
        """Choose manual or autonomous; a change while driving stops the car first."""
        check_mode(mode)
        if mode != self._mode:
            self.governor.disarm()
        self._mode = mode

    def start(self) -> None:
        if self._mode == "autonomous" and self.drive.active is None:
            raise ValueError("no model is loaded: load a model before starting autonomous mode")
        self.governor.arm(self._mode)
        self.stop_reason = None
        log.info("started in %s mode", self._mode)

    def stop(self, reason: str | None = None) -> None:
        was_driving = self.governor.status().state.armed
        self.governor.disarm()
        if reason is not None and was_driving:
            self.stop_reason = reason
            log.warning("stopped: %s", reason)
        elif reason is None:
            log.info("stopped")

    def set_throttle_limit(self, fraction: float) -> None:
        fraction = check_throttle_limit(fraction)
        self.governor.set_throttle_limit(fraction)
        self._limit = fraction
        self._rebuild_table()

    def manual_drive(self, steer: float, throttle: float) -> None:
        for name, value in (("steering", steer), ("throttle", throttle)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number in [-1, 1], got {value!r}")
            if not -1.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [-1, 1], got {value}")
        if not self.governor.command_manual(float(steer), float(throttle)):
            state = self.governor.status().state.value
            raise ValueError(f"manual commands need the car started in manual mode (now {state})")

    # -- devices -----------------------------------------------------------------------

    def set_led(self, red: int, green: int, blue: int) -> None:
        """The tail light's colour, 0..255 a channel; refused where there is no light."""
        self.tail_light.set(red, green, blue)

    # -- calibration -------------------------------------------------------------------

    @property
    def calibration(self) -> Calibration:
        return self._calibration

    def enter_calibration(self) -> None:
        self.governor.enter_calibration()

    def exit_calibration(self) -> None:
        self.governor.exit_calibration()

    def preview_pulse(self, channel: Channel, ns: int) -> None:
        if not self.governor.calibration_pulse(channel, ns):
            state = self.governor.status().state.value
            raise ValueError(f"pulse previews need calibration mode (now {state})")

    def set_calibration(self, calibration: Calibration) -> None:
        """Use a new mapping (refused while driving: the governor keeps the old one then)."""
        self.governor.set_calibration(calibration)
        self._calibration = calibration
        self._rebuild_table()

    # -- models ------------------------------------------------------------------------

    def load_model(self, path: Path, name: str, *, wait: bool = False) -> None:
        """Open a bundle the service has checked, in a loader thread; the current model
        drives until the new one is ready, then the swap is one reference write between two
        steps. Opening runs beside the loop, not in it: measured (``vehicle bench``,
        model_open) at 0.1-0.2 s for a 23 MB DeepRacer network, ONNX or OpenVINO, first
        OpenVINO import included, with the loop's worst interval within half a period of
        its quiet worst; so, unlike DeepRacer's car, this one switches while driving."""
        with self._model_lock:
            if self.model_loading:
                raise ValueError("a model is already loading; try again when it is done")
            self.model_loading = True
            self.model_error = None
        thread = threading.Thread(
            target=self._load, args=(Path(path), name), name="model-loader", daemon=True
        )
        thread.start()
        if wait:
            thread.join()

    def _load(self, path: Path, name: str) -> None:
        try:
            loaded = open_model(path, name, precision=self.settings.model.precision)
            with self._model_lock:
                self._activate(loaded)
            log.info("model %s loaded", name)
        except (ModelError, OSError) as exc:
            self.model_error = f"cannot load {name}: {exc}"
            log.error("%s", self.model_error)
        except Exception as exc:  # never let a loader thread die silently
            self.model_error = f"cannot load {name}: {type(exc).__name__}: {exc}"
            log.exception("model load failed")
        finally:
            self.model_loading = False

    @property
    def model(self) -> LoadedModel | None:
        return self._model

    def _rebuild_table(self) -> None:
        """The calibration or the limit changed: same model, new table."""
        with self._model_lock:  # read the model under the lock: a load may be swapping it
            if self._model is not None:
                self._activate(self._model)

    def _activate(self, loaded: LoadedModel) -> None:
        """Drive with ``loaded`` and a table for today's calibration and limit (lock held)."""
        table = ActionTable.build(loaded.metadata.action_space, self._calibration, self._limit)
        self._model = loaded
        self.drive.swap_policy(ActivePolicy(loaded, table))

    # -- publishing --------------------------------------------------------------------

    def want_frames(self, seconds: float, fps: float) -> None:
        """Viewers are watching: publish frames for the next ``seconds`` (at most 10), at most
        ``fps`` a second. Each copy (900 kB at 640x480) leaves the drive's CPU cache colder
        for the next inference, so frames the viewers would skip are not copied at all."""
        if not fps > 0:
            raise ValueError(f"viewer frame rate must be > 0, got {fps!r}")
        # a 30 Hz camera must still give 15 fps: its frames may come a little early
        self._frame_gap_s = 1.0 / (fps * FRAME_RATE_SLACK)
        self._frames_wanted_until = time.monotonic() + min(max(0.0, seconds), 10.0)

    def _publish(self, frame: Frame, result: StepResult | None) -> None:
        """After the step: never between capture and pulse, never waiting on a reader."""
        if self.steps is not None and result is not None:
            steering_ns, throttle_ns, state = self.governor.outputs()
            action = result.action
            self.steps.append(
                frame.seq,
                frame.t_capture,
                result.t_done,
                (result.preprocess_s * 1e3, result.inference_s * 1e3, result.latency_s * 1e3),
                action.index,
                (action.steer_norm, action.throttle_norm),
                (steering_ns, throttle_ns),
                GOVERNOR_STATES.index(state),
                result.outputs,
            )
        if (
            self.frames is not None
            and time.monotonic() < self._frames_wanted_until
            and frame.t_capture >= self._next_frame_capture
        ):
            self.frames.publish(frame.image, frame.seq, frame.t_capture)
            self._next_frame_capture = frame.t_capture + self._frame_gap_s
        self.stepped.set()

    # -- status ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        gov = self.governor.status()
        stats = self.telemetry.stats()
        last = self.telemetry.last_action
        action = None
        if last is not None:
            index, steer, throttle, probs = last
            action = {
                "index": None if index is None else int(index),
                "steer_norm": float(steer),
                "throttle_norm": float(throttle),
                "probabilities": None if probs is None else [float(p) for p in probs],
            }
        frame = self.slot.latest()
        model = self._model
        return {
            "t": time.monotonic(),
            "state": gov.state.value,
            "mode": self._mode,
            "running": gov.state.armed,
            "fault": gov.fault_reason,
            "stop_reason": self.stop_reason,
            "throttle_limit": self._limit,
            "loop_hz": stats.loop_hz,
            "latency_ms": {
                "p50": stats.latency_ms_p50,
                "p99": stats.latency_ms_p99,
                "last": stats.latency_ms_last,
            },
            "inference_ms": stats.inference_ms_last,
            "steps": stats.steps,
            "frames_dropped": stats.frames_dropped,
            "action": action,
            "model": model.name if model else None,
            "model_path": str(model.directory) if model else None,
            "model_engine": model.policy.engine if model else None,
            "model_precision": model.policy.precision if model else None,
            "model_loading": self.model_loading,
            "model_error": self.model_error,
            "frame_seq": frame.seq if frame else 0,
            "frame_age_s": self.slot.clock() - frame.t_capture if frame else None,
            "frame_size": _size(frame.image) if frame else None,
            "source_error": self.source.error if self.source else None,
            "pulses": {"steering": gov.steering_ns, "throttle": gov.throttle_ns},
            "stale": gov.stale,
            "battery_level": self.battery.level,
            "battery_source": self.battery.reader.name,
            "led": {
                "available": self.tail_light.available,
                "colour": list(self.tail_light.colour) if self.tail_light.colour else None,
            },
        }


def _size(image: Any) -> list[int] | None:
    """[width, height] of a picture; None for anything a bad source put in the slot."""
    shape = getattr(image, "shape", ())
    return [int(shape[1]), int(shape[0])] if len(shape) in (2, 3) else None
