"""Operator settings that survive a restart: throttle limit, drive mode, active model, and
the tail light's colour."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from vehicle.atomic import atomic_write_json
from vehicle.core.taillight import Colour, check_colour

log = logging.getLogger(__name__)

DRIVE_MODES = ("manual", "autonomous")


def check_throttle_limit(fraction: float) -> float:
    """The console's "maximum speed": a fraction in [0, 1]."""
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        raise ValueError(f"throttle limit must be a number, got {fraction!r}")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"throttle limit must be between 0 and 1 (0-100 %), got {fraction}")
    return float(fraction)


def check_mode(mode: str) -> str:
    if mode not in DRIVE_MODES:
        raise ValueError(f"drive mode must be one of {', '.join(DRIVE_MODES)}, got {mode!r}")
    return mode


@dataclass(frozen=True)
class RuntimeState:
    throttle_limit: float = 0.5
    mode: str = "manual"
    active_model: str | None = None
    led: Colour | None = None  # None: never set, the light is left as it is

    def __post_init__(self) -> None:
        check_throttle_limit(self.throttle_limit)
        check_mode(self.mode)
        if self.led is not None:
            if not isinstance(self.led, list | tuple) or len(self.led) != 3:
                raise ValueError(f"led must be [red, green, blue], got {self.led!r}")
            object.__setattr__(self, "led", check_colour(*self.led))  # JSON gives a list

    def with_(self, **changes: object) -> RuntimeState:
        return replace(self, **changes)


def load_runtime_state(path: Path) -> RuntimeState:
    """The saved state; defaults (logged) when missing or unreadable, so the car still boots."""
    try:
        raw = json.loads(Path(path).read_text())
        return RuntimeState(**{k: raw[k] for k in asdict(RuntimeState()) if k in raw})
    except FileNotFoundError:
        return RuntimeState()
    except (OSError, ValueError, TypeError) as exc:
        log.warning("ignoring unreadable %s (%s); using defaults", path, exc)
        return RuntimeState()


def save_runtime_state(path: Path, state: RuntimeState) -> None:
    atomic_write_json(path, asdict(state))
