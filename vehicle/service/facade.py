"""The running car as the console sees it, from the service process.

Every action that moves the car goes to the drive process over the drive link and comes back
with the drive's answer; everything else lives here: the model store, the calibration file,
the operator's saved settings, the JPEG encoder for viewers, the log view. Settings are
saved only after the drive has accepted them, so a refused change never reaches the disk.
Nothing here can make the drive loop wait: the drive answers from its own link thread and
the per-frame data comes through shared memory.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import threading
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, NamedTuple

from calibration.model import Calibration, Channel
from calibration.store import CalibrationStore, to_native
from vehicle import __version__
from vehicle.config import Settings
from vehicle.core.ipc import (
    CalibrationMode,
    LoadModel,
    ManualDrive,
    PreviewPulse,
    SetCalibration,
    SetLed,
    SetMode,
    SetThrottleLimit,
    Start,
    Stop,
)
from vehicle.core.metadata import METADATA_FILE, ModelError, load_metadata
from vehicle.core.taillight import Colour
from vehicle.device.info import device_info
from vehicle.device.network import NetworkReader
from vehicle.device.status import STEP_WINDOW, DeviceStatus, cpu_temperature_c
from vehicle.logbuffer import LogBuffer
from vehicle.model import ModelStore
from vehicle.model.bundle import strip_archive_suffix
from vehicle.model.store import ModelInfo, describe_bundle, validate_name
from vehicle.runtime_state import (
    RuntimeState,
    check_mode,
    check_throttle_limit,
    load_runtime_state,
    save_runtime_state,
)
from vehicle.service.client import DriveClient, DriveUnavailable
from vehicle.service.steps import StepFeed
from vehicle.service.viewers import ViewerStream

log = logging.getLogger(__name__)

LOAD_TIMEOUT_S = 120.0  # a DeepRacer-sized model opens in well under a second
CAMERA_SILENT_S = 2.0  # no frame for this long: the camera reads as not connected
DEFAULT_FRAME_SIZE = (160, 120)  # what the camera gives a DeepRacer model


class BundledModel(NamedTuple):
    """The model the car started with from outside the store: shipped, or ``--model PATH``."""

    path: Path
    info: ModelInfo


class VehicleService:
    def __init__(self, settings: Settings, drive: DriveClient) -> None:
        self.settings = settings
        self.drive = drive
        self.started_at = time.monotonic()
        self.logs = LogBuffer()
        logging.getLogger().addHandler(self.logs)
        self.calibration_store = CalibrationStore(settings.calibration_path)
        self.model_store = ModelStore(settings.models_dir)
        self._state = load_runtime_state(settings.runtime_state_path)
        self._calibration = self.calibration_store.load()
        self._loading = threading.Lock()
        self._bundled: BundledModel | None = None
        self.model_loading = False
        self.model_error: str | None = None
        self.viewers = ViewerStream(
            drive, max_fps=settings.console.viewer_max_fps, overlay_source=self._last_action
        )
        self.viewers.start()
        self.steps = StepFeed(drive.steps)
        self.steps.start()
        self.machine = DeviceStatus(settings.data_dir)
        self.network = NetworkReader()
        self._closed = False
        self._active_model()  # a bundled model the car started with stays listed after a switch

    def close(self) -> None:
        """Stop the encoder and the log view; the drive link is its owner's to close."""
        if self._closed:
            return
        self._closed = True
        self.viewers.stop()
        self.steps.stop()
        logging.getLogger().removeHandler(self.logs)

    # -- driving -----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        status = self.drive.status()
        if not status["link"]["fresh"]:
            status.setdefault("state", "unknown")
            status["fault"] = status.get("fault") or "the drive process is not answering"
        return {
            **status,
            "model_loading": self.model_loading or bool(status.get("model_loading")),
            "model_error": self.model_error or status.get("model_error"),
            "uptime_s": time.monotonic() - self.started_at,
        }

    def set_mode(self, mode: str) -> None:
        """Choose manual or autonomous; a change while driving stops the car first."""
        self.drive.request(SetMode(check_mode(mode)))
        self._update_state(mode=mode)

    def start(self) -> None:
        self.drive.request(Start())

    def stop(self) -> None:
        self.drive.request(Stop())

    def set_throttle_limit(self, fraction: float) -> None:
        fraction = check_throttle_limit(fraction)
        self.drive.request(SetThrottleLimit(fraction))
        self._update_state(throttle_limit=fraction)

    def emergency_stop(self) -> None:
        """Stop whatever the car does: driving, or a calibration pulse."""
        if self.drive.status().get("state") == "calibrating":
            self.exit_calibration()
        self.stop()

    def manual_drive(self, steer: float, throttle: float) -> None:
        for name, value in (("steering", steer), ("throttle", throttle)):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number in [-1, 1], got {value!r}")
            if not -1.0 <= value <= 1.0:
                raise ValueError(f"{name} must be in [-1, 1], got {value}")
        self.drive.request(ManualDrive(float(steer), float(throttle)))

    def recent_steps(self, n: int) -> dict[str, Any]:
        """The drive's newest step records, and how many this process missed."""
        self.steps.poll()
        return {"steps": self.steps.recent(n), "missed": self.steps.missed}

    # -- camera ------------------------------------------------------------------------

    def wait_jpeg(
        self,
        after_seq: int,
        timeout: float,
        *,
        overlay: bool = False,
        size: tuple[int, int] | None = None,
    ) -> tuple[int, bytes] | None:
        return self.viewers.wait_jpeg(after_seq, timeout, overlay=overlay, size=size)

    def camera_size(self) -> tuple[int, int]:
        """The camera's (width, height): the newest frame's, else the model input's."""
        size = self.drive.status().get("frame_size")
        return (int(size[0]), int(size[1])) if size else DEFAULT_FRAME_SIZE

    def admit_viewer(self, overlay: bool, size: tuple[int, int] | None) -> None:
        """Refuse a viewer (ValueError) before its stream starts, when its view is one scaled
        picture too many."""
        self.viewers.admit(overlay, size)

    def _last_action(self) -> tuple[int | None, float, float, object] | None:
        action = self.drive.status().get("action")
        if not action:
            return None
        return action["index"], action["steer_norm"], action["throttle_norm"], None

    # -- models ------------------------------------------------------------------------

    def list_models(self) -> list[dict]:
        """The store's models, and the bundled one (shipped, or given with ``--model``) first.

        A store model of the same name takes the name for loading and deleting, so then the
        bundled one is listed only while it is the one loaded.
        """
        active, bundled_active = self._active_model()
        store_active = None if bundled_active else active
        entries = [
            {**asdict(info), "active": info.name == store_active}
            for info in self.model_store.list()
        ]
        if self._bundled is not None:
            info = self._bundled.info
            if bundled_active or all(entry["name"] != info.name for entry in entries):
                entries.insert(0, {**asdict(info), "active": bundled_active})
        return entries

    def _active_model(self) -> tuple[str | None, bool]:
        """The model driving now, and whether it is the bundled one (not from the store)."""
        status = self.drive.status()
        name, path = status.get("model"), status.get("model_path")
        if not name or not path:
            return None, False
        if Path(path).resolve().parent == self.settings.models_dir.resolve():
            return name, False
        if self._bundled is None or self._bundled.path != Path(path):
            self._bundled = _describe_bundled(name, Path(path))
        return name, True

    def _find_model(self, name: str) -> tuple[Path, bool]:
        """Where the model ``name`` is, and whether it is the bundled one (the store first)."""
        try:
            return self.model_store.path(name), False
        except ModelError:
            self._active_model()  # the bundled model is known once it has driven
            if self._bundled is not None and name == self._bundled.info.name:
                return self._bundled.path, True
            raise

    def install_model(self, upload_path: Path, filename: str) -> str:
        """Validate and install an upload; it appears in the list only once it is valid."""
        installed = self.model_store.install(Path(upload_path), name=model_name_for(filename))
        log.info("installed model %s", installed)
        return installed

    def load_model(self, name: str, *, wait: bool = False) -> None:
        """Load in the background; the current model drives until the new one is ready."""
        path, bundled = self._find_model(name)  # validates the name before any thread starts
        if not self._loading.acquire(blocking=False):
            raise ValueError("a model is already loading; try again when it is done")
        try:
            self.model_loading, self.model_error = True, None
            self.drive.request(LoadModel(str(path), name))
        except BaseException:
            self.model_loading = False
            self._loading.release()
            raise
        thread = threading.Thread(target=self._await_load, args=(name, bundled), daemon=True)
        thread.start()
        if wait:
            thread.join()

    def _await_load(self, name: str, bundled: bool) -> None:
        """Follow the drive's loader; remember the model once it drives (none: the bundled
        one, so that the next start drives it again)."""
        try:
            deadline = time.monotonic() + LOAD_TIMEOUT_S
            status = self.drive.status()
            while time.monotonic() < deadline and not self.drive.closed.is_set():
                status = self.drive.status()
                if not status.get("model_loading"):
                    break
                time.sleep(0.02)
            if status.get("model_loading"):
                self.model_error = f"cannot load {name}: the drive process is still opening it"
            elif status.get("model") == name and not status.get("model_error"):
                self._update_state(active_model=None if bundled else name)
                log.info("model %s loaded", name)
            else:
                self.model_error = status.get("model_error") or f"cannot load {name}"
        finally:
            self.model_loading = False
            self._loading.release()

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
        active, bundled_active = self._active_model()
        if not bundled_active and active == name:
            raise ModelError(f"model {name} is loaded; load another model before deleting it")

    # -- calibration -------------------------------------------------------------------

    def calibration(self) -> Calibration:
        return self._calibration

    def enter_calibration(self) -> None:
        self.drive.request(CalibrationMode(True))

    def exit_calibration(self) -> None:
        self.drive.request(CalibrationMode(False))

    def preview_pulse(self, channel: Channel, ns: int) -> None:
        self.drive.request(PreviewPulse(channel, ns))

    def save_calibration(self, calibration: Calibration) -> None:
        """The drive takes it first (it refuses while driving), then it is saved atomically;
        a failed save puts the drive back on the previous calibration."""
        previous = self._calibration
        self.drive.request(SetCalibration(to_native(calibration)))
        try:
            self.calibration_store.save(calibration)
        except BaseException:
            self.drive.request(SetCalibration(to_native(previous)))
            raise
        self._calibration = calibration
        log.info("calibration saved")

    def reset_calibration(self) -> None:
        self.save_calibration(Calibration())

    # -- devices -----------------------------------------------------------------------

    def _fresh_status(self) -> dict[str, Any]:
        """The drive's status, or DriveUnavailable when it is too old to report from."""
        status = self.drive.status()
        if not status["link"]["fresh"]:
            raise DriveUnavailable("the drive process is not answering")
        return status

    def battery_level(self) -> int:
        """DeepRacer's 0..10, or -1 when no battery is connected (read by the drive)."""
        return int(self._fresh_status().get("battery_level", -1))

    def camera_connected(self) -> bool:
        status = self._fresh_status()
        age = status.get("frame_age_s")
        return not status.get("source_error") and age is not None and age < CAMERA_SILENT_S

    def set_led(self, red: int, green: int, blue: int) -> None:
        """The drive shows it (or refuses), then it is kept for the next start."""
        self.drive.request(SetLed(red, green, blue))
        self._update_state(led=(red, green, blue))

    def led(self) -> tuple[bool, Colour]:
        """Whether there is a tail light, and its colour (the saved one, else off)."""
        led = self._fresh_status().get("led") or {}
        colour = led.get("colour") or self._state.led or (0, 0, 0)
        return bool(led.get("available")), tuple(colour)  # type: ignore[return-value]

    def device_status(self) -> dict[str, float]:
        """CPU, memory, disk and the drive loop's latency and frame rate."""
        self.steps.poll()
        return self.machine.read(self.steps.recent(STEP_WINDOW))

    def device_info(self) -> dict[str, str]:
        return device_info(self.settings.data_dir)

    def network_details(self) -> dict[str, object]:
        return self.network.details()

    def usb_connected(self) -> bool:
        """A laptop on the USB link (DeepRacer's usb0 gadget)."""
        return self.network.usb_connected()

    # -- system ------------------------------------------------------------------------

    def system_info(self) -> dict:
        import cv2
        import numpy as np
        import onnxruntime

        status = self.drive.status()
        latency = status.get("latency_ms") or {}
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
                "steps": status.get("steps", 0),
                "loop_hz": status.get("loop_hz", 0.0),
                "latency_ms_p50": latency.get("p50", 0.0),
                "latency_ms_p99": latency.get("p99", 0.0),
                "frames_dropped": status.get("frames_dropped", 0),
                "source_error": status.get("source_error"),
                "link": status["link"],
            },
        }

    def recent_logs(self, n: int) -> list[str]:
        return self.logs.recent(n)

    def drive_log(self, message: dict[str, Any]) -> None:
        """A log line the drive process forwarded, into the same view as ours."""
        level = logging.getLevelName(str(message.get("level", "INFO")))
        record = logging.LogRecord(
            f"drive.{message.get('name', '')}",
            level if isinstance(level, int) else logging.INFO,
            "",
            0,
            "%s",
            (str(message.get("message", ""))[:2000],),
            None,
        )
        self.logs.handle(record)

    def _update_state(self, **changes: object) -> None:
        self._state = self._state.with_(**changes)
        save_runtime_state(self.settings.runtime_state_path, self._state)

    @property
    def runtime_state(self) -> RuntimeState:
        return self._state


def _describe_bundled(name: str, path: Path) -> BundledModel:
    try:
        metadata = load_metadata(path / METADATA_FILE)
    except ModelError:
        metadata = None
    return BundledModel(path, replace(describe_bundle(name, path, metadata), bundled=True))


def model_name_for(filename: str) -> str:
    """The store name of an uploaded file: its own name less the archive suffix, kept as it
    is ("My model (1).tar.gz" -> "My model (1)", as DeepRacer names the folder), so a tool can
    load or check the model by its file name. Only the last path component counts; a name
    that cannot be a folder name is refused (ModelError), never rewritten."""
    stem = strip_archive_suffix(Path(filename.replace("\\", "/")).name)
    if stem.lower().endswith(".onnx"):
        stem = stem[: -len(".onnx")]
    try:
        return validate_name(stem)
    except ModelError as exc:
        raise ModelError(f"the file name {filename!r} cannot name a model: {exc}") from None


__all__ = ["DriveUnavailable", "VehicleService", "cpu_temperature_c", "model_name_for"]
