"""What every request handler needs, held by the app (``app.extensions``), never a global."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app

from vehicle.config import ConsoleSettings
from webconsole.credentials import PasswordHash
from webconsole.ratelimit import LoginRateLimiter
from webconsole.sessions import SessionRegistry

if TYPE_CHECKING:
    from vehicle.service.facade import VehicleService

EXTENSION_KEY = "vehicle_console"


@dataclass
class ConsoleContext:
    service: VehicleService
    settings: ConsoleSettings
    password_hash: PasswordHash  # call it for the current hash
    limiter: LoginRateLimiter
    sessions: SessionRegistry
    upload_dir: Path | None = None  # None: the system's temporary directory
    stopping: threading.Event = field(default_factory=threading.Event)  # ends camera streams


def console() -> ConsoleContext:
    return current_app.extensions[EXTENSION_KEY]
