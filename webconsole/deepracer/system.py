"""System routes: the console password, and what this car does not manage.

SSH, Wi-Fi, software updates and the time zone belong to the operating system here (its own
tools, its package manager), not to the car's software: those routes answer in the car's
shape with ``success: false`` and the reason, and ``supported_apis`` leaves them out. None of
them runs a command.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, jsonify
from werkzeug.security import check_password_hash

from webconsole.context import console
from webconsole.credentials import PASSWORD_ENV, read_password_hash, store_password
from webconsole.deepracer.fields import body, text
from webconsole.deepracer.shape import unmanaged
from webconsole.responses import InputError, ok

bp = Blueprint("system", __name__)

BOTH = ["PUT", "POST"]
OS_MANAGES = "is managed by the operating system on this car, not by its software"
SSH = f"SSH {OS_MANAGES} (systemctl, passwd)"
WIFI = f"Wi-Fi {OS_MANAGES} (nmcli, netplan)"
UPDATES = f"Software {OS_MANAGES} (apt, pip)"
TIMEZONE = f"The time zone {OS_MANAGES} (timedatectl)"
NO_UPDATE_STATUS = "data: status:checking|update_pct:0 1\n\n"  # the car's "nothing to report"


# (route, methods, reason, the car's other fields in its failure answer)
REFUSED: list[tuple[str, list[str], str, dict[str, bool]]] = [
    ("/api/isSshEnabled", ["GET"], SSH, {"isSshEnabled": False}),
    ("/api/enableSsh", ["GET"], SSH, {"isSshEnabled": False}),
    ("/api/disableSsh", ["GET"], SSH, {"isSshEnabled": False}),
    ("/api/isSshDefaultPasswordChanged", ["GET"], SSH, {"isDefaultSshPasswordChanged": False}),
    ("/api/resetSshPassword", BOTH, SSH, {}),
    ("/api/wifi_reset", ["POST"], WIFI, {}),
    ("/api/is_software_update_available", ["GET"], UPDATES, {}),
    ("/api/begin_software_update", ["GET", "POST"], UPDATES, {}),
    ("/api/get_mandatory_update_status", ["GET"], UPDATES, {}),
    ("/api/set_mandatory_update_status", BOTH, UPDATES, {}),
    ("/api/set_timezone", ["POST"], TIMEZONE, {}),
]


def _refuser(reason: str, fields: dict[str, bool]) -> Callable[[], Response]:
    def refuse() -> Response:
        return jsonify(success=False, reason=reason, **fields)

    return unmanaged(refuse)


for rule, methods, reason, fields in REFUSED:
    bp.add_url_rule(rule, rule.removeprefix("/api/"), _refuser(reason, fields), methods=methods)


@bp.route("/api/available_wifi_info")
@unmanaged
def available_wifi_info() -> Any:
    """The car answers a bare list of networks; none are offered here."""
    return jsonify([])


@bp.route("/api/update_status")
@unmanaged
def update_status() -> Any:
    """The car's event stream, with its one "nothing to report" event."""
    return Response(NO_UPDATE_STATUS, content_type="text/event-stream")


@bp.route("/api/password", methods=["POST"])
def change_password() -> Any:
    """The console password, as the car changes it (a GET, which the car also takes, would
    change it without a CSRF check: refused). Every session ends, the caller's too."""
    data = body()
    old, new = text(data, "old_password"), text(data, "new_password")
    ctx = console()
    if os.environ.get(PASSWORD_ENV):
        raise InputError(f"the password is set by {PASSWORD_ENV} for this run; change it there")
    if not check_password_hash(ctx.password_hash(), old):
        raise InputError("The password is incorrect. Provide your current password.")
    path = ctx.service.settings.password_path
    store_password(path, new)
    ctx.password_hash.replace(read_password_hash(path))
    return ok()
