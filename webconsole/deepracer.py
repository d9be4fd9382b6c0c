"""DeepRacer's device-console API, for the tools and habits racers already have.

Routes, bodies and answers follow aws-deepracer-webserver-pkg. Calibration travels in its
console units: steering ``(ns - 1500000) / 10000``, throttle ``(ns - 1500000) / 4500``.
Manual drive keeps its joystick convention: the server negates ``angle`` and ``throttle``
(a joystick pushed right and up sends positive angle and negative throttle).
Unlike the original, names never become paths here and every field is validated.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from calibration.model import Channel, ChannelCalibration
from webconsole import calibration, drive, models
from webconsole.context import console
from webconsole.policy import changes_state, model_upload
from webconsole.responses import InputError, choice, json_body, number, ok, shown

bp = Blueprint("deepracer", __name__)

PWM_OFFSET_NS = 1_500_000
CONVERSION = {"steering": 10_000, "throttle": 4_500}  # ns per console unit
KINDS: dict[str, Channel] = {"angle": "steering", "throttle": "throttle"}
CONSOLE_RANGE = 100.0  # console units either side of 1.5 ms, wider than any pulse allowed
DRIVE_MODES = {"auto": "autonomous", "manual": "manual"}
BOTH = ["PUT", "POST"]


def to_console_units(ns: int, channel: Channel) -> float:
    return (ns - PWM_OFFSET_NS) / CONVERSION[channel]


def from_console_units(value: float, channel: Channel) -> int:
    return round(value * CONVERSION[channel]) + PWM_OFFSET_NS


def _channel(kind: str) -> Channel:
    if kind not in KINDS:
        raise InputError(f"calibration type must be angle or throttle, got {shown(kind)}")
    return KINDS[kind]


# -- driving ---------------------------------------------------------------------------


@bp.route("/api/drive_mode", methods=BOTH)
def drive_mode() -> Any:
    mode = choice(json_body(), "drive_mode", tuple(DRIVE_MODES))
    console().service.set_mode(DRIVE_MODES[mode])
    return ok()


@bp.route("/api/start_stop", methods=BOTH)
def start_stop() -> Any:
    action = choice(json_body(), "start_stop", ("start", "stop"))
    service = console().service
    service.start() if action == "start" else service.stop()
    return ok()


@bp.route("/api/manual_drive", methods=BOTH)
def manual_drive() -> Any:
    body = json_body()
    angle = number(body, "angle", -1.0, 1.0)
    throttle = number(body, "throttle", -1.0, 1.0)
    max_speed = number(body, "max_speed", 0.0, 1.0)
    drive.drive_manually(-angle, -throttle * max_speed)
    return ok()


@bp.route("/api/max_nav_throttle", methods=BOTH)
def max_nav_throttle() -> Any:
    percent = number(json_body(), "throttle", 0.0, 100.0)
    console().service.set_throttle_limit(percent / 100.0)
    return ok()


# -- models ----------------------------------------------------------------------------


def _action_space_label(info: dict[str, Any]) -> str:
    return {"discrete": "Discrete", "continuous": "Continuous"}.get(
        info.get("action_space_type") or "", "Unknown"
    )


@bp.route("/api/models")
def list_models() -> Any:
    """The model picker's list; a bundle that failed validation is listed but not selectable."""
    entries = [
        {
            "model_name": "model",
            "model_folder_name": info["name"],
            "model_training_algorithm": "Unknown",
            "model_action_space_type": _action_space_label(info),
            "model_sensors": ["Camera"],
            "is_select_disabled": bool(info.get("error")),
        }
        for info in console().service.list_models()
    ]
    sensors = {
        "camera_status": "connected",
        "stereo_status": "not_connected",
        "lidar_status": "not_connected",
    }
    return ok(models=entries, sensor_status=sensors)


