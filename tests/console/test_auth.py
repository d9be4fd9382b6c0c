"""Login, the session guard, CSRF and login rate limiting."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from vehicle.config import ConsoleSettings
from vehicle.service.facade import VehicleService
from webconsole.app import create_app
from webconsole.credentials import hash_password

from .conftest import CSRF_META, PASSWORD, SECRET, FakeClock, log_in, make_app

PUBLIC = {"auth.login", "auth.login_page", "drive.index", "deepracer.pages.home", "static"}
API_PREFIXES = ("/api/", "/route", "/stream")


def every_route(app: Flask):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = re.sub(r"<int:\w+>", "1", rule.rule)
        url = re.sub(r"<(?:\w+:)?(\w+)>", "x", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def test_every_route_needs_a_session(app: Flask, service: VehicleService) -> None:
    client = app.test_client()
    routes = list(every_route(app))
    assert len(routes) > 40  # the whole API, not an empty map
    before = service.status()
    for endpoint, method, url in routes:
        response = client.open(url, method=method, json={})
        if url.startswith(API_PREFIXES):
            assert response.status_code == 401, (endpoint, method, url)
            assert response.json == {"success": False, "reason": "login required"}
        else:
            assert response.status_code == 302, (endpoint, method, url)
            assert response.headers["Location"].endswith("/login")
    after = service.status()
    assert (after["state"], after["mode"], after["throttle_limit"]) == (
        before["state"],
        before["mode"],
        before["throttle_limit"],
    )


def test_root_shows_the_login_page_with_the_csrf_meta(app: Flask) -> None:
    response = app.test_client().get("/")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert CSRF_META.search(body)
    assert 'name="password"' in body


def test_login_needs_the_csrf_token(app: Flask) -> None:
    client = app.test_client()
    client.get("/")
    response = client.post("/login", data={"password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/api/v1/status").status_code == 401


def test_login_form_may_carry_the_token_as_a_field(app: Flask) -> None:
    client = app.test_client()
    token = CSRF_META.search(client.get("/").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    assert client.get("/api/v1/status").status_code == 200


def test_wrong_password_is_refused(app: Flask) -> None:
    client = app.test_client()
    token = CSRF_META.search(client.get("/").get_data(as_text=True)).group(1)
    for password in ("wrong password", ""):
        # DeepRacer's clients (token in a header) read 200 with the text "failure"
        response = client.post(
            "/login", data={"password": password}, headers={"X-CSRFToken": token}
        )
        assert (response.status_code, response.get_data(as_text=True)) == (200, "failure")
        # our own login page (token as a form field) shows the reason
        response = client.post("/login", data={"password": password, "csrf_token": token})
        assert response.status_code == 401
        assert "Wrong password" in response.get_data(as_text=True)
    assert client.get_cookie("deepracer_token") is None
    assert client.get("/api/v1/status").status_code == 401


def test_login_then_api_and_pages_work(app: Flask) -> None:
    client = app.test_client()
    log_in(client)
    assert client.get("/api/v1/status").json["success"] is True
    page = client.get("/")
    assert 'id="joystick"' in page.get_data(as_text=True)
    assert CSRF_META.search(page.get_data(as_text=True))


def test_state_changes_need_the_csrf_header(app: Flask, service: VehicleService) -> None:
    client = app.test_client()
    token = log_in(client)
    assert client.put("/api/v1/mode", json={"mode": "autonomous"}).status_code == 403
    wrong = client.put("/api/v1/mode", json={"mode": "autonomous"}, headers={"X-CSRFToken": "x"})
    assert wrong.status_code == 403
    assert service.status()["mode"] == "manual"
    right = client.put("/api/v1/mode", json={"mode": "autonomous"}, headers={"X-CSRFToken": token})
    assert right.status_code == 200
    assert service.status()["mode"] == "autonomous"


def test_login_is_rate_limited_per_address(service: VehicleService, settings) -> None:
    clock = FakeClock()
    app = create_app(
        service,
        ConsoleSettings(login_attempts_per_minute=3),
        SECRET,
        hash_password(PASSWORD),
        secure_cookies=False,
        clock=clock,
    )
    client = app.test_client()
    token = CSRF_META.search(client.get("/").get_data(as_text=True)).group(1)

    def attempt(password: str, address: str = "10.0.0.5"):
        return client.post(
            "/login",
            data={"password": password},
            headers={"X-CSRFToken": token},
            environ_base={"REMOTE_ADDR": address},
        )

    assert [attempt("guess guess").get_data(as_text=True) for _ in range(3)] == ["failure"] * 3
    blocked = attempt(PASSWORD)
    assert blocked.status_code == 429
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    assert attempt(PASSWORD, "10.0.0.6").status_code == 200  # another address is unaffected
    clock.advance(61)
    assert attempt(PASSWORD).json == {"redirect": "/home"}


def test_a_new_password_ends_old_sessions(service: VehicleService, settings) -> None:
    client = make_app(service, settings).test_client()
    log_in(client)
    other = create_app(
        service, settings.console, SECRET, hash_password("another password"), secure_cookies=False
    )
    cookie = client.get_cookie("vehicle_session")
    fresh = other.test_client()
    fresh.set_cookie(cookie.key, cookie.value)
    assert fresh.get("/api/v1/status").status_code == 401


def test_logout_ends_the_session(api) -> None:
    assert api("POST", "/logout", headers={"Accept": "application/json"}).json["success"]
    assert api.client.get("/api/v1/status").status_code == 401


@pytest.mark.parametrize("secure", [True, False])
def test_session_cookie_flags(service: VehicleService, settings, secure: bool) -> None:
    app = create_app(
        service, settings.console, SECRET, hash_password(PASSWORD), secure_cookies=secure
    )
    client = app.test_client()
    cookie = client.get("/", base_url="https://localhost").headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert ("Secure" in cookie) is secure


def test_pages_are_hardened(app: Flask) -> None:
    headers = app.test_client().get("/").headers
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'self' only
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"


def test_secret_must_be_long(service: VehicleService, settings) -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        create_app(service, settings.console, b"dev", hash_password(PASSWORD))
