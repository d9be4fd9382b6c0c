"""One JSON shape for success and one for failure, and typed reads of request bodies.

Success is ``{"success": true, ...}``; failure is ``{"success": false, "reason": "..."}``
with a 4xx status. Every field is checked where it enters, with the field's name in the
message, so a bad request changes nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from calibration.fields import finite_number

SHOWN_CHARS = 60  # of a client's value echoed in an error message


class InputError(ValueError):
    """A request whose body or parameters cannot be used."""


def ok(**fields: Any) -> Response:
    return jsonify(success=True, **fields)


def fail(reason: str, status: int = 400) -> tuple[Response, int]:
    return jsonify(success=False, reason=reason), status


def shown(value: Any) -> str:
    """A client's value for an error message: its repr, cut short (never echo a megabyte)."""
    try:
        text = repr(value)
    except ValueError:  # an int too long to print (sys.get_int_max_str_digits)
        text = f"<{type(value).__name__}>"
    if len(text) > SHOWN_CHARS:
        text = f"{text[:SHOWN_CHARS]}... ({len(text)} characters)"
    return text


def json_body(*, force: bool = False) -> dict[str, Any]:
    """The body as a JSON object (``force``: whatever the Content-Type says, as DeepRacer's
    server reads it). Nesting deeper than the parser's recursion limit is a bad request like
    any other malformed JSON, not a server error."""
    try:
        body = request.get_json(force=force, silent=True)
    except RecursionError:
        raise InputError("the JSON body is nested too deeply") from None
    if not isinstance(body, dict):
        raise InputError("expected a JSON object as the request body")
    return body


def number(body: dict[str, Any], key: str, low: float, high: float) -> float:
    """A finite number within [low, high]; booleans and strings are mistakes, not numbers."""
    if key not in body:
        raise InputError(f"{key} is required")
    value = body[key]
    if not finite_number(value):
        raise InputError(f"{key} must be a number between {low:g} and {high:g}, got {shown(value)}")
    if not low <= value <= high:
        raise InputError(f"{key} must be between {low:g} and {high:g}, got {shown(value)}")
    return float(value)


def choice(body: dict[str, Any], key: str, options: tuple[str, ...]) -> str:
    value = body.get(key)
    if value not in options:
        raise InputError(f"{key} must be one of {', '.join(options)}, got {shown(value)}")
    return value


def query_int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"{name} must be a whole number, got {shown(raw)}") from None
    if not low <= value <= high:
        raise InputError(f"{name} must be between {low} and {high}, got {shown(value)}")
    return value
