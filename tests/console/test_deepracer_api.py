# ruff: noqa: E501  (the table reads best one case a line)
"""DeepRacer's routes against a request -> response table written from the car's own server
(aws-deepracer-webserver-pkg, and the community car's version of it), failure shapes
included: every answer is status 200, a refusal says ``"success": false`` and why
(``"message"`` on upload and delete), numbers may come as strings, as the car reads them.

One car and one logged-in client serve the whole table; each case starts from a stopped car
in manual mode, out of calibration, with the default calibration.
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from calibration.model import Calibration
from vehicle.config import BatterySettings, ConsoleSettings, Settings
from vehicle.core.camera import SyntheticSource
from vehicle.core.pwm.mock import MockPwm
from vehicle.core.taillight import NS_PER_LEVEL
from vehicle.service.facade import VehicleService
from webconsole.deepracer.control import joystick_to_command

from .conftest import Api, LinkedCar, bundle_tar, make_app, upload, wait_loaded

STEER_MID, THROTTLE_MID = 1_450_000, 1_446_000  # DeepRacer's default calibration
JOYSTICK_REPEAT_S = 0.1  # the governor ramps the throttle up between a joystick's repeats


# -- matching answers --------------------------------------------------------------------


@dataclass(frozen=True)
class Like:
    """Any value passing ``test`` (shown as ``what`` when it fails)."""

    what: str
    test: Callable[[Any], bool]

    def __repr__(self) -> str:
        return self.what


TEXT = Like("some text", lambda v: isinstance(v, str) and bool(v))
NUMBER = Like("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool))
BOOL = Like("a boolean", lambda v: isinstance(v, bool))
LEVEL = Like("-1..10", lambda v: isinstance(v, int) and -1 <= v <= 10)
STRINGS = Like(
    "a list of text", lambda v: isinstance(v, list) and all(isinstance(s, str) for s in v)
)
LIST = Like("a list", lambda v: isinstance(v, list))


def starting(prefix: str) -> Like:
    return Like(f"text starting {prefix!r}", lambda v: isinstance(v, str) and v.startswith(prefix))


def mentioning(word: str) -> Like:
    return Like(f"text mentioning {word!r}", lambda v: isinstance(v, str) and word in v)


def matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Like):
        return expected.test(actual)
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(matches(expected[k], actual[k]) for k in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return expected == actual


def refused(reason: Any = TEXT) -> dict:
    return {"success": False, "reason": reason}


def message(text: Any) -> dict:
    return {"success": False, "message": text}


OK = {"success": True}


# -- the car and its client --------------------------------------------------------------


@dataclass
class Table:
    linked: LinkedCar
    api: Api
    settings: Settings
    pwm: MockPwm
    scratch: Path

    @property
    def service(self) -> VehicleService:
        assert self.linked.service is not None
        return self.linked.service


@pytest.fixture(scope="module")
def table_car(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("deepracer")
    settings = Settings(
        data_dir=root / "data",
        console=ConsoleSettings(viewer_max_fps=100.0),
        battery=BatterySettings(source="none"),
    )
    pwm = MockPwm()
    linked = LinkedCar(settings, pwm, source=SyntheticSource(fps=30.0)).running()
    api = Api(make_app(linked.service, settings).test_client())
    yield Table(linked, api, settings, pwm, root)
    linked.close()


@pytest.fixture
def table(table_car: Table) -> Table:
    service = table_car.service
    service.stop()
    if service.status()["state"] == "calibrating":
        service.exit_calibration()
    service.set_mode("manual")
    service.set_throttle_limit(1.0)
    if service.calibration() != Calibration():
        service.reset_calibration()
    return table_car


def start_manual(t: Table) -> None:
    t.service.start()


def installed(name: str) -> Callable[[Table], None]:
    def install(t: Table) -> None:
        archive = t.scratch / f"{name}.tar.gz"
        archive.write_bytes(bundle_tar())
        t.service.install_model(archive, archive.name)

    return install


def loaded(name: str) -> Callable[[Table], None]:
    def load(t: Table) -> None:
        installed(name)(t)
        t.service.load_model(name, wait=True)

    return load


def calibrating(t: Table) -> None:
    t.service.enter_calibration()


# -- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    method: str
    url: str
    body: Any = None  # JSON, or {"file": (bytes, filename)} for an upload
    expect: Any = field(default_factory=lambda: OK)
    before: Callable[[Table], None] | None = None
    after: Callable[[Table], None] | None = None
    upload: bool = False


def mode_is(mode: str) -> Callable[[Table], None]:
    def check(t: Table) -> None:
        assert t.service.status()["mode"] == mode

    return check


def state_is(state: str) -> Callable[[Table], None]:
    def check(t: Table) -> None:
        assert t.service.status()["state"] == state

    return check


def limit_is(fraction: float) -> Callable[[Table], None]:
    def check(t: Table) -> None:
        assert t.service.status()["throttle_limit"] == pytest.approx(fraction)

    return check


def steering_is(ns: int) -> Callable[[Table], None]:
    def check(t: Table) -> None:
        assert t.pwm.current["steering"] == ns

    return check


def calibration_is(channel: str, pulses: tuple[int, int, int, int]) -> Callable[[Table], None]:
    def check(t: Table) -> None:
        cal = t.service.calibration().channel(channel)  # type: ignore[arg-type]
        assert (cal.min_ns, cal.mid_ns, cal.max_ns, cal.polarity) == pulses

    return check


def unchanged_calibration(t: Table) -> None:
    assert t.service.calibration() == Calibration()


def led_is(rgb: tuple[int, int, int]) -> Callable[[Table], None]:
    def check(t: Table) -> None:
        assert t.pwm.led == tuple(c * NS_PER_LEVEL for c in rgb)

    return check


def model_listed(name: str, present: bool = True) -> Callable[[Table], None]:
    def check(t: Table) -> None:
        assert (name in {m["name"] for m in t.service.list_models()}) is present

    return check


JOYSTICK = {"angle": 0.2, "throttle": -0.3, "max_speed": 1.0}
SSH = {"success": False, "isSshEnabled": False, "reason": mentioning("SSH")}
DEFAULT_ANGLE = {"success": True, "mid": -5.0, "min": -30.0, "max": 20.0, "polarity": 1}
DEFAULT_THROTTLE = {"success": True, "mid": -12.0, "min": -42.0, "max": 23.0, "polarity": -1}
ANGLE_BODY = {"mid": -4, "min": -28, "max": 21, "polarity": -1}
CUSTOM_ANGLE = (1_220_000, 1_460_000, 1_710_000, -1)

CASES: dict[str, Case] = {
    # vehicle_control.py
    "drive_mode manual": Case("PUT", "/api/drive_mode", {"drive_mode": "manual"}),
    "drive_mode auto": Case("POST", "/api/drive_mode", {"drive_mode": "auto"}, after=mode_is("autonomous")),
    "drive_mode autonomous": Case("PUT", "/api/drive_mode", {"drive_mode": "autonomous"}, after=mode_is("autonomous")),
    "drive_mode unset": Case("PUT", "/api/drive_mode", {}, refused("drive_mode must be set.")),
    "drive_mode unknown": Case("PUT", "/api/drive_mode", {"drive_mode": "remote"}, refused(), after=mode_is("manual")),
    "drive_mode no JSON": Case("PUT", "/api/drive_mode", None, refused(mentioning("JSON"))),
    "start_stop start": Case("PUT", "/api/start_stop", {"start_stop": "start"}, after=state_is("manual")),
    "start_stop stop": Case("POST", "/api/start_stop", {"start_stop": "stop"}, before=start_manual, after=state_is("disarmed")),
    "start_stop unset": Case("PUT", "/api/start_stop", {}, refused("start_stop must be set.")),
    "start_stop typo": Case("PUT", "/api/start_stop", {"start_stop": "Start"}, refused(), after=state_is("disarmed")),
    "start autonomous without a model": Case("PUT", "/api/start_stop", {"start_stop": "start"}, refused(mentioning("no model")), before=lambda t: t.service.set_mode("autonomous")),
    "max_nav_throttle": Case("PUT", "/api/max_nav_throttle", {"throttle": 40}, after=limit_is(0.4)),
    "max_nav_throttle string": Case("POST", "/api/max_nav_throttle", {"throttle": "35.5"}, after=limit_is(0.355)),
    "max_nav_throttle unset": Case("PUT", "/api/max_nav_throttle", {}, refused(mentioning("throttle")), after=limit_is(1.0)),
    "max_nav_throttle too high": Case("PUT", "/api/max_nav_throttle", {"throttle": 140}, refused(), after=limit_is(1.0)),
    "max_nav_throttle bool": Case("PUT", "/api/max_nav_throttle", {"throttle": True}, refused(), after=limit_is(1.0)),
    "manual_drive": Case("PUT", "/api/manual_drive", JOYSTICK, before=start_manual, after=steering_is(1_450_000 - 75_000)),
    "manual_drive strings": Case("POST", "/api/manual_drive", {"angle": "-1", "throttle": "0", "max_speed": "0.5"}, before=start_manual, after=steering_is(1_450_000 + 200_000)),
    "manual_drive no angle": Case("PUT", "/api/manual_drive", {"throttle": 0, "max_speed": 1}, refused("angle is required"), before=start_manual),
    "manual_drive no throttle": Case("PUT", "/api/manual_drive", {"angle": 0, "max_speed": 1}, refused("throttle is required"), before=start_manual),
    "manual_drive no max_speed": Case("PUT", "/api/manual_drive", {"angle": 0, "throttle": 0}, refused("max_speed is required"), before=start_manual),
    "manual_drive angle out of range": Case("PUT", "/api/manual_drive", {**JOYSTICK, "angle": 1.5}, refused(mentioning("angle")), before=start_manual),
    "manual_drive NaN": Case("PUT", "/api/manual_drive", {**JOYSTICK, "throttle": "nan"}, refused(mentioning("throttle")), before=start_manual),
    "manual_drive not started": Case("PUT", "/api/manual_drive", JOYSTICK, refused(mentioning("manual mode"))),
    "control_modes_available": Case("GET", "/api/control_modes_available", expect={"control_modes_available": ["manual", "autonomous", "calibration"], "success": True}),
    # community: emergency_stop
    "emergency_stop driving": Case("POST", "/api/emergency_stop", {}, before=start_manual, after=state_is("disarmed")),
    "emergency_stop calibrating": Case("POST", "/api/emergency_stop", {"usb_reset": True}, before=calibrating, after=state_is("disarmed")),
    # models.py
    "models": Case("GET", "/api/models", expect={"models": [{"model_name": "model", "model_folder_name": "listed", "model_training_algorithm": "Clipped PPO", "model_action_space_type": "Discrete", "model_sensors": ["Camera"], "is_select_disabled": False}], "sensor_status": {"camera_status": "connected", "stereo_status": "not_connected", "lidar_status": "not_connected"}}, before=installed("listed")),
    "uploaded_model_list": Case("GET", "/api/uploaded_model_list", expect=[{"name": "listed", "size": TEXT, "creation_time": NUMBER, "status": "Ready", "training_algorithm": "Clipped PPO", "action_space_type": "Discrete", "sensors": "Camera"}], before=installed("listed")),
    "uploadModels": Case("PUT", "/api/uploadModels", {"file": (bundle_tar(), "My model (1).tar.gz")}, {"success": True, "message": "Model uploaded successfully to your vehicle", "name": "My model (1)"}, upload=True, after=model_listed("My model (1)")),
    "uploadModels not tar.gz": Case("POST", "/api/uploadModels", {"file": (bundle_tar(), "model.zip")}, message("Failed to upload the model. Not a .tar.gz file"), upload=True),
    "uploadModels corrupt": Case("PUT", "/api/uploadModels", {"file": (b"not gzip", "junk.tar.gz")}, message(starting("Failed to upload & optimize the model: ")), upload=True, after=model_listed("junk", False)),
    "uploadModels no file": Case("PUT", "/api/uploadModels", {"other": (b"x", "a.tar.gz")}, message(mentioning("'file'")), upload=True),
    "uploadModels hostile name": Case("PUT", "/api/uploadModels", {"file": (bundle_tar(), "x;rm -rf.tar.gz")}, message(mentioning("cannot name a model")), upload=True),
    "load model": Case("PUT", "/api/models/dr/model", before=installed("dr"), after=lambda t: t.service.status()["model"] == "dr" or pytest.fail("not loaded")),
    "load model kept name": Case("POST", "/api/models/My model (1)/model", before=installed("My model (1)")),
    "load missing model": Case("PUT", "/api/models/nothere/model", expect=refused(mentioning("nothere"))),
    "load while driving": Case("PUT", "/api/models/dr/model", before=lambda t: (installed("dr")(t), start_manual(t)), after=lambda t: (t.service.status()["model"], t.service.status()["state"]) == ("dr", "manual") or pytest.fail("not loaded while driving")),
    "isModelLoading loaded": Case("GET", "/api/isModelLoading", expect={"success": True, "isModelLoading": "loaded"}, before=loaded("dr")),
    "is_model_installed": Case("GET", "/api/is_model_installed?filename=dr", expect={"success": True, "message": "Model is installed"}, before=installed("dr")),
    "is_model_installed no": Case("GET", "/api/is_model_installed?filename=zzz", expect={"success": False, "message": "Model is not installed"}),
    "deleteModels": Case("POST", "/api/deleteModels", {"filenames": ["old"]}, {"success": True, "message": "Models deleted successfully from your vehicle"}, before=installed("old"), after=model_listed("old", False)),
    "deleteModels missing": Case("PUT", "/api/deleteModels", {"filenames": ["zzz"]}, message(starting("Failed to delete the selected models: "))),
    "deleteModels not a list": Case("POST", "/api/deleteModels", {"filenames": "old"}, message(mentioning("list")), before=installed("old"), after=model_listed("old")),
    "deleteModels loaded": Case("POST", "/api/deleteModels", {"filenames": ["dr"]}, message(mentioning("loaded")), before=loaded("dr"), after=model_listed("dr")),
    # calibration.py
    "set_calibration_mode": Case("GET", "/api/set_calibration_mode", after=state_is("calibrating")),
    "get_calibration angle": Case("GET", "/api/get_calibration/angle", expect=DEFAULT_ANGLE),
    "get_calibration throttle": Case("GET", "/api/get_calibration/throttle", expect=DEFAULT_THROTTLE),
    "get_calibration unknown": Case("GET", "/api/get_calibration/brakes", expect=refused(mentioning("angle or throttle"))),
    "set_calibration": Case("PUT", "/api/set_calibration/angle", ANGLE_BODY, after=calibration_is("steering", CUSTOM_ANGLE)),
    "set_calibration strings": Case("POST", "/api/set_calibration/angle", {k: str(v) for k, v in ANGLE_BODY.items()}, after=calibration_is("steering", CUSTOM_ANGLE)),
    "set_calibration truncates": Case("POST", "/api/set_calibration/throttle", {"mid": -12.9, "min": -42, "max": 23.5, "polarity": -1}, after=calibration_is("throttle", (1_311_000, 1_446_000, 1_603_500, -1))),
    "set_calibration mid above max": Case("PUT", "/api/set_calibration/angle", {**ANGLE_BODY, "mid": 30}, refused(), after=unchanged_calibration),
    "set_calibration polarity 0": Case("PUT", "/api/set_calibration/angle", {**ANGLE_BODY, "polarity": 0}, refused(mentioning("polarity")), after=unchanged_calibration),
    "set_calibration missing": Case("PUT", "/api/set_calibration/angle", {"mid": -4, "min": -28, "max": 21}, refused("polarity is required"), after=unchanged_calibration),
    "set_calibration far out": Case("PUT", "/api/set_calibration/angle", {**ANGLE_BODY, "min": -128}, refused(), after=unchanged_calibration),
    "set_calibration while driving": Case("PUT", "/api/set_calibration/angle", ANGLE_BODY, refused(), before=start_manual, after=unchanged_calibration),
    "adjust_calibrating_wheels": Case("PUT", "/api/adjust_calibrating_wheels/angle", {"pwm": -20}, before=calibrating, after=steering_is(1_300_000)),
    "adjust_calibrating_wheels string": Case("POST", "/api/adjust_calibrating_wheels/angle", {"pwm": "-20"}, before=calibrating, after=steering_is(1_300_000)),
    "adjust_calibrating_wheels outside calibration": Case("PUT", "/api/adjust_calibrating_wheels/angle", {"pwm": -20}, after=steering_is(STEER_MID)),
    "adjust_calibrating_wheels bad": Case("PUT", "/api/adjust_calibrating_wheels/angle", {"pwm": "left"}, refused(mentioning("pwm")), before=calibrating),
    # device_info_api.py (and the community's additions)
    "get_battery_level": Case("GET", "/api/get_battery_level", expect={"success": True, "battery_level": -1}),
    "get_sensor_status": Case("GET", "/api/get_sensor_status", expect={"success": True, "camera_status": "connected", "stereo_status": "not_connected", "lidar_status": "not_connected"}),
    "get_device_info": Case("GET", "/api/get_device_info", expect={"success": True, "hardware_version": TEXT, "software_version": TEXT, "cpu_model": TEXT, "os_version": TEXT, "disk_amount": TEXT, "ram_amount": TEXT, "ros_distro": TEXT}),
    "get_device_status": Case("GET", "/api/get_device_status", expect={"success": True, **dict.fromkeys(("cpu_percent", "cpu_temp", "cpu_freq", "cpu_freq_max", "memory_usage", "free_disk", "latency_mean", "latency_p95", "fps_mean"), NUMBER)}),
    "supported_apis": Case("GET", "/api/supported_apis", expect={"success": True, "apis_supported": STRINGS}),
    # led_api.py
    "get_led_color": Case("GET", "/api/get_led_color", expect={"success": True, "red": NUMBER, "green": NUMBER, "blue": NUMBER}),
    "set_led_color": Case("POST", "/api/set_led_color", {"red": 255, "green": "128", "blue": 0.9}, after=led_is((255, 128, 0))),
    "set_led_color out of range": Case("POST", "/api/set_led_color", {"red": 256, "green": 0, "blue": 0}, refused(mentioning("red"))),
    "set_led_color missing": Case("POST", "/api/set_led_color", {"red": 1, "green": 2}, refused("blue is required")),
    # wifi_settings.py
    "is_usb_connected": Case("GET", "/api/is_usb_connected", expect={"success": True, "is_usb_connected": False}),
    "get_network_details": Case("GET", "/api/get_network_details", expect={"success": True, "SSID": Like("text", lambda v: isinstance(v, str)), "ip_address": Like("text", lambda v: isinstance(v, str)), "is_usb_connected": BOOL}),
    "available_wifi_info": Case("GET", "/api/available_wifi_info", expect=[]),
    "wifi_reset": Case("POST", "/api/wifi_reset", {"wifi_name": "x", "wifi_password": "y"}, refused(mentioning("Wi-Fi"))),
    # software_update.py
    "server_ready": Case("GET", "/api/server_ready", expect={"success": True, "status": True}),
    "update_status": Case("GET", "/api/update_status", expect=None),  # an event stream: below
    "is_software_update_available": Case("GET", "/api/is_software_update_available", expect=refused(mentioning("Software"))),
    "begin_software_update": Case("POST", "/api/begin_software_update", {}, refused(mentioning("Software"))),
    "get_mandatory_update_status": Case("GET", "/api/get_mandatory_update_status", expect=refused(mentioning("Software"))),
    "set_mandatory_update_status": Case("PUT", "/api/set_mandatory_update_status", {"update_completed": True}, refused(mentioning("Software"))),
    # ssh_api.py
    "isSshEnabled": Case("GET", "/api/isSshEnabled", expect=SSH),
    "enableSsh": Case("GET", "/api/enableSsh", expect=SSH),
    "disableSsh": Case("GET", "/api/disableSsh", expect=SSH),
    "isSshDefaultPasswordChanged": Case("GET", "/api/isSshDefaultPasswordChanged", expect={"success": False, "isDefaultSshPasswordChanged": False, "reason": mentioning("SSH")}),
    "resetSshPassword": Case("POST", "/api/resetSshPassword", {"oldPassword": "a", "newPassword": "b"}, refused(mentioning("SSH"))),
    # community: time_api.py
    "get_time": Case("GET", "/api/get_time", expect={"success": True, "time": TEXT, "timezone": TEXT, "timezone_abbr": TEXT, "utc_offset": Like("+HHMM", lambda v: isinstance(v, str) and len(v) == 5 and v[0] in "+-"), "timezone_changed": False}),
    "set_timezone": Case("POST", "/api/set_timezone", {"timezone": "Europe/Berlin"}, refused(mentioning("time zone"))),
    # login.py
    "password wrong": Case("POST", "/api/password", {"old_password": "nope", "new_password": "n3w password"}, refused("The password is incorrect. Provide your current password.")),
    "password missing": Case("POST", "/api/password", {"old_password": "x"}, refused("new_password must be set.")),
    # vehicle_logs.py
    "logs": Case("GET", "/api/logs/SYS/5", expect={"success": True, "data": Like("log lines", lambda v: isinstance(v, str))}),
    "logs unknown type": Case("GET", "/api/logs/BASE_PATH/5", expect={"success": True, "data": "Type of log does not exist!"}),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_route_answers_as_the_car_does(table: Table, case: Case) -> None:
    if case.before is not None:
        case.before(table)
    if case.upload:
        files = {key: (io.BytesIO(data), name) for key, (data, name) in case.body.items()}
        response = table.api(case.method, case.url, data=files)
    elif case.body is None:
        response = table.api(case.method, case.url)
    else:
        response = table.api(case.method, case.url, json=case.body)
    assert response.status_code == 200, response.get_data(as_text=True)
    if case.expect is None:
        return
    answer = json.loads(response.get_data())
    assert matches(case.expect, answer), f"expected {case.expect!r}\n     got {answer!r}"
    if case.after is not None:
        case.after(table)


# -- shapes that are not JSON objects -----------------------------------------------------


def test_before_any_model_loads_the_car_says_error(api: Api) -> None:
    """ctrl_pkg's model_loading_status starts as "error"; scripts poll for "loaded"."""
    assert api("GET", "/api/isModelLoading").json == {"success": True, "isModelLoading": "error"}


