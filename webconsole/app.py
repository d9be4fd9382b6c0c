"""The Flask app factory: one app per service, configured from one typed settings object."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from vehicle.config import ConsoleSettings
from webconsole import auth, calibration, deepracer, drive, models, stream, system
from webconsole.context import EXTENSION_KEY, ConsoleContext, console
from webconsole.credentials import PasswordHash
from webconsole.policy import MULTIPART_OVERHEAD
from webconsole.ratelimit import LoginRateLimiter
from webconsole.responses import fail
from webconsole.sessions import SessionRegistry
from webconsole.uploads import UploadingRequest

if TYPE_CHECKING:
    from vehicle.service.facade import VehicleService

# Scripts and styles come only from our own static files: no inline script to inject into.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def create_app(
    service: VehicleService,
    console_settings: ConsoleSettings,
    secret: bytes,
    password_hash: str | PasswordHash,
    *,
    secure_cookies: bool = True,
    clock: Callable[[], float] = time.monotonic,
    upload_dir: Path | None = None,
) -> Flask:
    """The console for ``service``. ``password_hash`` is the hash, or a PasswordHash that
    follows the stored one (credentials.password_source). ``secure_cookies`` is False only
    when served over plain HTTP (localhost or ``--no-tls``), where a Secure cookie would
    never come back. Uploads are spooled to ``upload_dir`` (default: the system's temporary
    directory)."""
    if len(secret) < 32:
        raise ValueError("the session secret must be at least 32 bytes")
    app = Flask(__name__)
    app.request_class = UploadingRequest
    app.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_NAME="vehicle_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_SECURE=secure_cookies,
        MAX_CONTENT_LENGTH=console_settings.max_upload_bytes + MULTIPART_OVERHEAD,
        MAX_FORM_PARTS=16,  # Flask's MAX_FORM_MEMORY_SIZE stays: werkzeug reads 64 KiB a go
    )
    app.extensions[EXTENSION_KEY] = ConsoleContext(
        service=service,
        settings=console_settings,
        password_hash=password_hash
        if isinstance(password_hash, PasswordHash)
        else PasswordHash(password_hash),
        limiter=LoginRateLimiter(
            console_settings.login_attempts_per_minute,
            clock,
            total_per_minute=console_settings.login_attempts_per_minute_total,
        ),
        sessions=SessionRegistry(console_settings.session_max_age_s, clock),
        upload_dir=upload_dir,
    )
    for module in (auth, drive, models, calibration, system, deepracer, stream):
        app.register_blueprint(module.bp)
    app.register_error_handler(ValueError, _bad_input)
    app.register_error_handler(RequestEntityTooLarge, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    app.after_request(_harden)
    return app


def _bad_input(exc: ValueError) -> Any:
    """The service's named errors (ModelError, CalibrationError, ...) carry the reason."""
    return fail(str(exc) or type(exc).__name__, 400)


def _too_large(exc: RequestEntityTooLarge) -> Any:
    limit_mb = console().settings.max_upload_bytes / (1024 * 1024)
    return fail(f"the upload is larger than the limit of {limit_mb:g} MB", 413)


def _http_error(exc: HTTPException) -> Any:
    if request.path.startswith(auth.API_PREFIXES):
        return fail(exc.description or exc.name, exc.code or 500)
    return exc


def _harden(response: Response) -> Response:
    """Security headers, and redirects kept on this site: a Location never names a host
    (werkzeug builds its own redirects from the client's Host header)."""
    location = response.headers.get("Location")
    if location:
        parts = urlsplit(location)
        if parts.scheme or parts.netloc or location.startswith("//"):
            path = "/" + parts.path.lstrip("/")  # never "//host": that names a host too
            response.headers["Location"] = urlunsplit(("", "", path, parts.query, parts.fragment))
    for name, value in _SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if response.mimetype == "application/json":
        response.headers.setdefault("Cache-Control", "no-store")
    return response
