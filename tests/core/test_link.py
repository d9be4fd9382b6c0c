"""The drive's end of the link: answers, refusals, status, and a service that goes away."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from calibration.model import Calibration, ChannelCalibration
from calibration.store import to_native
from vehicle.config import LinkSettings, Settings
from vehicle.core.car import DriveCore
from vehicle.core.ipc import (
    CalibrationMode,
    Channel,
    Hello,
    LoadModel,
    ManualDrive,
    Ping,
    PreviewPulse,
    SetCalibration,
    SetLed,
    SetMode,
    Start,
    Stop,
    encode_request,
)
from vehicle.core.link import DriveLink
from vehicle.core.model import open_model
from vehicle.core.pwm.mock import MockPwm
from vehicle.core.shm import FrameReader, StepReader
from vehicle.core.taillight import NS_PER_LEVEL

from ..drive.conftest import make_bundle

SILENCE_S = 0.3
LINK = LinkSettings(service_silence_s=SILENCE_S, status_interval_s=0.02)
CAL = Calibration()
NEUTRAL = {"steering": CAL.steering.mid_ns, "throttle": CAL.throttle.mid_ns}


class Service:
    """The test plays the service process on the other end of a socket pair."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.ids = 0

    def ask(self, request, timeout: float = 5.0) -> dict:
        self.ids += 1
        self.channel.send(encode_request(request, self.ids), block=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = self.channel.recv(0.5)
            if received and received[0].get("re") == self.ids:
                self.fds = received[1]
                return received[0]
        raise AssertionError(f"no answer to {request}")


@pytest.fixture
def setup(tmp_path: Path):
    pwm = MockPwm()
    settings = Settings(data_dir=tmp_path / "data", link=LINK)
    bundle = make_bundle(tmp_path / "data" / "models" / "m")
    car = DriveCore(settings, pwm, model=open_model(bundle, "m"), watchdog=False)
    link = DriveLink(car, LINK, model_roots=(settings.data_dir,))
    drive_end, service_end = Channel.pair()
    link.start()
    link.attach(drive_end)
    yield car, link, Service(service_end), pwm
    link.close()
    service_end.close()
    car.close()


def test_requests_are_answered_with_the_fresh_status(setup) -> None:
    _car, _, service, pwm = setup
    answer = service.ask(Hello(123))
    assert answer["ok"] and answer["rings"] == 2 and len(service.fds) == 2
    FrameReader(service.fds[0]).close()
    StepReader(service.fds[1]).close()
    assert service.ask(SetMode("manual"))["ok"]
    answer = service.ask(Start())
    assert answer["ok"] and answer["status"]["state"] == "manual"
    assert service.ask(ManualDrive(0.0, 0.5))["ok"]
    assert pwm.current["throttle"] != NEUTRAL["throttle"]
    answer = service.ask(Stop())
    assert answer["status"]["state"] == "disarmed" and pwm.current == NEUTRAL


def test_refusals_carry_the_cars_reason_and_change_nothing(setup) -> None:
    car, _, service, pwm = setup
    answer = service.ask(ManualDrive(0.0, 0.5))
    assert not answer["ok"] and "manual mode" in answer["error"]
    answer = service.ask(PreviewPulse("throttle", 1_500_000))
    assert not answer["ok"] and "calibration mode" in answer["error"]
    answer = service.ask(SetMode("rally"))
    assert not answer["ok"] and "drive mode" in answer["error"]
    bad = to_native(CAL)
    bad["throttle"]["min_ns"] = 1_900_000
    answer = service.ask(SetCalibration(bad))
    assert not answer["ok"] and "min < mid < max" in answer["error"]
    assert car.calibration == CAL and pwm.current == NEUTRAL


def test_a_calibration_is_refused_while_driving(setup) -> None:
    car, _, service, _ = setup
    service.ask(SetMode("manual"))
    service.ask(Start())
    changed = Calibration(steering=ChannelCalibration(1_100_000, 1_450_000, 1_800_000))
    answer = service.ask(SetCalibration(to_native(changed)))
    assert not answer["ok"] and "stop driving" in answer["error"]
    assert car.calibration == CAL


def test_the_tail_light_is_the_drives_to_set(setup) -> None:
    """The service asks; the drive checks the colour and writes outputs 2-4 itself."""
    car, _, service, pwm = setup
    answer = service.ask(SetLed(255, 0, 1))
    assert answer["ok"] and answer["status"]["led"] == {"available": True, "colour": [255, 0, 1]}
    assert pwm.led == (255 * NS_PER_LEVEL, 0, NS_PER_LEVEL)
    for bad in (SetLed(256, 0, 0), SetLed(0, -1, 0)):
        answer = service.ask(bad)
        assert not answer["ok"] and "0..255" in answer["error"]
    service.channel.send({"op": "set_led", "id": 77, "red": "1", "green": 0, "blue": 0}, block=True)
    message, _ = service.channel.recv(2.0)
    while message.get("re") != 77:
        message, _ = service.channel.recv(2.0)
    assert not message["ok"] and "red must be int" in message["error"]
    assert pwm.led == (255 * NS_PER_LEVEL, 0, NS_PER_LEVEL) and car.tail_light.colour == (255, 0, 1)
    assert pwm.current == NEUTRAL  # the light never moves the car


def test_the_saved_colour_is_shown_when_the_drive_starts(tmp_path: Path) -> None:
    pwm = MockPwm()
    car = DriveCore(
        Settings(data_dir=tmp_path / "data"), pwm, watchdog=False, led_colour=(0, 10, 0)
    )
    assert pwm.led is None  # nothing written before the car starts
    car.start_background()
    assert pwm.led == (0, 10 * NS_PER_LEVEL, 0) and car.status()["led"]["colour"] == [0, 10, 0]
    car.close()


def test_a_malformed_request_is_refused_and_the_link_goes_on(setup) -> None:
    _, _, service, _ = setup
    service.channel.send({"op": "manual", "id": 99, "steer": "hard left"}, block=True)
    message, _ = service.channel.recv(2.0)
    while message.get("re") != 99:
        message, _ = service.channel.recv(2.0)
    assert not message["ok"] and "steer" in message["error"]
    service.channel.sock.send(b"\xff not json")
    assert service.ask(SetMode("manual"))["ok"]


def test_models_open_only_from_the_model_roots(setup, tmp_path: Path) -> None:
    car, _, service, _ = setup
    outside = make_bundle(tmp_path / "elsewhere")
    answer = service.ask(LoadModel(str(outside), "elsewhere"))
    assert not answer["ok"] and "not in a model store" in answer["error"]
    inside = make_bundle(tmp_path / "data" / "models" / "other", seed=3)
    assert service.ask(LoadModel(str(inside), "other"))["ok"]
    deadline = time.monotonic() + 10
    while car.model.name != "other" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert car.model.name == "other"


def test_status_is_pushed_without_being_asked(setup) -> None:
    _, _, service, _ = setup
    pushes = []
    deadline = time.monotonic() + 2
    while len(pushes) < 3 and time.monotonic() < deadline:
        received = service.channel.recv(0.5)
        if received and received[0].get("push") == "status":
            pushes.append(received[0]["status"])
    assert len(pushes) == 3 and all("state" in p and "pulses" in p for p in pushes)


def drive_manually(service: Service) -> None:
    service.ask(Hello(1))
    service.ask(SetMode("manual"))
    service.ask(Start())
    service.ask(ManualDrive(0.0, 0.5))


def wait_for(predicate, timeout: float = 5.0) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "timed out"
        time.sleep(0.005)
    return time.monotonic() - started


def test_a_silent_service_stops_the_car(setup) -> None:
    car, _, service, _ = setup
    drive_manually(service)
    silent_since = time.monotonic()
    wait_for(lambda: car.status()["state"] == "disarmed")
    assert time.monotonic() - silent_since >= SILENCE_S * 0.9
    assert "silent" in car.status()["stop_reason"]
    assert "lost the Stop button" in car.status()["stop_reason"]


def test_pings_keep_the_car_driving(setup) -> None:
    car, _, service, _ = setup
    service.ask(Hello(1))
    service.ask(SetMode("autonomous"))
    service.ask(Start())
    for _ in range(int(3 * SILENCE_S / 0.05)):
        service.channel.send(encode_request(Ping(), 0), block=True)
        time.sleep(0.05)
    assert car.status()["state"] == "autonomous"


def test_a_service_that_ends_stops_the_car_at_once(setup) -> None:
    car, _, service, pwm = setup
    drive_manually(service)
    service.channel.close()
    waited = wait_for(lambda: car.status()["state"] == "disarmed")
    assert waited < SILENCE_S and pwm.current == NEUTRAL
    assert "ended" in car.status()["stop_reason"]


def test_a_lost_service_ends_calibration_mode(setup) -> None:
    car, _, service, _ = setup
    service.ask(Hello(1))
    service.ask(CalibrationMode(True))
    assert car.status()["state"] == "calibrating"
    service.channel.close()
    wait_for(lambda: car.status()["state"] == "disarmed")


def test_a_service_that_never_said_hello_is_not_watched(setup) -> None:
    """A console process takes a while to start; the silence rule begins at its hello."""
    car, link, _service, _ = setup
    car.set_mode("manual")
    car.start()
    time.sleep(3 * SILENCE_S)
    assert car.status()["state"] == "manual"
    replacement_drive, replacement_service = Channel.pair()
    link.attach(replacement_drive)  # an unannounced service replaced by another: still driving
    assert car.status()["state"] == "manual"
    replacement_service.close()
