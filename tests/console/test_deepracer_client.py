"""A client written the way the community's scripts drive a DeepRacer (deepracer-vehicle-api,
awsdeepracer_control and their kin), against the real server over HTTPS: one cookie session,
the CSRF token from ``GET /``'s meta tag, a form login with redirects off, then JSON with the
token in ``X-CSRF-Token`` (the community console's spelling); URLs built as
``"https://car/" + "/login"``, so every path starts with ``//`` (nginx merges the slashes on
the car, our front does here); any answer but 200 is an error to such a script.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
import uuid
from http.cookies import SimpleCookie
from urllib.parse import quote, urlsplit

import cv2
import numpy as np
import pytest

from vehicle.core.pwm.mock import MockPwm
from vehicle.service.facade import VehicleService
from webconsole.server import ConsoleHandle

from .conftest import CSRF_META, PASSWORD, bundle_tar

# The car answers a good login 200 {"redirect": "/home"}; scripts accept 200 or 302.
LOGIN_STATUSES = (200, 302)
CSRF_HEADER = "X-CSRF-Token"


class ScriptError(RuntimeError):
    """What a script raises on any answer but 200 (``raise_for_status``)."""


class CommunityScript:
    def __init__(self, url: str, cafile: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "", parts.port or 443
        self.context = ssl.create_default_context(cafile=cafile)
        self.cookies: dict[str, str] = {}
        self.csrf = ""
        self.referer = f"https://{self.host}:{self.port}/"

    def send(
        self, method: str, path: str, body: bytes | None = None, headers: dict | None = None
    ) -> http.client.HTTPResponse:
        """One request, redirects never followed, cookies kept."""
        connection = http.client.HTTPSConnection(
            self.host, self.port, context=self.context, timeout=15
        )
        sent = {"Referer": self.referer, **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection.request(method, "/" + path, body=body, headers=sent)  # base URL + "/path"
        response = connection.getresponse()
        for header in response.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                if morsel.value:
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return response

    def login(self, password: str) -> None:
        page = self.send("GET", "/").read().decode()
        self.csrf = CSRF_META.search(page).group(1)
        form = f"password={quote(password)}&csrf_token={quote(self.csrf)}".encode()
        response = self.send(
            "POST",
            "/login",
            form,
            {"Content-Type": "application/x-www-form-urlencoded", CSRF_HEADER: self.csrf},
        )
        answer = response.read()
        if response.status not in LOGIN_STATUSES or answer == b"failure":
            raise ScriptError(f"login failed: {response.status} {answer[:40]!r}")
        if "deepracer_token" not in self.cookies:
            raise ScriptError("login answered without the deepracer_token cookie")

    def call(self, method: str, path: str, payload: dict | None = None):
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", CSRF_HEADER: self.csrf}
        response = self.send(method, path, body, headers)
        data = response.read()
        if response.status != 200:
            raise ScriptError(f"{method} {path}: {response.status} {data[:200]!r}")
        return json.loads(data)

    def upload(self, path: str, filename: str, data: bytes) -> dict:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{filename}"\r\nContent-Type: application/gzip\r\n\r\n'
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            CSRF_HEADER: self.csrf,
        }
        response = self.send("PUT", path, body, headers)
        answer = response.read()
        if response.status != 200:
            raise ScriptError(f"upload: {response.status} {answer[:200]!r}")
        return json.loads(answer)

    def first_frame(self, path: str) -> np.ndarray:
        """The first JPEG of an MJPEG stream, decoded."""
        response = self.send("GET", path)
        assert response.status == 200
        buffer = b""
        while b"\xff\xd9" not in buffer:
            chunk = response.read1(65536)
            assert chunk, "the stream ended before a whole frame"
            buffer += chunk
        start = buffer.index(b"\xff\xd8")
        jpeg = buffer[start : buffer.index(b"\xff\xd9", start) + 2]
        response.close()
        return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_UNCHANGED)


@pytest.fixture
def script(console: ConsoleHandle) -> CommunityScript:
    client = CommunityScript(console.url, str(console.certificate.cert))
    client.login(PASSWORD)
    return client


def test_a_community_script_drives_calibrates_and_loads_a_model(
    script: CommunityScript, service: VehicleService, pwm: MockPwm
) -> None:
    info = script.call("GET", "/api/get_device_info")
    assert info["success"] and {"cpu_model", "os_version", "ram_amount"} <= info.keys()
    assert "/api/manual_drive" in script.call("GET", "/api/supported_apis")["apis_supported"]
    assert script.call("GET", "/api/get_sensor_status")["camera_status"] == "connected"

    # Manual driving, with numbers as strings where the car takes them.
    assert script.call("PUT", "/api/drive_mode", {"drive_mode": "manual"}) == {"success": True}
    assert script.call("PUT", "/api/max_nav_throttle", {"throttle": "50"})["success"]
    assert script.call("PUT", "/api/start_stop", {"start_stop": "start"})["success"]
    drive = {"angle": -0.5, "throttle": 0.0, "max_speed": 0.5}
    assert script.call("PUT", "/api/manual_drive", drive)["success"]
    assert pwm.current["steering"] == 1_575_000  # the car's category 0.5, half left
    assert script.call("PUT", "/api/start_stop", {"start_stop": "stop"})["success"]

    # A refusal is an answer, not an exception, and says why.
    refused = script.call("PUT", "/api/drive_mode", {"drive_mode": "turbo"})
    assert refused["success"] is False and "drive_mode" in refused["reason"]

    # Calibration, as the recalibrate pages do it, including their closing adjustment.
    assert script.call("GET", "/api/set_calibration_mode")["success"]
    assert script.call("PUT", "/api/adjust_calibrating_wheels/angle", {"pwm": "-20"})["success"]
    assert pwm.current["steering"] == 1_300_000
    angle = script.call("GET", "/api/get_calibration/angle")
    assert angle == {"success": True, "mid": -5.0, "min": -30.0, "max": 20.0, "polarity": 1}
    assert script.call("PUT", "/api/start_stop", {"start_stop": "stop"})["success"]
    service.exit_calibration()
    assert script.call("PUT", "/api/adjust_calibrating_wheels/angle", {"pwm": 0})["success"]

    # A model uploaded under its file name, then found, loaded and driven by that name.
    name = "Racer model (3)"
    answer = script.upload("/api/uploadModels", f"{name}.tar.gz", bundle_tar())
    assert answer["success"] and answer["message"] == "Model uploaded successfully to your vehicle"
    assert script.call("GET", f"/api/is_model_installed?filename={quote(name)}")["success"]
    assert script.call("PUT", f"/api/models/{quote(name)}/model") == {"success": True}
    assert script.call("GET", "/api/isModelLoading")["isModelLoading"] == "loaded"
    assert script.call("PUT", "/api/drive_mode", {"drive_mode": "auto"})["success"]
    assert script.call("PUT", "/api/start_stop", {"start_stop": "start"})["success"]
    assert service.status()["state"] == "autonomous"
    assert script.call("POST", "/api/emergency_stop", {})["success"]
    assert service.status()["state"] == "disarmed"

    # The camera, scaled as asked, and the tail light.
    frame = script.first_frame("/route?topic=/camera_pkg/display_mjpeg&width=480&height=360")
    assert frame.shape[:2] == (360, 480)
    assert script.call("POST", "/api/set_led_color", {"red": 0, "green": 255, "blue": "0"})[
        "success"
    ]
    assert script.call("GET", "/api/get_led_color")["green"] == 255
    assert pwm.led == (0, 255 * 39_215, 0)


def test_a_script_logs_out_with_a_get(script: CommunityScript) -> None:
    assert script.call("GET", "/api/get_battery_level")["success"]
    page = script.send("GET", "/logout")
    assert page.status == 200 and b'name="password"' in page.read()
    with pytest.raises(ScriptError, match="401"):
        script.call("GET", "/api/get_battery_level")


def test_a_script_that_polls_while_a_model_loads(
    script: CommunityScript, service: VehicleService
) -> None:
    """The load answers once the model drives; polling after it sees "loaded" at once."""
    assert script.upload("/api/uploadModels", "poll.tar.gz", bundle_tar())["success"]
    started = time.monotonic()
    assert script.call("POST", "/api/models/poll/model")["success"]
    assert time.monotonic() - started < 30
    assert script.call("GET", "/api/isModelLoading") == {
        "success": True,
        "isModelLoading": "loaded",
    }
    assert service.status()["model"] == "poll"
