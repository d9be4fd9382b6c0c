"""Forged requests: every route, every method (GET and HEAD included), sent by a logged-in
browser without the CSRF token or from another origin, changes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from calibration.store import to_native
from vehicle.service.facade import VehicleService
from webconsole.auth import SAFE_METHODS
from webconsole.policy import acts_on_safe_methods, only_ends_own_login

from ..conftest import Api


def routes(app: Flask):
    """(endpoint, method, url) for every rule and every method it answers, HEAD and
    OPTIONS included; path variables filled in."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or only_ends_own_login(app.view_functions[rule.endpoint]):
            continue  # the logout GETs: see test_a_get_logout_ends_only_the_callers_login
        url = re.sub(r"<(?:\w+:)?(\w+)>", "x", rule.rule)
        for method in sorted(rule.methods):
            yield rule.endpoint, method, url


def acts(app: Flask, endpoint: str, method: str) -> bool:
    return method not in SAFE_METHODS or acts_on_safe_methods(app.view_functions[endpoint])


def snapshot(service: VehicleService, api: Api) -> dict[str, Any]:
    status = service.status()
    return {
        "status": {k: status[k] for k in ("state", "mode", "throttle_limit", "model", "running")},
        "calibration": to_native(service.calibration()),
        "models": [m["name"] for m in service.list_models()],
        "logged_in": api.client.get("/api/v1/status").status_code == 200,
    }


def send(api: Api, method: str, url: str, headers: dict[str, str]) -> tuple[int, dict | None]:
    """The status and the JSON answer (None for pages, streams and HEAD)."""
    response = api.client.open(url, method=method, json={}, headers=headers, buffered=False)
    try:
        if response.mimetype == "application/json" and method != "HEAD":
            return response.status_code, response.get_json()
        return response.status_code, None  # camera streams never end: do not read them
    finally:
        response.close()


def test_the_map_has_state_changing_gets(app: Flask) -> None:
    gets = {e for e, m, _ in routes(app) if m == "GET" and acts(app, e, m)}
    assert gets == {"deepracer.calibration.set_calibration_mode"}
    logouts = {e for e, view in app.view_functions.items() if only_ends_own_login(view)}
    assert logouts == {"deepracer.pages.logout_page"}


def test_a_get_logout_ends_only_the_callers_login(app: Flask, api: Api, service) -> None:
    """DeepRacer's GET /logout takes no token, as on the car: it changes nothing but the
    caller's own login, and another site's request never carries the SameSite=Strict
    cookie, so it has no login to end."""
    before = snapshot(service, api)
    assert "SameSite=Strict" in app.test_client().get("/").headers["Set-Cookie"]
    assert send(api, "GET", "/logout", {})[0] == 200
    after = snapshot(service, api)
    assert after == {**before, "logged_in": False}


@pytest.mark.parametrize("method_filter", ["GET", "HEAD", "OPTIONS", "other"])
def test_no_route_acts_without_the_csrf_token(
    app: Flask, api: Api, service: VehicleService, method_filter: str
) -> None:
    checked = 0
    for endpoint, method, url in routes(app):
        if (method if method in ("GET", "HEAD", "OPTIONS") else "other") != method_filter:
            continue
        before = snapshot(service, api)
        status, _ = send(api, method, url, {})
        assert snapshot(service, api) == before, (endpoint, method, url)
        if acts(app, endpoint, method):
            assert status == 403, (endpoint, method, url, status)
        checked += 1
    assert checked >= 10


@pytest.mark.parametrize(
    "origin",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
        {"Origin": "https://localhost"},  # right host, wrong scheme
        {"Referer": "http://evil.example/page"},
    ],
)
def test_a_foreign_origin_is_refused_even_with_the_token(
    app: Flask, api: Api, service: VehicleService, origin: dict[str, str]
) -> None:
    for endpoint, method, url in routes(app):
        if not acts(app, endpoint, method):
            continue
        before = snapshot(service, api)
        status, answer = send(api, method, url, {"X-CSRFToken": api.token, **origin})
        assert status == 403, (endpoint, method, url)
        assert answer is None or "another site" in answer["reason"]
        assert snapshot(service, api) == before


def test_the_consoles_own_origin_is_accepted(api: Api, service: VehicleService) -> None:
    for headers in ({"Origin": "http://localhost"}, {"Referer": "http://localhost/calibration"}):
        response = api("GET", "/api/set_calibration_mode", headers=headers)
        assert response.status_code == 200, response.json
        assert service.status()["state"] == "calibrating"
        api("POST", "/api/v1/calibration/exit")


def test_set_calibration_mode_keeps_its_get_with_the_token(api: Api, service) -> None:
    assert api.client.get("/api/set_calibration_mode").status_code == 403
    assert api.client.head("/api/set_calibration_mode").status_code == 403
    assert service.status()["state"] == "disarmed"
    for header in ("X-CSRFToken", "X-CSRF-Token"):  # DeepRacer's console sends either
        response = api.client.get("/api/set_calibration_mode", headers={header: api.token})
        assert response.json == {"success": True}
        assert service.status()["state"] == "calibrating"
        api("POST", "/api/v1/calibration/exit")


def test_head_login_with_a_form_does_not_log_in(app: Flask) -> None:
    from ..conftest import PASSWORD

    client = app.test_client()
    client.get("/")
    response = client.open("/login", method="HEAD", data={"password": PASSWORD})
    assert response.status_code == 200
    assert client.get("/api/v1/status").status_code == 401
