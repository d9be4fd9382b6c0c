"""A console served as the car serves it (webconsole.server.start_console), with short
deadlines so that attacks which wait on them finish in a second or two."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest

from vehicle.config import ServerLimits, Settings
from vehicle.service.facade import VehicleService
from webconsole.credentials import PASSWORD_ENV
from webconsole.server import ConsoleHandle, start_console

from ..conftest import PASSWORD
from .wire import Session, Target, log_in

QUICK = ServerLimits(
    header_timeout_s=1.5,
    idle_timeout_s=1.5,
    body_timeout_s=1.0,
    min_body_rate=64 * 1024,
    write_timeout_s=2.0,
    tls_handshake_timeout_s=1.5,
)


@pytest.fixture
def serve(
    service: VehicleService, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., tuple[ConsoleHandle, Target]]]:
    """Start a console with ``limits`` (QUICK by default), over TLS if asked."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    handles: list[ConsoleHandle] = []

    def start(
        limits: ServerLimits = QUICK, tls: bool = False, **console: object
    ) -> tuple[ConsoleHandle, Target]:
        configured = replace(settings, console=replace(settings.console, limits=limits, **console))
        handle = start_console(service, configured, host="127.0.0.1", port=0, tls=tls)
        handles.append(handle)
        return handle, Target.of(handle.url, handle.certificate.cert if tls else None)

    yield start
    for handle in handles:
        handle.stop()


@pytest.fixture
def target(serve) -> Target:
    return serve()[1]


@pytest.fixture
def operator(target: Target) -> Session:
    return log_in(target, PASSWORD)


@pytest.fixture
def operator_for() -> Callable[[Target], Session]:
    """Log in to a console started with ``serve``."""
    return lambda target: log_in(target, PASSWORD)
