"""One JSON shape for success and one for failure, and typed reads of request bodies.

Success is ``{"success": true, ...}``; failure is ``{"success": false, "reason": "..."}``
with a 4xx status. Every field is checked where it enters, with the field's name in the
message, so a bad request changes nothing.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Response, jsonify, request


class InputError(ValueError):
    """A request whose body or parameters cannot be used."""


def ok(**fields: Any) -> Response:
    return jsonify(success=True, **fields)


def fail(reason: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(success=False, reason=reason), status


def json_body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("expected a JSON object as the request body")
    return body


def number(body: dict[str, Any], key: str, low: float, high: float) -> float:
    """A finite number within [low, high]; booleans and strings are mistakes, not numbers."""
    if key not in body:
        raise InputError(f"{key} is required")
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(f"{key} must be a number between {low:g} and {high:g}, got {value!r}")
    if not low <= value <= high:
        raise InputError(f"{key} must be between {low:g} and {high:g}, got {value!r}")
    return float(value)


def choice(body: dict[str, Any], key: str, options: tuple[str, ...]) -> str:
    value = body.get(key)
    if value not in options:
        raise InputError(f"{key} must be one of {', '.join(options)}, got {value!r}")
    return value


def query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise InputError(f"{name} must be between {low} and {high}, got {value}")
    return value
