"""The front's questions about a request head, answered by the app before any body is read:
which lane serves it, how large a body it may send, whether to read that body at all (not a
stranger's, except for the login form) and whether an operator sent it (served first)."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, request

from webconsole.auth import logged_in, may_enter
from webconsole.context import console
from webconsole.front.lanes import OPERATOR, STRANGER
from webconsole.front.protocol import Admission, Admit
from webconsole.policy import lane_of, max_body


def admission_for(app: Flask) -> Admit:
    def admit(environ: dict[str, Any]) -> Admission:
        with app.request_context(environ):
            return _admission()

    return admit


def _admission() -> Admission:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    settings = console().settings
    operator = logged_in()
    allowed = view is not None and (operator or may_enter(view))
    lane = lane_of(view) if allowed else "api"
    return Admission(
        lane=lane,
        max_body=max_body(view, settings.limits.max_body_bytes, settings.max_upload_bytes),
        read_body=allowed,  # else 401, 404, 405 or a redirect, answered without the body
        stream_body=lane == "upload",
        priority=OPERATOR if operator else STRANGER,
    )
