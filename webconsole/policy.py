"""What each route may be sent and who serves it, marked on its view and read by the front.

A view is private, CSRF-free on GET/HEAD and small-bodied unless marked otherwise:
``public`` (login and the page a stranger sees), ``changes_state`` (a GET that acts, as
DeepRacer's ``set_calibration_mode``), ``ends_own_login`` (DeepRacer's ``GET /logout``),
``body_limit(n)``, ``model_upload`` (its own lane,
body read as it arrives, up to the upload limit) and ``camera_stream`` (the viewers' lane).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

View = TypeVar("View", bound=Callable[..., Any])
Lane = Literal["api", "upload", "viewer"]
MULTIPART_OVERHEAD = 64 * 1024  # part headers and boundaries around an uploaded file


def public(view: View) -> View:
    """Reachable without logging in."""
    view.public = True  # type: ignore[attr-defined]
    return view


def changes_state(view: View) -> View:
    """Acts even on GET or HEAD, so it needs the CSRF token and a same-origin request."""
    view.changes_state = True  # type: ignore[attr-defined]
    return view


def ends_own_login(view: View) -> View:
    """A GET that ends only the caller's own login (DeepRacer's ``GET /logout``): no CSRF
    token is asked, as on the car. Another site cannot send it: the session cookie is
    SameSite=Strict, so a cross-site request arrives without a login to end."""
    view.ends_own_login = True  # type: ignore[attr-defined]
    return view


def body_limit(max_bytes: int) -> Callable[[View], View]:
    """A body cap other than the console's default for small JSON bodies."""

    def mark(view: View) -> View:
        view.body_limit = max_bytes  # type: ignore[attr-defined]
        return view

    return mark


def model_upload(view: View) -> View:
    """A model upload: the upload lane, the body streamed to disk as it arrives."""
    view.lane = "upload"  # type: ignore[attr-defined]
    return view


def camera_stream(view: View) -> View:
    """An endless MJPEG response: the viewers' lane, so viewers never take an API thread."""
    view.lane = "viewer"  # type: ignore[attr-defined]
    return view


def is_public(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, "public", False))


def acts_on_safe_methods(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, "changes_state", False))


def only_ends_own_login(view: Callable[..., Any] | None) -> bool:
    return bool(getattr(view, "ends_own_login", False))


def lane_of(view: Callable[..., Any] | None) -> Lane:
    return getattr(view, "lane", "api")


def max_body(view: Callable[..., Any] | None, default: int, upload: int) -> int:
    """The bytes a request to ``view`` may send (``upload`` for a model upload)."""
    if lane_of(view) == "upload":
        return upload + MULTIPART_OVERHEAD
    if lane_of(view) == "viewer":
        return 0
    return getattr(view, "body_limit", default)
