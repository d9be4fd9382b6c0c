"""The car's page routes: ``/home``, and the two that end a session with a GET.

``/home`` is ``/`` (the console, or the login page with its CSRF token for a stranger).
``GET /logout`` and ``/redirect_login`` end the session and answer the login page, as the
car does; the community console calls ``/redirect_login`` to log out. Both need a session,
as on the car, so a stranger gets 401. The JS-readable ``deepracer_token`` marker some
consoles look for is cleared with the session.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from webconsole import drive
from webconsole.auth import MARKER_COOKIE, end_session, render_login
from webconsole.policy import ends_own_login, public

bp = Blueprint("pages", __name__)


@bp.route("/home")
@public
def home() -> Any:
    return drive.index()


@bp.route("/logout", methods=["GET"])
@bp.route("/redirect_login", methods=["GET", "POST"])
@ends_own_login
def logout_page() -> Response:
    end_session()
    response = render_login()
    response.delete_cookie(MARKER_COOKIE)
    return response


@bp.route("/auth")
def auth() -> Response:
    """The car's session check (nginx asks it before every request): 200 while logged in."""
    return Response("", mimetype="text/plain")
