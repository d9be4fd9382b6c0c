"""The console over a real socket: the front, HTTPS with the self-signed certificate, and a
client shaped like DeepRacer's tools (csrf meta from GET /, form login, JSON routes)."""

from __future__ import annotations

import http.cookiejar
import json
import logging
import re
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import replace
from urllib.parse import urlsplit

import pytest

from vehicle.config import Settings
from vehicle.core.pwm.mock import MockPwm
from vehicle.service.facade import VehicleService
from webconsole.credentials import PASSWORD_ENV
from webconsole.server import ConsoleError, ConsoleHandle, start_console

from .conftest import CSRF_META, PASSWORD


class DeepRacerClient:
    """What racers' scripts do: a cookie session, the CSRF header on every call."""

    def __init__(self, base: str, context: ssl.SSLContext | None) -> None:
        self.base = base.rstrip("/")
        self.jar = http.cookiejar.CookieJar()
        handlers = [urllib.request.HTTPCookieProcessor(self.jar)]
        if context is not None:
            handlers.append(urllib.request.HTTPSHandler(context=context))
        self.opener = urllib.request.build_opener(*handlers)
        self.csrf = ""

    def open(self, method: str, path: str, body: bytes | None = None, headers=None):
        request = urllib.request.Request(
            self.base + path, data=body, method=method, headers=headers or {}
        )
        return self.opener.open(request, timeout=10)

    def login(self, password: str) -> str:
        page = self.open("GET", "/").read().decode()
        self.csrf = CSRF_META.search(page).group(1)
        body = f"password={urllib.request.quote(password)}".encode()
        headers = {"X-CSRFToken": self.csrf, "Content-Type": "application/x-www-form-urlencoded"}
        return self.open("POST", "/login", body, headers).read().decode()

    def json(self, method: str, path: str, payload: dict | None = None) -> dict:
        headers = {"X-CSRFToken": self.csrf, "Content-Type": "application/json"}
        body = None if payload is None else json.dumps(payload).encode()
        return json.loads(self.open(method, path, body, headers).read())


def test_deepracer_client_over_https(
    console: ConsoleHandle, service: VehicleService, pwm: MockPwm
) -> None:
    assert console.url.startswith("https://127.0.0.1:")
    context = ssl.create_default_context(cafile=str(console.certificate.cert))
    client = DeepRacerClient(console.url, context)
    assert json.loads(client.login(PASSWORD)) == {"redirect": "/home"}  # DeepRacer's answer
    assert 'id="joystick"' in client.open("GET", "/home").read().decode()
    cookies = {cookie.name: cookie for cookie in client.jar}
    assert set(cookies) == {"vehicle_session", "deepracer_token"}
    assert all(cookie.secure for cookie in cookies.values())
    assert cookies["vehicle_session"].has_nonstandard_attr("HttpOnly")
    assert not cookies["deepracer_token"].has_nonstandard_attr("HttpOnly")

    assert client.json("PUT", "/api/drive_mode", {"drive_mode": "manual"}) == {"success": True}
    assert client.json("PUT", "/api/max_nav_throttle", {"throttle": 50})["success"]
    assert client.json("PUT", "/api/start_stop", {"start_stop": "start"})["success"]
    drive = {"angle": -0.5, "throttle": 0.0, "max_speed": 0.5}
    assert client.json("PUT", "/api/manual_drive", drive)["success"]
    assert pwm.current["steering"] == 1_575_000  # angle -0.5 steers half left
    assert client.json("PUT", "/api/start_stop", {"start_stop": "stop"})["success"]
    assert client.json("GET", "/api/get_calibration/angle")["mid"] == -5.0
    assert client.json("GET", "/api/models")["models"] == []
    assert client.json("GET", "/api/v1/status")["status"]["state"] == "disarmed"

    stream = client.open("GET", "/route?topic=/camera_pkg/display_mjpeg&width=480&height=360")
    assert stream.headers["Content-Type"].startswith("multipart/x-mixed-replace")
    assert stream.read(200).startswith(b"--frame\r\nContent-Type: image/jpeg")
    stream.close()


def test_without_login_the_socket_answers_401(console: ConsoleHandle) -> None:
    context = ssl.create_default_context(cafile=str(console.certificate.cert))
    client = DeepRacerClient(console.url, context)
    with pytest.raises(urllib.error.HTTPError) as exc:
        client.json("GET", "/api/models")
    assert exc.value.code == 401


def test_stop_closes_the_port(service: VehicleService, settings: Settings, monkeypatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    handle = start_console(service, settings, host="127.0.0.1", port=0)
    assert handle.url.startswith("http://")  # loopback: plain HTTP by default
    assert handle.certificate is None
    port = urlsplit(handle.url).port
    client = DeepRacerClient(handle.url, None)
    client.login(PASSWORD)
    assert client.json("GET", "/api/isModelLoading")["success"]
    stream = client.open("GET", "/stream.mjpg")  # an open viewer must not hold up the stop
    stream.read(100)
    handle.stop()
    stream.close()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_a_busy_port_is_a_clear_error(service: VehicleService, settings: Settings, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConsoleError, match="cannot serve the console"):
            start_console(service, settings, host="127.0.0.1", port=port)
    with pytest.raises(ConsoleError, match="port"):
        start_console(service, replace(settings), host="127.0.0.1", port=70000)
    limits = replace(settings.console.limits, header_timeout_s=0)
    broken = replace(settings, console=replace(settings.console, limits=limits))
    with pytest.raises(ConsoleError, match="header_timeout_s must be positive"):
        start_console(service, broken, host="127.0.0.1", port=0)


def test_a_generated_password_reaches_stderr_once_and_never_the_console(
    service: VehicleService,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The log the console serves (Recent log, /api/v1/logs) must never hold the password."""
    caplog.set_level(logging.DEBUG)  # everything logged reaches the service's buffer
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    handle = start_console(service, settings, host="127.0.0.1", port=0)
    try:
        err = capsys.readouterr().err
        shown = re.findall(r"console password \(shown once.*\): (\S+)$", err, re.M)
        assert len(shown) == 1, err
        password = shown[0]
        client = DeepRacerClient(handle.url, None)
        assert json.loads(client.login(password)) == {"redirect": "/home"}  # it works
        served = client.json("GET", "/api/v1/logs?n=500")["lines"]
        assert any("console serving at" in line for line in served)  # the log is served...
        assert not [line for line in served if password in line]  # ...without the password
        assert not [line for line in service.recent_logs(500) if password in line]
    finally:
        handle.stop()
    again = start_console(service, settings, host="127.0.0.1", port=0)  # stored: not shown
    again.stop()
    assert "console password" not in capsys.readouterr().err
