"""The car's answer shapes: 200 with ``"success": false`` and a reason on failure.

DeepRacer's server answers a refusal with status 200 and ``{"success": false, "reason":
...}``; upload and delete say ``"message"`` instead, after a fixed opening ("Failed to upload
& optimize the model"). Clients that raise on any non-200 rely on it. Views mark which
routes speak with a message, and which stand for features this car does not manage (those
answer in the car's shape, and ``supported_apis`` leaves them out).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, jsonify, request

View = Callable[..., Any]


def answers_with_message(opening: str) -> Callable[[View], View]:
    """The view's refusals say ``"message": "<opening>: <reason>"`` (upload and delete)."""

    def mark(view: View) -> View:
        view.message_opening = opening  # type: ignore[attr-defined]
        return view

    return mark


def unmanaged(view: View) -> View:
    """A route this car answers only to say it does not manage that feature."""
    view.unmanaged = True  # type: ignore[attr-defined]
    return view


def is_unmanaged(view: View | None) -> bool:
    return bool(getattr(view, "unmanaged", False))


def refusal(reason: str) -> tuple[Response, int]:
    """The car's failure answer for the current route, status 200."""
    view = current_app.view_functions.get(request.endpoint or "")
    opening = getattr(view, "message_opening", None)
    if opening is not None:
        return jsonify(success=False, message=f"{opening}: {reason}"), 200
    return jsonify(success=False, reason=reason), 200
