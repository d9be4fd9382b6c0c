"""Serve the console: the Flask app behind the asyncio front (webconsole/front), in a thread.

HTTPS with a self-signed certificate unless bound to a loopback address or told otherwise
(``--no-tls``). The password, the session secret and the certificate live in the data dir.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import Flask

from vehicle.config import Settings
from webconsole.admission import admission_for
from webconsole.app import create_app
from webconsole.context import EXTENSION_KEY
from webconsole.credentials import load_or_create_secret, password_source
from webconsole.front.server import Front, check_limits, listen
from webconsole.tls import CertificatePaths, ensure_certificate, server_context
from webconsole.uploads import clear_spool

if TYPE_CHECKING:
    from vehicle.service.facade import VehicleService

log = logging.getLogger(__name__)

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class ConsoleError(ValueError):
    """A console that cannot be served as asked."""


@dataclass
class ConsoleHandle:
    """A running console: where it is, and how to stop it."""

    url: str
    certificate: CertificatePaths | None
    _front: Front
    _stopping: threading.Event

    def stop(self) -> None:
        """End the camera streams, then the server. Safe to call twice."""
        self._stopping.set()
        self._front.stop()


def use_tls(host: str, tls: bool | None) -> bool:
    """TLS unless bound to loopback; plain HTTP elsewhere only when asked for explicitly."""
    return host not in LOOPBACK_HOSTS if tls is None else tls


def _url(scheme: str, host: str, port: int) -> str:
    shown = "localhost" if host in ("", "0.0.0.0", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"{scheme}://{shown}:{port}/"


def console_app(service: VehicleService, settings: Settings, secure: bool) -> Flask:
    """The app as the car serves it: credentials from the data directory, uploads spooled
    there (what a crash left behind is cleared first)."""
    settings.uploads_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    clear_spool(settings.uploads_dir)
    return create_app(
        service,
        settings.console,
        load_or_create_secret(settings.secret_path),
        password_source(settings.password_path),
        secure_cookies=secure,
        upload_dir=settings.uploads_dir,
    )


def start_console(
    service: VehicleService,
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    tls: bool | None = None,
) -> ConsoleHandle:
    """Start serving in a background thread; port 0 picks a free port (see ``handle.url``)."""
    host = settings.console.host if host is None else host
    port = settings.console.port if port is None else port
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConsoleError(f"console port must be 0..65535, got {port!r}")
    secure = use_tls(host, tls if tls is not None else settings.console.tls)
    try:
        check_limits(settings.console.limits)
    except ValueError as exc:
        raise ConsoleError(str(exc)) from exc
    app = console_app(service, settings, secure)
    certificate = ensure_certificate(settings.tls_dir, host) if secure else None
    try:
        sock = listen(host, port)
    except OSError as exc:
        raise ConsoleError(f"cannot serve the console on {host}:{port}: {exc}") from exc
    front = Front(
        app,
        admission_for(app),
        settings.console.limits,
        sock,
        server_context(certificate) if certificate else None,
    )
    front.start()
    url = _url("https" if secure else "http", host, front.port)
    log.info("console serving at %s", url)
    return ConsoleHandle(url, certificate, front, app.extensions[EXTENSION_KEY].stopping)
