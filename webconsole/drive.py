"""The drive page and our JSON API for driving: status, mode, start/stop, limit, manual."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from vehicle.runtime_state import DRIVE_MODES
from webconsole.auth import logged_in, render_login
from webconsole.context import console
from webconsole.policy import public
from webconsole.responses import InputError, choice, json_body, number, ok, query_int

bp = Blueprint("drive", __name__)

MAX_STEPS = 600


@bp.route("/")
@public
def index() -> Any:
    """The drive page; the login page (with the CSRF meta tag) for a stranger, as DeepRacer."""
    if not logged_in():
        return render_login()
    return render_template("drive.html", page="drive")


@bp.route("/api/v1/status")
def status() -> Any:
    return ok(status=console().service.status())


@bp.route("/api/v1/steps")
def steps() -> Any:
    """One record per drive step (newest last): action, outputs, pulses, timings, state."""
    return ok(**console().service.recent_steps(query_int("n", 100, 1, MAX_STEPS)))


@bp.route("/api/v1/mode", methods=["PUT"])
def set_mode() -> Any:
    console().service.set_mode(choice(json_body(), "mode", DRIVE_MODES))
    return ok()


@bp.route("/api/v1/start", methods=["POST"])
def start() -> Any:
    console().service.start()
    return ok()


@bp.route("/api/v1/stop", methods=["POST"])
def stop() -> Any:
    console().service.stop()
    return ok()


@bp.route("/api/v1/throttle-limit", methods=["PUT"])
def throttle_limit() -> Any:
    console().service.set_throttle_limit(number(json_body(), "throttle_limit", 0.0, 1.0))
    return ok()


@bp.route("/api/v1/manual", methods=["POST"])
def manual() -> Any:
    """One joystick sample; the governor lets it drive for 500 ms, so the page repeats it."""
    body = json_body()
    steer, throttle = number(body, "steer", -1.0, 1.0), number(body, "throttle", -1.0, 1.0)
    drive_manually(steer, throttle)
    return ok()


def drive_manually(steer: float, throttle: float) -> None:
    """Refuse, rather than silently drop, a command the governor would ignore."""
    service = console().service
    if service.status()["state"] != "manual":
        raise InputError("the car is not driving in manual mode: choose Manual and press Start")
    service.manual_drive(steer, throttle)
