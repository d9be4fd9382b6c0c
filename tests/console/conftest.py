"""The console against the real service, linked to a real drive core: MockPwm outputs, a
synthetic camera. Both ends of the drive link run in this process (threads and a socket
pair): every command crosses the real link; the process boundary has its own tests."""

from __future__ import annotations

import functools
import io
import re
import shutil
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from vehicle.config import ConsoleSettings, Settings
from vehicle.core.camera import SyntheticSource
from vehicle.core.car import DriveCore
from vehicle.core.ipc import Channel
from vehicle.core.link import DriveLink
from vehicle.core.model import open_model
from vehicle.core.pwm.mock import MockPwm
from vehicle.model.synthetic import build_policy
from vehicle.service.client import DriveClient
from vehicle.service.facade import VehicleService
from webconsole.app import create_app
from webconsole.credentials import PASSWORD_ENV, hash_password
from webconsole.server import ConsoleHandle, start_console

DATA = Path(__file__).resolve().parents[1] / "data"
PASSWORD = "correct horse battery"
SECRET = b"s" * 32
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def bundle_files(n_outputs: int = 15, metadata: str = "sample_single_cam") -> dict[str, bytes]:
    """A real model bundle's two files: a seeded ONNX network and DeepRacer metadata."""
    return {
        "model.onnx": build_policy(n_outputs, seed=1).SerializeToString(),
        "model_metadata.json": (DATA / f"{metadata}.model_metadata.json").read_bytes(),
    }


def bundle_dir(folder: Path) -> Path:
    """A bundle folder outside the store, as the shipped ``models/default`` is."""
    folder.mkdir(parents=True)
    for name, data in bundle_files().items():
        (folder / name).write_bytes(data)
    return folder


def bundle_tar(n_outputs: int = 15, *, metadata: str = "sample_single_cam") -> bytes:
    """A real model bundle as .tar.gz bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in bundle_files(n_outputs, metadata).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", console=ConsoleSettings(viewer_max_fps=100.0))


@pytest.fixture
def pwm() -> MockPwm:
    return MockPwm()


class LinkedCar:
    """A drive core and the service linked to it, as the two processes hold them.

    ``model_path`` names a bundle the car starts with (as ``--model``); models may open from
    anywhere under the test's own folder.
    """

    def __init__(
        self,
        settings: Settings,
        pwm: MockPwm,
        *,
        model_path: Path | None = None,
        **car_options: object,
    ) -> None:
        if model_path is not None:
            car_options["model"] = open_model(model_path, Path(model_path).name)
        self.car = DriveCore(settings, pwm, **car_options)
        roots = (settings.data_dir.parent,)
        self.link = DriveLink(self.car, settings.link, model_roots=roots)
        drive_end, service_end = Channel.pair()
        self.link.start()
        self.link.attach(drive_end)
        self.client = DriveClient(service_end, settings.link)
        self.service: VehicleService | None = None
        self.client.start()
        self.service = VehicleService(settings, self.client)
        self.client._on_log = self.service.drive_log

    def running(self) -> LinkedCar:
        """Camera and watchdog started, drive loop in a thread."""
        self.car.start_background()
        self.car.run_in_thread()
        return self

    def close(self) -> None:
        if self.service is not None:
            self.service.close()
        self.client.close()
        self.link.close()
        self.car.close()


@pytest.fixture
def make_linked(settings: Settings, pwm: MockPwm) -> Iterator[Callable[..., LinkedCar]]:
    made: list[LinkedCar] = []

    def make(**car_options: object) -> LinkedCar:
        linked = LinkedCar(settings, pwm, **car_options)
        made.append(linked)
        return linked

    yield make
    for linked in made:
        linked.close()


@pytest.fixture
def linked(make_linked: Callable[..., LinkedCar]) -> LinkedCar:
    """A running car with a synthetic camera and no model, its service linked."""
    return make_linked(source=SyntheticSource(fps=30.0)).running()


@pytest.fixture
def service(linked: LinkedCar) -> VehicleService:
    return linked.service


@pytest.fixture
def car(linked: LinkedCar) -> DriveCore:
    return linked.car


@functools.cache
def password_hash() -> str:
    return hash_password(PASSWORD)  # scrypt is slow on purpose: hash once per run


def make_app(service: VehicleService, settings: Settings, **kwargs: object) -> Flask:
    app = create_app(
        service, settings.console, SECRET, password_hash(), secure_cookies=False, **kwargs
    )
    app.testing = True
    return app


@pytest.fixture
def app(service: VehicleService, settings: Settings) -> Flask:
    return make_app(service, settings)


@pytest.fixture
def console(
    service: VehicleService, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ConsoleHandle]:
    """The real server on a free loopback port, over HTTPS with its own certificate."""
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    handle = start_console(service, settings, host="127.0.0.1", port=0, tls=True)
    yield handle
    handle.stop()


def log_in(client: FlaskClient) -> str:
    """DeepRacer's way: GET / for the csrf meta, POST /login with it; returns the token."""
    page = client.get("/")
    token = CSRF_META.search(page.get_data(as_text=True)).group(1)
    response = client.post("/login", data={"password": PASSWORD}, headers={"X-CSRFToken": token})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {"redirect": "/home"}
    assert client.get_cookie("deepracer_token") is not None  # the JS-readable marker
    return token


class Api:
    """A logged-in test client that sends the CSRF header on every call."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = log_in(client)

    def __call__(self, method: str, url: str, **kwargs: object):
        headers = {"X-CSRFToken": self.token, **kwargs.pop("headers", {})}
        return self.client.open(url, method=method, headers=headers, **kwargs)


@pytest.fixture
def api(app: Flask) -> Api:
    return Api(app.test_client())


def upload(api: Api, data: bytes, filename: str, url: str = "/api/v1/models", method="POST"):
    return api(method, url, data={"file": (io.BytesIO(data), filename)})


def wait_loaded(api: Api) -> str:
    """Poll DeepRacer's isModelLoading as its tools do (the load runs in the background)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        state = api("GET", "/api/isModelLoading").json["isModelLoading"]
        if state != "loading":
            return state
        time.sleep(0.05)
    raise AssertionError("model still loading after 30 s")


def copy_data(name: str, target: Path) -> Path:
    shutil.copy(DATA / name, target)
    return target


__all__ = [
    "Api",
    "FakeClock",
    "LinkedCar",
    "bundle_dir",
    "bundle_tar",
    "copy_data",
    "log_in",
    "make_app",
    "replace",
    "upload",
    "wait_loaded",
]
