"""The running car as one object: drive loop, governor, models, calibration, viewers.

The console, the CLI and the simulator talk to this facade only. It owns the threads (frame
source, drive loop, JPEG encoder, governor watchdog, model loader) and shuts them down with
the outputs at neutral. Reads for the console are snapshots; nothing here makes the drive
loop wait for a browser.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from calibration.model import Calibration, Channel
from calibration.store import CalibrationStore
from vehicle import __version__
from vehicle.config import Settings
from vehicle.core.actions import ActionTable
from vehicle.core.camera import FrameSource, LatestFrameSlot
from vehicle.core.drive import ActivePolicy, DriveLoop, StepResult
from vehicle.core.pwm.base import PwmBackend
from vehicle.core.safety import GovernorLimits, SafetyGovernor
from vehicle.core.telemetry import Telemetry
from vehicle.logbuffer import LogBuffer
from vehicle.model import LoadedModel, ModelError, ModelStore, load_bundle
from vehicle.model.bundle import strip_archive_suffix
from vehicle.model.store import ModelInfo, describe_bundle
from vehicle.runtime_state import (
    RuntimeState,
    check_mode,
    check_throttle_limit,
    load_runtime_state,
    save_runtime_state,
)
from vehicle.viewer_stream import ViewerStream

log = logging.getLogger(__name__)


class BundledModel(NamedTuple):
    """The model given at start from outside the store: shipped, or ``--model PATH``."""

    path: Path
    info: ModelInfo


class VehicleService:
    def __init__(
        self,
        settings: Settings,
        backend: PwmBackend,
        *,
        source: FrameSource | None = None,
        slot: LatestFrameSlot | None = None,
        model_path: Path | None = None,
        throttle_limit: float | None = None,
        mode: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        watchdog: bool = True,
        heartbeat: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.started_at = time.monotonic()
        self.logs = LogBuffer()
        logging.getLogger().addHandler(self.logs)
        self.calibration_store = CalibrationStore(settings.calibration_path)
        self.model_store = ModelStore(settings.models_dir)
        self._state = load_runtime_state(settings.runtime_state_path)
        if throttle_limit is not None:
            self._state = self._state.with_(throttle_limit=check_throttle_limit(throttle_limit))
        if mode is not None:
            self._state = self._state.with_(mode=check_mode(mode))
        self._calibration = self.calibration_store.load()
        loop = settings.loop
        self.governor = SafetyGovernor(
            backend,
            self._calibration,
            GovernorLimits.from_settings(loop, self._state.throttle_limit),
            clock=clock,
        )
        self.slot = slot or LatestFrameSlot(clock)
        self.source = source
        self.telemetry = Telemetry()
        self.viewers = ViewerStream(
            self.slot,
            lambda: self.telemetry.last_action,
            max_fps=settings.console.viewer_max_fps,
            loop_period_s=loop.period_s,
        )
        self.drive = DriveLoop(
            self.governor,
            self.slot,
            loop,
            telemetry=self.telemetry,
            heartbeat=heartbeat,
            after_step=self.viewers.step_done,
        )
        self._watchdog = watchdog
        self._model: LoadedModel | None = None
        self._model_bundled = False  # whether _model is the bundled model, not a store one
        self._bundled: BundledModel | None = None
        self._model_lock = threading.Lock()  # serialises loads and table rebuilds, not steps
        self.model_loading = False
        self.model_error: str | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._closed = False
        if model_path is not None:
            try:
                self._install_bundled(Path(model_path))
            except BaseException:
                logging.getLogger().removeHandler(self.logs)  # nothing else was started
                raise
        elif self._state.active_model:
            self._load_saved_model(self._state.active_model)

    # -- lifecycle ---------------------------------------------------------------------

    def start_background(self) -> None:
        """Start the source, the encoder and the watchdog (the loop runs via ``run``)."""
        if self.source is not None:
            self.source.start(self.slot)
        self.viewers.start()
        if self._watchdog:
            self.governor.start_watchdog(self.settings.loop.watchdog_interval_s)

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
        self.viewers.stop()
        self.governor.close()
        logging.getLogger().removeHandler(self.logs)

    # -- driving -----------------------------------------------------------------------

    def status(self) -> dict:
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
        return {
            "state": gov.state.value,
            "mode": self._state.mode,
            "running": gov.state.armed,
            "fault": gov.fault_reason,
            "throttle_limit": self._state.throttle_limit,
            "loop_hz": stats.loop_hz,
            "latency_ms": {
                "p50": stats.latency_ms_p50,
                "p99": stats.latency_ms_p99,
                "last": stats.latency_ms_last,
            },
            "inference_ms": stats.inference_ms_last,
            "frames_dropped": stats.frames_dropped,
            "action": action,
            "model": self._model.name if self._model else None,
            "model_loading": self.model_loading,
            "model_error": self.model_error,
            "frame_seq": frame.seq if frame else 0,
            "pulses": {"steering": gov.steering_ns, "throttle": gov.throttle_ns},
            "uptime_s": time.monotonic() - self.started_at,
        }

    def set_mode(self, mode: str) -> None:
        """Choose manual or autonomous; a change while driving stops the car first."""
        check_mode(mode)
        if mode != self._state.mode:
            self.governor.disarm()
        self._update_state(mode=mode)

    def start(self) -> None:
        if self._state.mode == "autonomous" and self.drive.active is None:
            raise ValueError("no model is loaded: load a model before starting autonomous mode")
        self.governor.arm(self._state.mode)
        log.info("started in %s mode", self._state.mode)

    def stop(self) -> None:
        self.governor.disarm()
        log.info("stopped")

    def set_throttle_limit(self, fraction: float) -> None:
        fraction = check_throttle_limit(fraction)
        self.governor.set_throttle_limit(fraction)
        self._update_state(throttle_limit=fraction)
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

    # -- camera ------------------------------------------------------------------------

    def wait_jpeg(
        self, after_seq: int, timeout: float, *, overlay: bool = False
    ) -> tuple[int, bytes] | None:
        return self.viewers.wait_jpeg(after_seq, timeout, overlay=overlay)

    # -- models ------------------------------------------------------------------------

    def list_models(self) -> list[dict]:
        """The store's models, and the bundled one (shipped, or given with ``--model``) first.

        A store model of the same name takes the name for loading and deleting, so then the
        bundled one is listed only while it is the one loaded.
        """
        model, bundled_active = self._active_model()
        store_active = model.name if model is not None and not bundled_active else None
        entries = [
            {**asdict(info), "active": info.name == store_active}
            for info in self.model_store.list()
        ]
        if self._bundled is not None:
            info = self._bundled.info
            if bundled_active or all(entry["name"] != info.name for entry in entries):
                entries.insert(0, {**asdict(info), "active": bundled_active})
        return entries

    def install_model(self, upload_path: Path, filename: str) -> str:
        """Validate and install an upload; it appears in the list only once it is valid."""
        installed = self.model_store.install(Path(upload_path), name=model_name_for(filename))
        log.info("installed model %s", installed)
        return installed

    def load_model(self, name: str, *, wait: bool = False) -> None:
        """Load in the background; the current model drives until the new one is ready."""
        path, bundled = self._find_model(name)  # validates the name before any thread starts
        with self._model_lock:
            if self.model_loading:
                raise ValueError("a model is already loading; try again when it is done")
            self.model_loading = True
            self.model_error = None
        thread = threading.Thread(target=self._load, args=(name, path, bundled), daemon=True)
        thread.start()
        if wait:
            thread.join()

    def _find_model(self, name: str) -> tuple[Path, bool]:
        """Where the model ``name`` is, and whether it is the bundled one (the store first)."""
        try:
            return self.model_store.path(name), False
        except ModelError:
            if self._bundled is not None and name == self._bundled.info.name:
                return self._bundled.path, True
            raise

    def _active_model(self) -> tuple[LoadedModel | None, bool]:
        """The model driving now, and whether it is the bundled one (read together)."""
        with self._model_lock:
            return self._model, self._model_bundled

    def _load(self, name: str, path: Path, bundled: bool) -> None:
        try:
            loaded = load_bundle(path)
            self._install_policy(loaded, bundled=bundled)
            # The saved choice names a store model; none means "the bundled one" at start.
            self._update_state(active_model=None if bundled else name)
            log.info("model %s loaded", name)
        except (ModelError, OSError) as exc:
            self.model_error = f"cannot load {name}: {exc}"
            log.error("%s", self.model_error)
        except Exception as exc:  # never let a loader thread die silently
            self.model_error = f"cannot load {name}: {type(exc).__name__}: {exc}"
            log.exception("model load failed")
        finally:
            self.model_loading = False

    def _load_saved_model(self, name: str) -> None:
        try:
            self._install_policy(load_bundle(self.model_store.path(name)))
        except (ModelError, OSError) as exc:
            self.model_error = f"saved model {name} not loaded: {exc}"
            log.error("%s", self.model_error)

    def delete_models(self, names: list[str]) -> None:
        """Delete store models: all of them, or none when one cannot go (the reason raised)."""
        names = list(dict.fromkeys(names))
        for name in names:
            self._check_deletable(name)
        for name in names:
            self.model_store.delete(name)
            log.info("deleted model %s", name)

    def _check_deletable(self, name: str) -> None:
        _, bundled = self._find_model(name)
        if bundled:
            raise ModelError(
                f"model {name} is the bundled model (shipped, or given with --model), not an "
                "upload: it cannot be deleted"
            )
        model, bundled_active = self._active_model()
        if model is not None and not bundled_active and model.name == name:
            raise ModelError(f"model {name} is loaded; load another model before deleting it")

    def _install_bundled(self, path: Path) -> None:
        """Drive with a model from outside the store (``--model``, or the shipped default)."""
        loaded = load_bundle(path)
        if path.resolve().parent == self.model_store.models_dir.resolve():
            self._install_policy(loaded)  # a store model named by its path: not a bundled one
            return
        info = describe_bundle(loaded.name, path, loaded.metadata.action_space)
        self._bundled = BundledModel(path, replace(info, bundled=True))
        self._install_policy(loaded, bundled=True)

    def _install_policy(self, loaded: LoadedModel, *, bundled: bool = False) -> None:
        with self._model_lock:
            self._activate(loaded)
            self._model_bundled = bundled

    def _rebuild_table(self) -> None:
        """The calibration or the limit changed: same model, new table."""
        with self._model_lock:  # read the model under the lock: a load may be swapping it
            if self._model is not None:
                self._activate(self._model)

    def _activate(self, loaded: LoadedModel) -> None:
        """Drive with ``loaded`` and a table for today's calibration and limit (lock held)."""
        table = ActionTable.build(
            loaded.metadata.action_space, self._calibration, self._state.throttle_limit
        )
        self._model = loaded
        self.drive.swap_policy(ActivePolicy(loaded, table))

    # -- calibration -------------------------------------------------------------------

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

    def save_calibration(self, calibration: Calibration) -> None:
        """Persist first (atomically), then use: a failed write changes nothing."""
        self.calibration_store.save(calibration)
        self._calibration = calibration
        self.governor.set_calibration(calibration)
        self._rebuild_table()
        log.info("calibration saved")

    def reset_calibration(self) -> None:
        self.save_calibration(Calibration())

    # -- system ------------------------------------------------------------------------

    def system_info(self) -> dict:
        import cv2
        import onnxruntime

        stats = self.telemetry.stats()
        return {
            "versions": {
                "vehicle": __version__,
                "python": platform.python_version(),
                "onnxruntime": onnxruntime.__version__,
                "opencv": cv2.__version__,
                "numpy": np.__version__,
                "flask": importlib.metadata.version("flask"),
            },
            "host": platform.node(),
            "uptime_s": time.monotonic() - self.started_at,
            "cpu_temperature_c": cpu_temperature_c(),
            "load_average": list(os.getloadavg()),
            "loop": {
                "steps": stats.steps,
                "loop_hz": stats.loop_hz,
                "latency_ms_p50": stats.latency_ms_p50,
                "latency_ms_p99": stats.latency_ms_p99,
                "frames_dropped": stats.frames_dropped,
                "source_error": self.source.error if self.source else None,
            },
        }

    def recent_logs(self, n: int) -> list[str]:
        return self.logs.recent(n)

    def _update_state(self, **changes: object) -> None:
        self._state = self._state.with_(**changes)
        save_runtime_state(self.settings.runtime_state_path, self._state)

    @property
    def runtime_state(self) -> RuntimeState:
        return self._state


def model_name_for(filename: str) -> str:
    """A store name from an uploaded file's name: "My model v2.tar.gz" -> "My-model-v2"."""
    stem = strip_archive_suffix(Path(filename.replace("\\", "/")).name)
    if stem.lower().endswith(".onnx"):
        stem = stem[: -len(".onnx")]
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:64] or "model"


def cpu_temperature_c(root: Path = Path("/sys/class/thermal")) -> float | None:
    """The first readable thermal zone, in degrees C; None where there is none (containers)."""
    for zone in sorted(root.glob("thermal_zone*/temp")):
        try:
            return int(zone.read_text().strip()) / 1000.0
        except (OSError, ValueError):
            continue
    return None
