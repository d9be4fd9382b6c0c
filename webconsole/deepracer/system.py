"""System routes: the console password, and what this car does not manage.

SSH, Wi-Fi, software updates and the time zone belong to the operating system here (its own
tools, its package manager), not to the car's software: those routes answer in the car's
shape with ``success: false`` and the reason, and ``supported_apis`` leaves them out. None of
them runs a command.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Blueprint, Response, jsonify
from werkzeug.security import check_password_hash

from webconsole.context import console
from webconsole.credentials import PASSWORD_ENV, read_password_hash, store_password
from webconsole.deepracer.fields import body, text
from webconsole.deepracer.shape import refusal, unmanaged
from webconsole.responses import InputError, ok

bp = Blueprint("system", __name__)

BOTH = ["PUT", "POST"]
OS_MANAGES = "is managed by the operating system on this car, not by its software"
SSH = f"SSH {OS_MANAGES} (systemctl, passwd)"
WIFI = f"Wi-Fi {OS_MANAGES} (nmcli, netplan)"
UPDATES = f"Software {OS_MANAGES} (apt, pip)"
TIMEZONE = f"The time zone {OS_MANAGES} (timedatectl)"
NO_UPDATE_STATUS = "data: status:checking|update_pct:0 1\n\n"  # the car's "nothing to report"


@bp.route("/api/isSshEnabled")
@unmanaged
def is_ssh_enabled() -> Any:
    return jsonify(success=False, isSshEnabled=False, reason=SSH)


@bp.route("/api/enableSsh")
@unmanaged
def enable_ssh() -> Any:
    return jsonify(success=False, isSshEnabled=False, reason=SSH)


@bp.route("/api/disableSsh")
@unmanaged
def disable_ssh() -> Any:
    return jsonify(success=False, isSshEnabled=False, reason=SSH)


@bp.route("/api/isSshDefaultPasswordChanged")
@unmanaged
def is_ssh_default_password_changed() -> Any:
    return jsonify(success=False, isDefaultSshPasswordChanged=False, reason=SSH)


@bp.route("/api/resetSshPassword", methods=BOTH)
@unmanaged
def reset_ssh_password() -> Any:
    return refusal(SSH)


@bp.route("/api/available_wifi_info")
@unmanaged
def available_wifi_info() -> Any:
    """The car answers a bare list of networks; none are offered here."""
    return jsonify([])


@bp.route("/api/wifi_reset", methods=["POST"])
@unmanaged
def wifi_reset() -> Any:
    return refusal(WIFI)


@bp.route("/api/is_software_update_available")
@unmanaged
def is_software_update_available() -> Any:
    return refusal(UPDATES)


@bp.route("/api/begin_software_update", methods=["GET", "POST"])
@unmanaged
def begin_software_update() -> Any:
    return refusal(UPDATES)


@bp.route("/api/get_mandatory_update_status")
@unmanaged
def get_mandatory_update_status() -> Any:
    return refusal(UPDATES)


@bp.route("/api/set_mandatory_update_status", methods=BOTH)
@unmanaged
def set_mandatory_update_status() -> Any:
    return refusal(UPDATES)


@bp.route("/api/update_status")
@unmanaged
def update_status() -> Any:
    """The car's event stream, with its one "nothing to report" event."""
    return Response(NO_UPDATE_STATUS, content_type="text/event-stream")


@bp.route("/api/set_timezone", methods=["POST"])
@unmanaged
def set_timezone() -> Any:
    return refusal(TIMEZONE)


@bp.route("/api/password", methods=["POST"])
def change_password() -> Any:
    """The console password, as the car changes it (a GET, which the car also takes, would
    change it without a CSRF check: refused). Every session ends, the caller's too."""
    data = body()
    old, new = text(data, "old_password"), text(data, "new_password")
    ctx = console()
    if os.environ.get(PASSWORD_ENV):
        raise InputError(f"the password is set by {PASSWORD_ENV} for this run; change it there")
    if not check_password_hash(ctx.password_hash, old):
        raise InputError("The password is incorrect. Provide your current password.")
    path = ctx.service.settings.password_path
    store_password(path, new)
    ctx.password_hash = read_password_hash(path)
    return ok()
