"""The car itself: battery, sensors, tail light, network, health, clock, logs, and which of
these routes work here (``supported_apis``, the community car's list).

Readings come from the drive process (battery, camera, tail light: it has the devices) or
from read-only system files (network, health, versions); none runs a command with anything a
request sent. The log route names no file: ``SYS`` is the car's own log view.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, request

from vehicle.core.taillight import LEVELS
from vehicle.device.clock import time_info
from webconsole.context import console
from webconsole.deepracer.fields import body, whole
from webconsole.deepracer.sensors import sensor_status
from webconsole.deepracer.shape import is_unmanaged, refusal
from webconsole.responses import ok

bp = Blueprint("device", __name__)

MAX_LOG_LINES = 1000  # the car's cap
LOG_TYPES = ("SYS",)  # the car's syslog; here, the log of both processes
NO_SUCH_LOG = "Type of log does not exist!"  # the car's answer, with success true
USB_HOST = "deepracer.aws"  # the name a laptop reaches the car by over USB


@bp.route("/api/get_battery_level")
def battery_level() -> Any:
    return ok(battery_level=console().service.battery_level())


@bp.route("/api/get_sensor_status")
def get_sensor_status() -> Any:
    return ok(**sensor_status())


@bp.route("/api/get_device_info")
def device_info() -> Any:
    return ok(**console().service.device_info())


@bp.route("/api/get_device_status")
def device_status() -> Any:
    return ok(**console().service.device_status())


@bp.route("/api/is_usb_connected")
def is_usb_connected() -> Any:
    """True when a laptop is on the USB link and this page came to the car over it."""
    referer = urlsplit(request.headers.get("Referer", "")).hostname or ""
    return ok(is_usb_connected=console().service.usb_connected() and referer == USB_HOST)


@bp.route("/api/get_network_details")
def network_details() -> Any:
    return ok(**console().service.network_details())


@bp.route("/api/get_led_color")
def get_led_color() -> Any:
    available, (red, green, blue) = console().service.led()
    if not available:
        return refusal("this car has no tail light: its PWM back-end drives no LED outputs")
    return ok(red=red, green=green, blue=blue)


@bp.route("/api/set_led_color", methods=["POST"])
def set_led_color() -> Any:
    data = body()
    colour = [whole(data, name, 0, LEVELS) for name in ("red", "green", "blue")]
    console().service.set_led(*colour)
    return ok()


@bp.route("/api/get_time")
def get_time() -> Any:
    return ok(**time_info())


@bp.route("/api/server_ready")
def server_ready() -> Any:
    return ok(status=True)


@bp.route("/api/logs/<log_type>/<int:num_lines>")
def logs(log_type: str, num_lines: int) -> Any:
    """The newest lines as one text; 0 means all the car keeps (as the car's ``[-0:]``)."""
    if log_type not in LOG_TYPES:
        return ok(data=NO_SUCH_LOG)
    lines = console().service.recent_logs(min(num_lines, MAX_LOG_LINES) or MAX_LOG_LINES)
    return ok(data="".join(f"{line}\n" for line in lines))


@bp.route("/api/supported_apis")
def supported_apis() -> Any:
    """The DeepRacer routes that work on this car (the unmanaged ones are left out)."""
    views = current_app.view_functions
    routes = {
        rule.rule
        for rule in current_app.url_map.iter_rules()
        if rule.endpoint.startswith("deepracer.")
        and rule.rule.startswith("/api/")
        and not is_unmanaged(views.get(rule.endpoint))
    }
    return jsonify(success=True, apis_supported=sorted(routes))
