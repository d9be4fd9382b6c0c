"""Driving: mode, start/stop, the joystick, the autonomous speed limit, emergency stop.

``manual_drive`` maps the joystick as DeepRacer's server does (webserver_pkg's
vehicle_control.py): each axis snaps to 0.3, 0.5 or 0.8 of full, the throttle then goes
through the car's speed curve for the ``max_speed`` the console sends, and both are negated
(a joystick pushed right and up sends positive angle and negative throttle). The safety
governor still holds the result to its throttle limit, in manual driving too.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, jsonify

from webconsole import drive
from webconsole.context import console
from webconsole.deepracer.fields import body, number, text
from webconsole.responses import InputError, ok, shown

bp = Blueprint("control", __name__)

BOTH = ["PUT", "POST"]
MODES = {"manual": "manual", "auto": "autonomous", "autonomous": "autonomous"}
CONTROL_MODES = ["manual", "autonomous", "calibration"]
STEPS = (0.8, 0.5, 0.3)  # the joystick's categories, largest first
SPEED_SCALE_BOUNDS = (1.0, 5.0)  # the car's MANUAL_SPEED_SCALE_BOUNDS
SPEED_SCALES = (1.0, 0.8)  # the car's DEFAULT_SPEED_SCALES: full and half stick


def categorized(value: float) -> float:
    """0.8, 0.5 or 0.3 of full with the stick's sign (0 stays 0)."""
    for step in STEPS[:-1]:
        if abs(value) >= step:
            return math.copysign(step, value)
    return math.copysign(STEPS[-1], value) if value else 0.0


def rescaled_speed(throttle: float, max_speed: float) -> float:
    """The car's curve a*x^2 + b*x through (scale, 1.0) and (scale/2, 0.8), where the scale
    grows from 1 to 5 as ``max_speed`` falls from 1 to 0."""
    if throttle == 0.0 or max_speed == 0.0:
        return 0.0
    low, high = SPEED_SCALE_BOUNDS
    scale = low + (1 - max_speed) * (high - low)
    full, half = SPEED_SCALES
    a = (2.0 * full - 4.0 * half) / scale**2
    b = (4.0 * half - full) / scale
    return math.copysign(a * throttle**2 + b * abs(throttle), throttle)


def joystick_to_command(angle: float, throttle: float, max_speed: float) -> tuple[float, float]:
    """(steer, throttle) normalised, exactly as the car's server publishes them."""
    return -categorized(angle), -rescaled_speed(categorized(throttle), max_speed)


@bp.route("/api/drive_mode", methods=BOTH)
def drive_mode() -> Any:
    mode = text(body(), "drive_mode")
    if mode not in MODES:
        raise InputError(f"drive_mode must be manual or auto (autonomous), got {shown(mode)}")
    console().service.set_mode(MODES[mode])
    return ok()


@bp.route("/api/start_stop", methods=BOTH)
def start_stop() -> Any:
    action = text(body(), "start_stop")
    if action not in ("start", "stop"):
        raise InputError(f"start_stop must be start or stop, got {shown(action)}")
    service = console().service
    service.start() if action == "start" else service.stop()
    return ok()


@bp.route("/api/manual_drive", methods=BOTH)
def manual_drive() -> Any:
    data = body()
    command = joystick_to_command(
        number(data, "angle", -1.0, 1.0),
        number(data, "throttle", -1.0, 1.0),
        number(data, "max_speed", 0.0, 1.0),
    )
    drive.drive_manually(*command)
    return ok()


@bp.route("/api/max_nav_throttle", methods=BOTH)
def max_nav_throttle() -> Any:
    percent = number(body(), "throttle", 0.0, 100.0)
    console().service.set_throttle_limit(percent / 100.0)
    return ok()


@bp.route("/api/control_modes_available")
def control_modes_available() -> Any:
    return jsonify(control_modes_available=CONTROL_MODES, success=True)


@bp.route("/api/emergency_stop", methods=["POST"])
def emergency_stop() -> Any:
    """The community car restarts its software; here the governor stops the car at once
    (``usb_reset`` is accepted and changes nothing: no USB device is reset)."""
    console().service.emergency_stop()
    return ok()
