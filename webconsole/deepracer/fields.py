"""Request bodies read as leniently as DeepRacer's server reads them, and checked.

The car reads its JSON whatever the Content-Type, and turns many fields with ``int()``, so
tools send numbers as strings ("12") or as floats where whole numbers are meant. Here a
number may be a JSON number or a numeric string; a whole-number field truncates toward zero,
as ``int()`` does. Booleans, NaN and infinities are never numbers. Every value is checked
against its range before anything changes.
"""

from __future__ import annotations

import math
from typing import Any

from calibration.fields import finite_number
from webconsole.responses import InputError, json_body, shown


def body() -> dict[str, Any]:
    return json_body(force=True)


def number(data: dict[str, Any], key: str, low: float, high: float) -> float:
    """A finite number (or numeric string) within [low, high]."""
    if data.get(key) is None:
        raise InputError(f"{key} is required")
    value = data[key]
    parsed: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        parsed = float(value) if finite_number(value) else None  # 10**400: no OverflowError
    elif isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            parsed = None
    if parsed is None or not math.isfinite(parsed):
        raise InputError(f"{key} must be a number, got {shown(value)}")
    if not low <= parsed <= high:
        raise InputError(f"{key} must be between {low:g} and {high:g}, got {shown(value)}")
    return parsed


def whole(data: dict[str, Any], key: str, low: int, high: int) -> int:
    """A number truncated toward zero (as the car's ``int()``), within [low, high]."""
    value = math.trunc(number(data, key, -math.inf, math.inf))
    if not low <= value <= high:
        raise InputError(f"{key} must be between {low} and {high}, got {shown(data[key])}")
    return value


def text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        raise InputError(f"{key} must be set.")
    if not isinstance(value, str):
        raise InputError(f"{key} must be text, got {shown(value)}")
    return value
