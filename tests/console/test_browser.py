"""The console in headless Chromium (Debian's, never a downloaded one), against the real
service and server: log in, set the speed limit, drive with the joystick, upload and load a
model, see the bundled one, calibrate, watch the camera and the loop's figures. Screenshots
go to /tmp (desktop and phone size)."""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from calibration.model import ChannelCalibration
from vehicle.core.camera import SyntheticSource
from vehicle.core.pwm.mock import MockPwm
from vehicle.service.facade import VehicleService
from webconsole.server import ConsoleHandle

from .conftest import PASSWORD, bundle_dir, bundle_tar

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1200, "height": 900}
SCREENSHOTS = Path("/tmp")
WAIT_S = 15.0

pytestmark = pytest.mark.browser

if not CHROMIUM.exists():
    reason = f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests"
    if os.environ.get("VEHICLE_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"VEHICLE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason, allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")
sync_api.expect.set_options(timeout=WAIT_S * 1000)


def eventually(condition: Callable[[], bool], what: str) -> None:
    """Wait for something the browser makes happen at the car (generous bound, no timing)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser, console: ConsoleHandle) -> Iterator[Callable[..., object]]:
    contexts = []

    def open_page(viewport: dict = DESKTOP, *, log_in: bool = True):
        context = browser.new_context(ignore_https_errors=True, viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(WAIT_S * 1000)
        page.goto(console.url)
        if log_in:
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            wait_for_drive_page(page)
        return page

    yield open_page
    for context in contexts:
        context.close()


def wait_for_drive_page(page) -> None:
    """Until the drive page has shown its first status: its script has run and listens to
    the controls (the markup alone arrives earlier, and a control used then does nothing)."""
    page.wait_for_selector("#joystick")
    sync_api.expect(page.locator("#limit-value")).to_have_text(re.compile(r"^\d+%$"))


def shoot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)


def test_login_and_throttle_limit(open_page, service: VehicleService) -> None:
    page = open_page(PHONE, log_in=False)
    shoot(page, "login-phone")
    page.fill("#password", "wrong password")
    page.click("button[type=submit]")
    assert page.locator(".error").inner_text() == "Wrong password"
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    wait_for_drive_page(page)
    page.set_viewport_size(DESKTOP)
    page.locator("#limit").fill("35")
    eventually(lambda: service.status()["throttle_limit"] == 0.35, "the new throttle limit")
    sync_api.expect(page.locator("#limit-value")).to_have_text("35%")


def test_joystick_drives_and_release_stops(
    open_page, service: VehicleService, pwm: MockPwm
) -> None:
    service.set_throttle_limit(1.0)
    mid = service.calibration().throttle.mid_ns
    page = open_page(PHONE)
    page.click("[data-mode=manual]")
    page.click("#start")
    eventually(lambda: service.status()["state"] == "manual", "the car to start")
    # The model's choice is shown as advice only, beside the pulses really on the outputs.
    sync_api.expect(page.locator("#action-note")).to_be_visible()
    sync_api.expect(page.locator("#pulse-throttle")).to_have_text(f"{mid // 1000} µs")
    box = page.locator("#joystick").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    page.mouse.move(cx - box["width"] * 0.3, cy - box["height"] * 0.45, steps=5)
    eventually(lambda: pwm.current["throttle"] < mid, "forward throttle pulses")  # polarity -1
    eventually(lambda: pwm.current["steering"] > 1_450_000, "steering to the left")
    count = len(pwm.history)
    eventually(lambda: len(pwm.history) > count + 3, "repeated commands while held")
    shoot(page, "drive-phone")
    page.mouse.up()
    eventually(lambda: pwm.current["throttle"] == mid, "neutral after letting go")
    page.click("#stop")
    eventually(lambda: service.status()["state"] == "disarmed", "the car to stop")


def test_camera_frames_arrive(open_page) -> None:
    page = open_page()
    # Polled from Python: the page's CSP (rightly) forbids the eval wait_for_function needs.
    eventually(
        lambda: page.evaluate("document.getElementById('camera').naturalWidth") == 160,
        "a camera frame in the page",
    )
    sync_api.expect(page.locator("#latency")).to_have_text("– / –")  # no model: no steps
    sync_api.expect(page.locator("#loop-hz")).to_have_text("–")
    shoot(page, "drive-desktop")


def test_upload_and_load_a_model(open_page, service: VehicleService, tmp_path: Path) -> None:
    bundle = tmp_path / "browser-model.tar.gz"
    bundle.write_bytes(bundle_tar())
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a bundle")
    page = open_page()
    page.goto(page.url.rstrip("/") + "/models")
    page.set_input_files("#bundle", str(junk))
    page.click("#upload button[type=submit]")
    page.wait_for_selector("#message.error")
    assert page.locator("tr[data-name]").count() == 0
    page.set_input_files("#bundle", str(bundle))
    page.click("#upload button[type=submit]")
    row = page.locator("tr[data-name='browser-model']")
    row.wait_for()
    row.get_by_role("button", name="Load").click()
    eventually(lambda: service.status()["model"] == "browser-model", "the model to load")
    sync_api.expect(page.locator("#loaded")).to_have_text("browser-model")
    page.set_viewport_size(PHONE)
    shoot(page, "models-phone")


def test_calibrate_steering_centre(open_page, service: VehicleService, pwm: MockPwm) -> None:
    page = open_page()
    page.goto(page.url.rstrip("/") + "/calibration")
    sync_api.expect(page.locator("#steering-mid_ns")).to_have_value("1450")
    page.click("#enter")
    eventually(lambda: service.status()["state"] == "calibrating", "calibration mode")
    # The page reloads the calibration after entering: edit only once that has landed.
    page.wait_for_load_state("networkidle")
    centre = page.locator("[data-channel=steering] [data-key=mid_ns]")
    centre.locator("button.step[data-step='5']").click()
    eventually(lambda: pwm.current["steering"] == 1_455_000, "the preview pulse")
    page.click("#save")
    eventually(lambda: service.calibration().steering.mid_ns == 1_455_000, "the saved centre")
    page.set_viewport_size(PHONE)
    shoot(page, "calibration-phone")
    page.click("#exit")
    eventually(lambda: service.status()["state"] == "disarmed", "calibration to end")


# What each end of a channel does, by the sign of the normalised command (+1: left, forward).
MEANINGS = {
    "steering": {-1: "Full right", 0: "Centre", 1: "Full left"},
    "throttle": {-1: "Full reverse", 0: "Stopped", 1: "Full forward"},
}
TESTS = {"Full left": "fully left", "Full forward": "forward at full speed", "Stopped": "stop"}


def expected_labels(channel: ChannelCalibration, meanings: dict[int, str]) -> dict[str, str]:
    """Each pulse field's label, from the mapping the car drives with (not from the page)."""
    at = {channel.min_ns: "min_ns", channel.mid_ns: "mid_ns", channel.max_ns: "max_ns"}
    return {at[channel.to_pulse(command)]: name for command, name in meanings.items()}


def test_calibration_labels_follow_polarity(
    open_page, service: VehicleService, pwm: MockPwm
) -> None:
    page = open_page(PHONE)
    page.goto(page.url.rstrip("/") + "/calibration")
    sync_api.expect(page.locator("#throttle-mid_ns")).to_have_value("1446")

    def check(name: str, channel: ChannelCalibration) -> None:
        for key, label in expected_labels(channel, MEANINGS[name]).items():
            row = page.locator(f"[data-channel={name}] [data-key={key}]")
            sync_api.expect(row.locator(".meaning")).to_have_text(label)
            if label in TESTS:
                sync_api.expect(row.locator(".test-note")).to_contain_text(TESTS[label])

    saved = service.calibration()
    assert saved.throttle.polarity == -1  # the stock car: min is full forward
    assert expected_labels(saved.throttle, MEANINGS["throttle"])["min_ns"] == "Full forward"
    for name in MEANINGS:
        check(name, saved.channel(name))
    shoot(page, "calibration-labels-phone")
    page.click("#enter")
    eventually(lambda: service.status()["state"] == "calibrating", "calibration mode")
    forward = page.locator("[data-channel=throttle] .pulse", has_text="Full forward")
    forward.get_by_role("button", name="Test").click()
    eventually(lambda: pwm.current["throttle"] == saved.throttle.to_pulse(1.0), "full forward")
    for name in MEANINGS:  # flipped on the page, not saved: the labels follow at once
        page.locator(f"[data-channel={name}] .reverse").click()
        channel = saved.channel(name)
        check(name, replace(channel, polarity=-channel.polarity))
    shoot(page, "calibration-flipped-phone")
    page.set_viewport_size(DESKTOP)
    shoot(page, "calibration-flipped-desktop")
    assert service.calibration() == saved
    page.click("#exit")
    eventually(lambda: service.status()["state"] == "disarmed", "calibration to end")


class TestWithTheBundledModel:
    """The car as shipped: models/default given with --model, outside the store."""

    @pytest.fixture
    def service(self, make_linked, tmp_path: Path) -> VehicleService:
        shipped = bundle_dir(tmp_path / "shipped" / "default")
        return make_linked(source=SyntheticSource(fps=30.0), model_path=shipped).running().service

    def test_models_page_lists_it_as_bundled(self, open_page) -> None:
        page = open_page()
        page.goto(page.url.rstrip("/") + "/models")
        row = page.locator("tr[data-name='default']")
        sync_api.expect(row.locator(".tag")).to_have_text("bundled")
        sync_api.expect(row).to_contain_text("Loaded")
        sync_api.expect(row).to_contain_text("cannot be deleted")
        assert row.get_by_role("button", name="Delete").count() == 0
        sync_api.expect(row.get_by_role("button", name="Load")).to_be_disabled()
        sync_api.expect(page.locator("#loaded")).to_have_text("default")
        assert "No models yet" not in page.locator("#model-rows").inner_text()
        shoot(page, "models-bundled-desktop")
        page.set_viewport_size(PHONE)
        shoot(page, "models-bundled-phone")

    def test_drive_page_rounds_its_figures(self, open_page) -> None:
        page = open_page(PHONE)
        sync_api.expect(page.locator("#latency")).to_have_text(re.compile(r"^\d+\.\d / \d+\.\d$"))
        sync_api.expect(page.locator("#loop-hz")).to_have_text(re.compile(r"^\d+\.\d$"))
        sync_api.expect(page.locator("#steer")).to_have_text(re.compile(r"^-?\d\.\d\d$"))
        shoot(page, "drive-bundled-phone")

    def test_system_page_rounds_its_figures(self, open_page, service: VehicleService) -> None:
        eventually(lambda: service.status()["frame_seq"] > 10, "the loop to step")
        page = open_page()
        page.goto(page.url.rstrip("/") + "/system")
        page.wait_for_selector("#facts dt")
        assert "vehicle" in page.locator("#facts").inner_text()

        def fact(term: str) -> str:
            return page.locator(f"#facts dt:text-is('{term}') + dd").inner_text()

        assert re.fullmatch(r"\d+\.\d / \d+\.\d ms", fact("Latency p50 / p99")), fact(
            "Latency p50 / p99"
        )
        assert re.fullmatch(r"\d+ steps, \d+\.\d Hz", fact("Loop")), fact("Loop")
        assert re.fullmatch(r"(\d+\.\d\d ?){3}", fact("Load average")), fact("Load average")
        assert re.fullmatch(r"\d+ s|\d+ min \d+ s", fact("Uptime")), fact("Uptime")
        shoot(page, "system-desktop")
        page.set_viewport_size(PHONE)
        shoot(page, "system-phone")


# The community console's calls, made from a page of ours the way its code makes them: axios
# with the page's CSRF meta token in a header on every POST/PUT, JSON bodies, relative URLs.
COMMUNITY_API = """
() => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const call = async (method, path, body) => {
    const init = {method, headers: {"X-CSRF-Token": token}, credentials: "same-origin"};
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers["Content-Type"] = "application/json";
    }
    const response = await fetch("/api/" + path, init);
    return {status: response.status, data: await response.json()};
  };
  window.dr = {
    get: (path) => call("GET", path),
    post: (path, body) => call("POST", path, body === undefined ? {} : body),
    put: (path, body) => call("PUT", path, body === undefined ? {} : body),
    upload: (name, b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const form = new FormData();
      form.append("file", new Blob([bytes], {type: "application/gzip"}), name);
      return call("PUT", "uploadModels", form);
    },
  };
}
"""


def test_the_community_consoles_calls_work_from_a_page(
    open_page, service: VehicleService, pwm: MockPwm
) -> None:
    page = open_page()
    page.evaluate(COMMUNITY_API)

    def api(method: str, path: str, *args) -> dict:
        answer = page.evaluate(f"([a, b]) => window.dr.{method}(a, b)", [path, *args][:2])
        assert answer["status"] == 200, (path, answer)
        return answer["data"]

    # Every page: battery, network, supported routes, health.
    assert api("get", "get_battery_level") == {"success": True, "battery_level": -1}
    assert api("get", "get_network_details")["success"]
    supported = api("get", "supported_apis")["apis_supported"]
    assert {"/api/emergency_stop", "/api/get_device_status", "/api/get_time"} <= set(supported)
    assert api("get", "get_device_status")["success"]

    # Home: sensors enable the camera toggles; the camera as the console embeds it.
    assert api("get", "get_sensor_status")["camera_status"] == "connected"
    assert api("get", "models")["sensor_status"]["camera_status"] == "connected"
    assert api("post", "drive_mode", {"drive_mode": "auto"}) == {"success": True}
    page.evaluate(
        """() => {
          const img = document.createElement("img");
          img.id = "community-camera";
          img.src = "route?topic=/camera_pkg/display_mjpeg&width=480&height=360"
            + "&qos_profile=sensor_data";
          document.body.appendChild(img);
        }"""
    )
    eventually(
        lambda: page.evaluate("document.getElementById('community-camera').naturalWidth") == 480,
        "the camera scaled to 480x360 in the page",
    )
    assert page.evaluate("document.getElementById('community-camera').naturalHeight") == 360

    # Models: upload under its file name, list, load, and the loading poll.
    encoded = base64.b64encode(bundle_tar()).decode()
    uploaded = page.evaluate(
        "([n, b]) => window.dr.upload(n, b)", ["Community car.tar.gz", encoded]
    )
    assert uploaded["data"]["success"], uploaded
    listed = api("get", "uploaded_model_list")
    assert [m["name"] for m in listed] == ["Community car"]
    assert api("get", "is_model_installed?filename=Community%20car")["success"]
    assert api("post", "models/Community car/model") == {"success": True}
    assert api("get", "isModelLoading")["isModelLoading"] == "loaded"
    assert service.status()["model"] == "Community car"
    assert api("post", "start_stop", {"start_stop": "start"})["success"]
    assert api("post", "max_nav_throttle", {"throttle": 42})["success"]
    assert service.status()["throttle_limit"] == pytest.approx(0.42)
    assert api("post", "start_stop", {"start_stop": "stop"})["success"]

    # Calibration, as the recalibrate-steering page runs it.
    assert api("post", "start_stop", {"start_stop": "stop"})["success"]
    assert api("get", "set_calibration_mode")["success"]
    assert api("get", "get_calibration/angle")["mid"] == -5.0
    assert api("put", "adjust_calibrating_wheels/angle", {"pwm": -20})["success"]
    eventually(lambda: pwm.current["steering"] == 1_300_000, "the steering preview")
    body = {"mid": -4, "min": -30, "max": 20, "polarity": 1}
    assert api("post", "set_calibration/angle", body)["success"]
    assert service.calibration().steering.mid_ns == 1_460_000
    assert api("post", "start_stop", {"start_stop": "stop"})["success"]

    # Settings: about, tail light, SSH (not managed here), clock, updates.
    assert api("get", "get_device_info")["ros_distro"] == "--"
    assert api("post", "set_led_color", {"red": 255, "green": 0, "blue": 255})["success"]
    assert api("get", "get_led_color") == {"success": True, "red": 255, "green": 0, "blue": 255}
    assert pwm.led == (255 * 39_215, 0, 255 * 39_215)
    ssh = api("get", "isSshEnabled")
    assert ssh["success"] is False and ssh["reason"]
    assert api("get", "get_time")["success"]
    assert api("get", "is_software_update_available")["success"] is False

    # Logs.
    logs = api("get", "logs/SYS/200")
    assert logs["success"] and isinstance(logs["data"], str)
    shoot(page, "community-calls-desktop")
