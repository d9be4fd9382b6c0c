"""Login, logout, the session guard and CSRF.

Every route needs a logged-in session except those marked ``public`` (the login page and
``GET /``, which shows the login page to a stranger) and static files. API routes answer 401
without a session, pages redirect to the login page. Every state-changing request carries
the session's CSRF token in ``X-CSRFToken`` (the login form may send it as ``csrf_token``),
as DeepRacer's console and the tools written for it do.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.security import check_password_hash

from webconsole.context import console
from webconsole.responses import fail, ok

bp = Blueprint("auth", __name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIXES = ("/api/", "/route", "/stream")
CSRF_HEADER = "X-CSRFToken"
CSRF_FIELD = "csrf_token"


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as reachable without logging in."""
    view.public = True  # type: ignore[attr-defined]
    return view


def csrf_token() -> str:
    """The session's token, made on first use and kept across login (DeepRacer's tools
    read it from ``GET /`` before logging in and send it ever after)."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def _fingerprint(password_hash: str) -> str:
    """Ties a session to the password it was opened with: a new password logs everyone out."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def logged_in() -> bool:
    held = session.get("auth")
    return isinstance(held, str) and hmac.compare_digest(
        held, _fingerprint(console().password_hash)
    )


def _csrf_ok() -> bool:
    expected = session.get(CSRF_FIELD)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.endpoint == "auth.login":
        sent = request.form.get(CSRF_FIELD)
    return bool(expected and sent) and hmac.compare_digest(str(sent), str(expected))


def _wants_json() -> bool:
    return request.path.startswith(API_PREFIXES) or (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    )


@bp.before_app_request
def guard() -> Any:
    """Authentication, then CSRF, before any view runs (and before any upload is read)."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is None:
        return None  # 404/405 answer for themselves and reveal nothing
    if not (getattr(view, "public", False) or request.endpoint == "static" or logged_in()):
        if _wants_json():
            return fail("login required", 401)
        return redirect(url_for("auth.login"))
    if request.method not in SAFE_METHODS and not _csrf_ok():
        return fail("missing or wrong CSRF token: send the page's csrf-token as X-CSRFToken", 403)
    return None


@bp.app_context_processor
def template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token}


def render_login(error: str | None = None, status: int = 200) -> Response:
    response = Response(render_template("login.html", error=error), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _login_failure(reason: str, status: int) -> Response:
    if _wants_json():
        response = jsonify(success=False, reason=reason)
        response.status_code = status
        return response
    return render_login(reason, status)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    """DeepRacer's login: a form POST with the field ``password``."""
    if request.method == "GET":
        return redirect(url_for("drive.index")) if logged_in() else render_login()
    ctx = console()
    address = request.remote_addr or "unknown"
    if not ctx.limiter.allow(address):
        response = _login_failure("Too many login attempts: wait a minute and try again", 429)
        response.headers["Retry-After"] = str(ctx.limiter.retry_after(address))
        return response
    password = request.form.get("password", "")
    if not password or not check_password_hash(ctx.password_hash, password):
        return _login_failure("Wrong password", 401)
    session["auth"] = _fingerprint(ctx.password_hash)
    csrf_token()
    return ok() if _wants_json() else redirect(url_for("drive.index"), 303)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    session.clear()
    return ok() if _wants_json() else redirect(url_for("auth.login"), 303)