@bp.route("/api/uploaded_model_list")
def uploaded_model_list() -> Any:
    """A bare list, as DeepRacer answers (tools index it by ``name``)."""
    return jsonify(
        [
            {
                "name": info["name"],
                "size": f"{info.get('size_bytes', 0) / 1e6:.1f}M",
                "creation_time": info.get("mtime"),
                "status": "Error" if info.get("error") else "Ready",
                "training_algorithm": "Unknown",
                "action_space_type": _action_space_label(info),
                "sensors": "Camera",
            }
            for info in console().service.list_models()
        ]
    )


@bp.route("/api/uploadModels", methods=BOTH)
@model_upload
def upload_models() -> Any:
    name = models.install_upload()
    return ok(message="Model uploaded successfully to your vehicle", name=name)


@bp.route("/api/models/<folder>/<model_name>", methods=BOTH)
def load_model(folder: str, model_name: str) -> Any:
    console().service.load_model(folder)
    return ok()


@bp.route("/api/isModelLoading")
def is_model_loading() -> Any:
    status = console().service.status()
    if status["model_loading"]:
        state = "loading"
    elif status["model_error"]:
        state = "error"
    else:
        state = "loaded" if status["model"] else "idle"
    return ok(isModelLoading=state)


@bp.route("/api/is_model_installed")
def is_model_installed() -> Any:
    name = request.args.get("filename", "")
    installed = any(info["name"] == name for info in console().service.list_models())
    message = "Model is installed" if installed else "Model is not installed"
    return jsonify(success=installed, message=message)


@bp.route("/api/deleteModels", methods=BOTH)
def delete_models() -> Any:
    names = json_body().get("filenames")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InputError("filenames must be a list of model names")
    console().service.delete_models(names)
    return ok(message="Models deleted successfully from your vehicle")


# -- calibration -----------------------------------------------------------------------


@bp.route("/api/set_calibration_mode")
@changes_state
def set_calibration_mode() -> Any:
    """A GET, as DeepRacer defines it, that stops the car: it needs the CSRF token."""
    console().service.enter_calibration()
    return ok()


@bp.route("/api/get_calibration/<kind>")
def get_calibration(kind: str) -> Any:
    channel = _channel(kind)
    cal = console().service.calibration().channel(channel)
    return ok(
        mid=to_console_units(cal.mid_ns, channel),
        min=to_console_units(cal.min_ns, channel),
        max=to_console_units(cal.max_ns, channel),
        polarity=cal.polarity,
    )


@bp.route("/api/set_calibration/<kind>", methods=BOTH)
def set_calibration(kind: str) -> Any:
    channel = _channel(kind)
    body = json_body()
    pulses = [
        from_console_units(number(body, key, -CONSOLE_RANGE, CONSOLE_RANGE), channel)
        for key in ("min", "mid", "max")
    ]
    polarity = number(body, "polarity", -1, 1)
    if polarity not in (-1, 1):
        raise InputError(f"polarity must be 1 or -1, got {shown(body['polarity'])}")
    service = console().service
    updated = ChannelCalibration(*pulses, polarity=int(polarity))
    service.save_calibration(service.calibration().with_channel(channel, updated))
    return ok()


@bp.route("/api/adjust_calibrating_wheels/<kind>", methods=BOTH)
def adjust_calibrating_wheels(kind: str) -> Any:
    channel = _channel(kind)
    pwm = number(json_body(), "pwm", -CONSOLE_RANGE, CONSOLE_RANGE)
    calibration.preview_pulse(channel, from_console_units(pwm, channel))
    return ok()


# -- device ----------------------------------------------------------------------------


@bp.route("/api/get_battery_level")
def battery_level() -> Any:
    """This car reads no battery; DeepRacer's answer for that is -1."""
    return ok(battery_level=-1)


@bp.route("/api/is_usb_connected")
def is_usb_connected() -> Any:
    return ok(is_usb_connected=False)


@bp.route("/api/get_device_info")
def device_info() -> Any:
    info = console().service.system_info()
    return ok(
        hardware_version=info.get("host", "unknown"),
        software_version=info["versions"].get("vehicle", "unknown"),
    )
