"""DeepRacer's device-console API, a drop-in for the car's own server, so that racers'
scripts and the community's console work unchanged.

Routes, bodies, answers and status codes follow aws-deepracer-webserver-pkg and the
community car's version of it: a refusal is status 200 with ``"success": false`` and the
reason (see ``shape``), fields are read as leniently as the car reads them (see ``fields``).
Unlike the original, names never become unchecked paths, every field is range-checked, and
every route but the pages needs a session and, to change anything, the CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from werkzeug.exceptions import RequestEntityTooLarge

from vehicle.service.client import DriveUnavailable
from webconsole.context import console
from webconsole.deepracer import calibration, control, device, models, pages, system
from webconsole.deepracer.shape import refusal
from webconsole.uploads import InsufficientStorage

bp = Blueprint("deepracer", __name__)
for part in (pages, control, models, calibration, device, system):
    bp.register_blueprint(part.bp)


@bp.errorhandler(ValueError)
def _refused(exc: ValueError) -> Any:
    return refusal(str(exc) or type(exc).__name__)


@bp.errorhandler(DriveUnavailable)
def _drive_away(exc: DriveUnavailable) -> Any:
    return refusal(f"Unable to reach the drive process: {exc}")


@bp.errorhandler(InsufficientStorage)
def _no_room(exc: InsufficientStorage) -> Any:
    return refusal(exc.description or "not enough free disk space for this upload")


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(exc: RequestEntityTooLarge) -> Any:
    limit_mb = console().settings.max_upload_bytes / (1024 * 1024)
    return refusal(f"the upload is larger than the limit of {limit_mb:g} MB")
