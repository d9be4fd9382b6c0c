"""Login, logout, the session guard, CSRF and the same-origin check.

Every route needs a live login except those marked ``public`` (the login page and ``GET /``,
which shows the login page to a stranger) and static files. API routes answer 401 without
one, pages redirect to the login page. A login is held on the server (sessions.py): logout,
a new password or its age ends it, whoever holds a copy of the cookie.

Every state change carries the session's CSRF token in ``X-CSRFToken`` or ``X-CSRF-Token``
(the login form may send it as ``csrf_token``), as DeepRacer's console and the tools written
for it do, and when the client names where it comes from (``Origin``, else ``Referer``), it
must be this console. A state change is any method but GET, HEAD and OPTIONS, and any method
at all on a view marked ``changes_state`` (DeepRacer's GET ``set_calibration_mode``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlsplit

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
from webconsole.credentials import MAX_PASSWORD_LEN
from webconsole.policy import acts_on_safe_methods, body_limit, is_public, public
from webconsole.responses import fail, ok

bp = Blueprint("auth", __name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIXES = ("/api/", "/route", "/stream")
CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")
MARKER_COOKIE = "deepracer_token"  # a JS-readable "logged in" marker; the session is HttpOnly
CSRF_FIELD = "csrf_token"
LOGIN_KEY = "login"  # the session's server-side login id
LOGIN_BODY_LIMIT = 4 * 1024


def csrf_token() -> str:
    """The session's token, made on first use and kept across login (DeepRacer's tools
    read it from ``GET /`` before logging in and send it ever after)."""
    if CSRF_FIELD not in session:
        session[CSRF_FIELD] = secrets.token_urlsafe(32)
    return session[CSRF_FIELD]


def _fingerprint(password_hash: str) -> str:
    """Ties a login to the password it was opened with: a new password ends every login."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def logged_in() -> bool:
    held = session.get(LOGIN_KEY)
    ctx = console()
    return isinstance(held, str) and ctx.sessions.is_live(held, _fingerprint(ctx.password_hash()))


def _csrf_ok() -> bool:
    expected = session.get(CSRF_FIELD)
    sent = next((request.headers[h] for h in CSRF_HEADERS if h in request.headers), None)
    if sent is None and request.endpoint == "auth.login":
        sent = request.form.get(CSRF_FIELD)
    return bool(expected and sent) and hmac.compare_digest(str(sent), str(expected))


def _same_origin() -> bool:
    """Browsers name the page a request comes from; tools name none and are let through
    (they still need the CSRF token). ``Origin: null`` names no page and is refused."""
    claimed = request.headers.get("Origin") or request.headers.get("Referer")
    if claimed is None:
        return True
    parts = urlsplit(claimed)
    return parts.scheme == request.scheme and parts.netloc.lower() == request.host.lower()


def _wants_json() -> bool:
    return request.path.startswith(API_PREFIXES) or (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"
    )


def changes_state(view: Any) -> bool:
    return request.method not in SAFE_METHODS or acts_on_safe_methods(view)


def may_enter(view: Any) -> bool:
    """Whether this request may reach ``view`` as far as logging in goes."""
    return is_public(view) or request.endpoint == "static" or logged_in()


@bp.before_app_request
def guard() -> Any:
    """Authentication, then origin and CSRF, before any view runs (and before any body is
    read: the front has not read a stranger's body at all)."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if view is None:
        return None  # 404/405 answer for themselves and reveal nothing
    if not may_enter(view):
        if _wants_json():
            return fail("login required", 401)
        return redirect(url_for("auth.login_page"))
    if changes_state(view):
        if not _same_origin():
            return fail("refused: the request comes from another site (Origin/Referer)", 403)
        if not _csrf_ok():
            return fail(
                "missing or wrong CSRF token: send the page's csrf-token as X-CSRFToken", 403
            )
    return None


@bp.app_context_processor
def template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token}


def render_login(error: str | None = None, status: int = 200) -> Response:
    response = Response(render_template("login.html", error=error), status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _login_failure(reason: str, status: int) -> Response:
    if status == 401 and not _from_our_page():
        # DeepRacer's clients read a wrong password as 200 with the text "failure".
        return Response("failure", 200, mimetype="text/plain")
    if _wants_json():
        response = jsonify(success=False, reason=reason)
        response.status_code = status
        return response
    return render_login(reason, status)


@bp.get("/login")
@public
def login_page() -> Any:
    return redirect(url_for("drive.index")) if logged_in() else render_login()


@bp.post("/login")
@public
@body_limit(LOGIN_BODY_LIMIT)
def login() -> Any:
    """DeepRacer's login: a form POST with the field ``password``."""
    ctx = console()
    address = request.remote_addr or "unknown"
    if not ctx.limiter.allow(address):
        response = _login_failure("Too many login attempts: wait a minute and try again", 429)
        response.headers["Retry-After"] = str(ctx.limiter.retry_after(address))
        return response
    password = request.form.get("password", "")
    password_hash = ctx.password_hash()
    if (
        not password
        or len(password) > MAX_PASSWORD_LEN
        or not check_password_hash(password_hash, password)
    ):
        return _login_failure("Wrong password", 401)
    _end_login()
    session[LOGIN_KEY] = ctx.sessions.open(_fingerprint(password_hash))
    csrf_token()
    if _from_our_page():
        response = redirect(url_for("drive.index"), 303)
    else:
        response = jsonify(redirect="/home")  # DeepRacer's answer, status 200
    response.set_cookie(
        MARKER_COOKIE,
        secrets.token_urlsafe(16),
        httponly=False,  # read by the community console's JavaScript: it carries no authority
        samesite="Strict",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response


@bp.post("/logout")
def logout() -> Any:
    end_session()
    response = ok() if _wants_json() else redirect(url_for("auth.login_page"), 303)
    response.delete_cookie(MARKER_COOKIE)
    return response


def _from_our_page() -> bool:
    """Our login page posts a form with the token as a field; DeepRacer's clients (the
    stock and community consoles, racers' scripts) send it in a header and read 200."""
    return CSRF_FIELD in request.form and not any(h in request.headers for h in CSRF_HEADERS)


def end_session() -> None:
    """Ends the login on the server (a copy of the cookie is worth nothing afterwards)
    and clears the session."""
    _end_login()
    session.clear()


def _end_login() -> None:
    held = session.get(LOGIN_KEY)
    if isinstance(held, str):
        console().sessions.close(held)
