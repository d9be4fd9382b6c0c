"""Redirects stay on this site whatever Host a client claims."""

from __future__ import annotations

from flask import Flask

from .wire import Target, request

EVIL = {"Host": "evil.example"}


def test_the_login_redirect_names_no_host(target: Target) -> None:
    answer = request(target, "GET", "/models", EVIL)
    assert answer.status == 302
    assert answer.headers["location"] == "/login"


def test_werkzeugs_own_redirects_name_no_host(app: Flask) -> None:
    """Routing redirects (here: a doubled slash the front would have merged) are built by
    werkzeug from the Host header; the app cuts them back to a path."""
    client = app.test_client()
    for path, merged in (
        ("/api//v1/status", "/api/v1/status"),
        ("/api/v1//logs?n=3", "/api/v1/logs?n=3"),
    ):
        response = client.get(path, headers=EVIL)
        assert response.status_code in (301, 302, 307, 308), (path, response.status_code)
        assert response.headers["Location"] == merged
