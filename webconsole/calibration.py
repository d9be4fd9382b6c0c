"""The calibration page and our JSON API: live preview pulses, save, reset, import, export.

Previews need calibration mode (the governor refuses raw pulses otherwise) and a throttle
preview returns to neutral by itself, so the page re-sends while a button is held.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, render_template, request

from calibration.deepracer import to_deepracer
from calibration.model import CHANNELS, PULSE_CEILING_NS, PULSE_FLOOR_NS, Channel
from calibration.store import FORMATS, parse_calibration, to_native
from webconsole.context import console
from webconsole.policy import MULTIPART_OVERHEAD, body_limit
from webconsole.responses import InputError, choice, json_body, number, ok, shown
from webconsole.uploads import uploaded_file

bp = Blueprint("calibration", __name__)

MAX_IMPORT_BYTES = 64 * 1024  # a calibration file is a few hundred bytes


@bp.route("/calibration")
def page() -> Any:
    return render_template("calibration.html", page="calibration")


@bp.route("/api/v1/calibration")
def get() -> Any:
    return ok(
        calibration=to_native(console().service.calibration()),
        calibrating=console().service.status()["state"] == "calibrating",
    )


@bp.route("/api/v1/calibration", methods=["PUT"])
def save() -> Any:
    """Our file format as the body: validated whole before anything changes."""
    calibration = parse_calibration(json_body())
    console().service.save_calibration(calibration)
    return ok(calibration=to_native(calibration))


@bp.route("/api/v1/calibration/reset", methods=["POST"])
def reset() -> Any:
    console().service.reset_calibration()
    return ok(calibration=to_native(console().service.calibration()))


@bp.route("/api/v1/calibration/enter", methods=["POST"])
def enter() -> Any:
    console().service.enter_calibration()
    return ok()


@bp.route("/api/v1/calibration/exit", methods=["POST"])
def leave() -> Any:
    console().service.exit_calibration()
    return ok()


@bp.route("/api/v1/calibration/preview", methods=["POST"])
def preview() -> Any:
    body = json_body()
    channel = choice(body, "channel", CHANNELS)
    preview_pulse(channel, round(number(body, "ns", PULSE_FLOOR_NS, PULSE_CEILING_NS)))
    return ok()


def preview_pulse(channel: Channel, ns: int) -> None:
    """Refuse, rather than silently drop, a preview outside calibration mode."""
    service = console().service
    if service.status()["state"] != "calibrating":
        raise InputError("not in calibration mode: press Start calibrating first")
    service.preview_pulse(channel, ns)


@bp.route("/api/v1/calibration/export")
def export() -> Any:
    fmt = request.args.get("format", "native")
    if fmt not in FORMATS:
        raise InputError(f"format must be one of {', '.join(FORMATS)}, got {shown(fmt)}")
    calibration = console().service.calibration()
    data = to_deepracer(calibration) if fmt == "deepracer" else to_native(calibration)
    return Response(
        json.dumps(data, indent=2, sort_keys=True) + "\n",
        mimetype="application/json",
        headers={"Content-Disposition": 'attachment; filename="calibration.json"'},
    )


@bp.route("/api/v1/calibration/import", methods=["POST"])
@body_limit(MAX_IMPORT_BYTES + MULTIPART_OVERHEAD)
def import_file() -> Any:
    """Our file or DeepRacer's ``calibration.json``, told apart by its content."""
    raw = uploaded_file().stream.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        raise InputError(f"a calibration file is at most {MAX_IMPORT_BYTES // 1024} KB")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"the calibration file is not valid JSON: {exc}") from exc
    calibration = parse_calibration(data)
    console().service.save_calibration(calibration)
    return ok(calibration=to_native(calibration))
