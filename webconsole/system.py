"""The system page and its API: versions, uptime, temperature, loop health, recent logs.

Logs come from the service's in-memory buffer; no request names a file, so there is nothing
to traverse (DeepRacer's log route read any path it was given).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from webconsole.context import console
from webconsole.responses import ok, query_int

bp = Blueprint("system", __name__)

MAX_LOG_LINES = 500


@bp.route("/system")
def page() -> Any:
    return render_template("system.html", page="system")


@bp.route("/api/v1/system")
def info() -> Any:
    return ok(system=console().service.system_info())


@bp.route("/api/v1/logs")
def logs() -> Any:
    n = query_int("n", 100, 1, MAX_LOG_LINES)
    return ok(lines=console().service.recent_logs(n))