def test_update_status_is_the_cars_event_stream_with_nothing_to_report(table: Table) -> None:
    response = table.api("GET", "/api/update_status")
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.get_data(as_text=True) == "data: status:checking|update_pct:0 1\n\n"


def test_logs_are_the_consoles_own_lines_newest_last(
    table: Table, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for _ in range(2):
        table.service.start()  # logs "started in manual mode"
        table.service.stop()
    data = table.api("GET", "/api/logs/SYS/2").json["data"]
    lines = data.splitlines()
    assert len(lines) == 2 and data.endswith("\n")
    assert "stopped" in lines[-1]
    everything = table.api("GET", "/api/logs/SYS/0").json["data"]
    assert len(everything.splitlines()) >= 4  # 0 is "all", as the car's lines[-0:]
    assert table.api("GET", "/api/logs/SYS/-1").status_code == 404  # the car's int converter


def test_an_upload_too_large_is_refused_in_the_cars_shape(table: Table) -> None:
    small = Settings(
        data_dir=table.settings.data_dir, console=ConsoleSettings(max_upload_bytes=1000)
    )
    api = Api(make_app(table.service, small).test_client())
    response = upload(api, bundle_tar(), "big.tar.gz", "/api/uploadModels", "PUT")
    assert response.status_code == 200
    assert matches(message(mentioning("limit")), response.json)


def test_a_drive_that_does_not_answer_is_a_refusal_not_a_500(table: Table, monkeypatch) -> None:
    from vehicle.service.client import DriveUnavailable

    def gone(*_args, **_kwargs):
        raise DriveUnavailable("the drive process did not answer")

    monkeypatch.setattr(table.service.drive, "request", gone)
    response = table.api("PUT", "/api/start_stop", json={"start_stop": "stop"})
    assert response.status_code == 200
    assert matches(refused(mentioning("did not answer")), response.json)


def test_led_colour_is_kept_and_read_back(table: Table) -> None:
    assert table.api("POST", "/api/set_led_color", json={"red": 10, "green": 20, "blue": 30}).json[
        "success"
    ]
    assert table.api("GET", "/api/get_led_color").json == {
        "success": True,
        "red": 10,
        "green": 20,
        "blue": 30,
    }
    saved = json.loads(table.settings.runtime_state_path.read_text())
    assert saved["led"] == [10, 20, 30]


def test_a_refused_led_colour_changes_nothing(table: Table) -> None:
    table.service.set_led(1, 2, 3)
    before = table.pwm.led
    for bad in ({"red": -1, "green": 0, "blue": 0}, {"red": "x", "green": 0, "blue": 0}):
        assert table.api("POST", "/api/set_led_color", json=bad).json["success"] is False
    assert table.pwm.led == before
    assert json.loads(table.settings.runtime_state_path.read_text())["led"] == [1, 2, 3]


# -- manual_drive as the car maps it --------------------------------------------------------

# The car's own table (vehicle_control.py, get_rescaled_manual_speed's docstring): for each
# stick position and maximum speed, the throttle it publishes (its sign flipped).
CAR_SPEEDS = [
    (-0.3, 0.1, 0.1383742911153119),
    (-0.5, 0.1, 0.224952741020794),
    (-0.8, 0.1, 0.3463137996219282),
    (-0.3, 0.5, 0.208),
    (-0.5, 0.5, 0.33333333333333337),
    (-0.8, 0.5, 0.5013333333333334),
    (-0.3, 1.0, 0.552),
    (-0.5, 1.0, 0.8),
    (-0.8, 1.0, 0.992),
    (0.3, 1.0, -0.552),
    (0.8, 0.5, -0.5013333333333334),
]


@pytest.mark.parametrize("stick, max_speed, published", CAR_SPEEDS)
def test_joystick_throttle_follows_the_cars_speed_curve(stick, max_speed, published) -> None:
    assert joystick_to_command(0.0, stick, max_speed)[1] == pytest.approx(published, abs=1e-12)


@pytest.mark.parametrize(
    "stick, category",
    [(0.0, 0.0), (0.01, 0.3), (0.49, 0.3), (0.5, 0.5), (0.79, 0.5), (0.8, 0.8), (1.0, 0.8)],
)
def test_joystick_axes_snap_to_the_cars_categories(stick: float, category: float) -> None:
    assert joystick_to_command(stick, 0.0, 1.0)[0] == -category
    assert joystick_to_command(-stick, 0.0, 1.0)[0] == category
    assert joystick_to_command(0.0, -stick, 1.0)[1] == pytest.approx(
        {0.0: 0.0, 0.3: 0.552, 0.5: 0.8, 0.8: 0.992}[category]
    )


def test_a_zero_max_speed_publishes_no_throttle() -> None:
    assert joystick_to_command(0.0, -1.0, 0.0) == (-0.0, -0.0)


@pytest.mark.parametrize("stick, max_speed, published", [(-0.3, 1.0, 0.552), (-0.8, 0.5, 0.501)])
def test_the_issues_table_reaches_the_outputs(table: Table, stick, max_speed, published) -> None:
    """Repeated as a joystick repeats it (the governor ramps the throttle up), the command
    settles where the car's does, and the pulse is that throttle through the calibration."""
    table.service.start()
    body = {"angle": 0.0, "throttle": stick, "max_speed": max_speed}
    for _ in range(20):
        assert table.api("PUT", "/api/manual_drive", json=body).json["success"]
        if math.isclose(table.linked.car.governor.status().throttle_norm, published, abs_tol=1e-3):
            break
        time.sleep(JOYSTICK_REPEAT_S)
    status = table.linked.car.governor.status()
    assert status.throttle_norm == pytest.approx(published, abs=1e-3)
    expected = Calibration().throttle.to_pulse(status.throttle_norm)
    assert table.pwm.current["throttle"] == expected


def test_the_throttle_limit_still_holds_manual_driving(table: Table) -> None:
    table.service.set_throttle_limit(0.3)
    table.service.start()
    body = {"angle": 0.0, "throttle": -0.8, "max_speed": 1.0}
    for _ in range(10):
        table.api("PUT", "/api/manual_drive", json=body)
        time.sleep(JOYSTICK_REPEAT_S)
    assert table.linked.car.governor.status().throttle_norm == pytest.approx(0.3)


# -- names, loading and the session routes --------------------------------------------------


def test_a_tool_finds_its_model_by_the_file_name_it_uploaded(table: Table) -> None:
    name = "physicalmodel-Fast lap (2)"
    assert upload(table.api, bundle_tar(), f"{name}.tar.gz", "/api/uploadModels", "PUT").json[
        "success"
    ]
    assert table.api("GET", f"/api/is_model_installed?filename={name}").json["success"]
    assert table.api("PUT", f"/api/models/{name}/model").json == {"success": True}
    assert wait_loaded(table.api) == "loaded"
    assert table.service.status()["model"] == name
    assert (table.settings.models_dir / name / "model.onnx").is_file()


def test_an_upload_path_is_reduced_to_its_file_name(table: Table) -> None:
    answer = upload(table.api, bundle_tar(), "../../outside.tar.gz", "/api/uploadModels", "PUT")
    assert answer.json["name"] == "outside"
    assert (table.settings.models_dir / "outside").is_dir()
    assert not (table.settings.data_dir.parent / "outside").exists()


def test_home_is_the_console_page(table: Table) -> None:
    page = table.api("GET", "/home")
    assert page.status_code == 200 and 'id="joystick"' in page.get_data(as_text=True)
    assert table.api("GET", "/auth").status_code == 200


@pytest.mark.parametrize("url", ["/logout", "/redirect_login"])
def test_logout_by_get_ends_the_session(service: VehicleService, settings: Settings, url) -> None:
    api = Api(make_app(service, settings).test_client())
    page = api("GET", url)
    assert page.status_code == 200 and 'name="password"' in page.get_data(as_text=True)
    assert "deepracer_token=;" in page.headers.get("Set-Cookie", "") or any(
        "deepracer_token=;" in value for value in page.headers.getlist("Set-Cookie")
    )
    assert api("GET", "/api/get_battery_level").status_code == 401
    assert api("GET", url, headers={"Accept": "application/json"}).status_code == 401


def test_a_new_password_ends_every_session(
    service: VehicleService, settings: Settings, monkeypatch
) -> None:
    from webconsole.credentials import PASSWORD_ENV

    from .conftest import PASSWORD, log_in

    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    app = make_app(service, settings)
    api, other = Api(app.test_client()), Api(app.test_client())
    body = {"old_password": PASSWORD, "new_password": "a new long password"}
    assert api("POST", "/api/password", json=body).json == {"success": True}
    assert other("GET", "/api/get_battery_level").status_code == 401
    assert api("GET", "/api/get_battery_level").status_code == 401
    assert settings.password_path.read_text().startswith("scrypt:")
    client = app.test_client()
    with pytest.raises(AssertionError):
        log_in(client)  # the old password no longer opens the console
    page = client.get("/")
    assert page.status_code == 200
    assert api("GET", "/api/password").status_code == 405  # a GET never changes it


def test_a_too_short_password_is_refused_and_the_old_one_stays(
    service: VehicleService, settings: Settings, monkeypatch
) -> None:
    from webconsole.credentials import PASSWORD_ENV

    from .conftest import PASSWORD

    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    api = Api(make_app(service, settings).test_client())
    body = {"old_password": PASSWORD, "new_password": "short"}
    assert matches(refused(mentioning("8")), api("POST", "/api/password", json=body).json)
    assert not settings.password_path.exists()
    assert api("GET", "/api/get_battery_level").status_code == 200


# -- which routes exist ----------------------------------------------------------------------

# Every route of the car's server (44) and of the community car's (49), with the methods the
# car takes. Ours differ on purpose in two places: /api/password takes no GET (a GET would
# change the password without a CSRF check) and /auth no POST (it is nginx's session probe).
STOCK_ROUTES = {
    "/": {"GET"},
    "/home": {"GET"},
    "/login": {"GET", "POST"},
    "/auth": {"GET"},
    "/logout": {"GET"},
    "/redirect_login": {"GET", "POST"},
    "/api/password": {"POST"},
    "/api/adjust_calibrating_wheels/<cali_type>": {"PUT", "POST"},
    "/api/available_wifi_info": {"GET"},
    "/api/begin_software_update": {"GET", "POST"},
    "/api/control_modes_available": {"GET"},
    "/api/deleteModels": {"PUT", "POST"},
    "/api/disableSsh": {"GET"},
    "/api/drive_mode": {"PUT", "POST"},
    "/api/enableSsh": {"GET"},
    "/api/get_battery_level": {"GET"},
    "/api/get_calibration/<cali_type>": {"GET"},
    "/api/get_device_info": {"GET"},
    "/api/get_led_color": {"GET"},
    "/api/get_mandatory_update_status": {"GET"},
    "/api/get_network_details": {"GET"},
    "/api/get_sensor_status": {"GET"},
    "/api/isModelLoading": {"GET"},
    "/api/isSshDefaultPasswordChanged": {"GET"},
    "/api/isSshEnabled": {"GET"},
    "/api/is_model_installed": {"GET"},
    "/api/is_software_update_available": {"GET"},
    "/api/is_usb_connected": {"GET"},
    "/api/logs/<log_type>/<int:num_lines>": {"GET"},
    "/api/manual_drive": {"PUT", "POST"},
    "/api/max_nav_throttle": {"PUT", "POST"},
    "/api/models": {"GET"},
    "/api/models/<model_folder_name>/<model_name>": {"PUT", "POST"},
    "/api/resetSshPassword": {"PUT", "POST"},
    "/api/server_ready": {"GET"},
    "/api/set_calibration/<cali_type>": {"PUT", "POST"},
    "/api/set_calibration_mode": {"GET"},
    "/api/set_led_color": {"POST"},
    "/api/set_mandatory_update_status": {"PUT", "POST"},
    "/api/start_stop": {"PUT", "POST"},
    "/api/update_status": {"GET"},
    "/api/uploadModels": {"PUT", "POST"},
    "/api/uploaded_model_list": {"GET"},
    "/api/wifi_reset": {"POST"},
}
COMMUNITY_ROUTES = {
    "/api/emergency_stop": {"POST"},
    "/api/get_device_status": {"GET"},
    "/api/supported_apis": {"GET"},
    "/api/get_time": {"GET"},
    "/api/set_timezone": {"POST"},
}
UNMANAGED = {
    "/api/isSshEnabled",
    "/api/enableSsh",
    "/api/disableSsh",
    "/api/isSshDefaultPasswordChanged",
    "/api/resetSshPassword",
    "/api/available_wifi_info",
    "/api/wifi_reset",
    "/api/is_software_update_available",
    "/api/begin_software_update",
    "/api/get_mandatory_update_status",
    "/api/set_mandatory_update_status",
    "/api/update_status",
    "/api/set_timezone",
}


def test_every_route_of_the_car_and_the_community_car_is_here(table: Table) -> None:
    app = table.api.client.application
    ours: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        ours.setdefault(rule.rule, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    wanted = {**STOCK_ROUTES, **COMMUNITY_ROUTES}
    assert len(STOCK_ROUTES) == 44 and len(wanted) == 49
    missing = {route: methods - ours.get(route, set()) for route, methods in wanted.items()}
    assert {route: m for route, m in missing.items() if m} == {}
    tested = {case.url.split("?")[0] for case in CASES.values()}
    for route in wanted:
        if route.startswith("/api/"):
            prefix = route.split("<")[0]
            assert any(url.startswith(prefix) for url in tested), f"{route} is not in the table"


def test_supported_apis_lists_what_works_and_nothing_else(table: Table) -> None:
    listed = set(table.api("GET", "/api/supported_apis").json["apis_supported"])
    api_routes = {r for r in {**STOCK_ROUTES, **COMMUNITY_ROUTES} if r.startswith("/api/")}
    assert listed == api_routes - UNMANAGED
    assert {"/api/emergency_stop", "/api/get_device_status", "/api/get_time"} <= listed
    assert not any(route.startswith("/api/v1/") for route in listed)


def test_usb_counts_only_for_a_page_reached_over_the_usb_link(table: Table, monkeypatch) -> None:
    """As the car: the USB link is up and the page came from https://deepracer.aws/."""
    monkeypatch.setattr(table.service.network, "usb_connected", lambda: True)
    over_usb = {"Referer": "https://deepracer.aws/home"}
    answer = table.api("GET", "/api/is_usb_connected", headers=over_usb).json
    assert answer == {"success": True, "is_usb_connected": True}
    other = table.api("GET", "/api/is_usb_connected", headers={"Referer": "https://10.1.2.3/"})
    assert other.json["is_usb_connected"] is False
    assert table.api("GET", "/api/get_network_details").json["is_usb_connected"] is True
