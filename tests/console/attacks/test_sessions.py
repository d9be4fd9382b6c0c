"""Logins live on the server: logout, a new password and age end them, whoever holds a copy
of the cookie; and the login limiter cannot be made to forget a client."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from vehicle.config import ConsoleSettings, Settings
from vehicle.service.facade import VehicleService
from webconsole.app import create_app
from webconsole.credentials import PasswordHash, store_password
from webconsole.ratelimit import LoginRateLimiter

from ..conftest import PASSWORD, SECRET, FakeClock, log_in, password_hash

COOKIE = "vehicle_session"


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s cookie (as a thief would)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def test_logout_ends_a_copied_session(app: Flask) -> None:
    client = app.test_client()
    token = log_in(client)
    thief = copy_of(app, client)
    assert thief.get("/api/v1/status").status_code == 200
    response = client.post("/logout", headers={"X-CSRFToken": token, "Accept": "application/json"})
    assert response.json == {"success": True}
    assert thief.get("/api/v1/status").status_code == 401
    assert client.get("/api/v1/status").status_code == 401


def test_a_new_password_ends_every_login_at_once(
    service: VehicleService, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "password"
    store_password(path, PASSWORD)
    app = create_app(
        service,
        settings.console,
        SECRET,
        PasswordHash(path.read_text().strip(), path),
        secure_cookies=False,
    )
    client = app.test_client()
    log_in(client)
    thief = copy_of(app, client)
    store_password(path, "a brand new password")  # `vehicle password set`, console running
    assert client.get("/api/v1/status").status_code == 401
    assert thief.get("/api/v1/status").status_code == 401
    fresh = app.test_client()
    page = fresh.get("/").get_data(as_text=True)
    token = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    old = fresh.post("/login", data={"password": PASSWORD}, headers={"X-CSRFToken": token})
    assert old.get_data(as_text=True) == "failure"
    new = fresh.post(
        "/login", data={"password": "a brand new password"}, headers={"X-CSRFToken": token}
    )
    assert new.json == {"redirect": "/home"}


def test_a_login_ends_at_its_maximum_age(service: VehicleService, settings: Settings) -> None:
    clock = FakeClock()
    console = ConsoleSettings(session_max_age_s=3600.0)
    app = create_app(service, console, SECRET, password_hash(), secure_cookies=False, clock=clock)
    client = app.test_client()
    log_in(client)
    clock.advance(3599)
    assert client.get("/api/v1/status").status_code == 200  # in use all along...
    clock.advance(2)
    assert client.get("/api/v1/status").status_code == 401  # ...and still it ends


def test_the_limiter_does_not_forget_a_blocked_client_for_a_crowd() -> None:
    clock = FakeClock()
    limiter = LoginRateLimiter(3, clock, total_per_minute=100_000, capacity=64)
    assert [limiter.allow("10.0.0.1") for _ in range(4)] == [True, True, True, False]
    for i in range(5000):  # a crowd of addresses, each within its own limit
        clock.advance(0.001)
        limiter.allow(f"10.1.{i // 250}.{i % 250}")
    assert not limiter.allow("10.0.0.1")  # still blocked: the crowd did not push it out
    clock.advance(61)
    assert limiter.allow("10.0.0.1")


def test_the_crowd_beyond_the_table_shares_one_limit() -> None:
    clock = FakeClock()
    limiter = LoginRateLimiter(3, clock, total_per_minute=100_000, capacity=4)
    for i in range(4):
        assert limiter.allow(f"10.0.0.{i}")
    overflow = [limiter.allow(f"10.9.9.{i}") for i in range(10)]
    assert overflow == [True] * 3 + [False] * 7
    assert limiter.retry_after("10.9.9.200") >= 1


def test_all_addresses_together_are_limited() -> None:
    clock = FakeClock()
    limiter = LoginRateLimiter(10, clock, total_per_minute=50)
    allowed = sum(limiter.allow(f"10.2.{i // 200}.{i % 200}") for i in range(500))
    assert allowed == 50
    clock.advance(61)
    assert limiter.allow("10.3.0.1")


def test_an_ipv6_host_cannot_escape_by_changing_address() -> None:
    limiter = LoginRateLimiter(3, FakeClock())
    results = [limiter.allow(f"2001:db8:0:1::{i:x}") for i in range(1, 6)]
    assert results == [True, True, True, False, False]
