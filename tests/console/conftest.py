"""The console against the real VehicleService: MockPwm outputs, a synthetic camera."""

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
from vehicle.core.pwm.mock import MockPwm
from vehicle.model.synthetic import build_policy
from vehicle.service import VehicleService
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


@pytest.fixture
def make_service(settings: Settings, pwm: MockPwm) -> Iterator[Callable[..., VehicleService]]:
    made: list[VehicleService] = []

    def make(**kwargs: object) -> VehicleService:
        service = VehicleService(settings, pwm, **kwargs)
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()


def running(service: VehicleService) -> VehicleService:
    """Camera, JPEG encoder and watchdog started, drive loop in a thread."""
    service.start_background()
    service.run_in_thread()
    return service


@pytest.fixture
def service(make_service: Callable[..., VehicleService]) -> VehicleService:
    """A running car with a synthetic camera and no model."""
    return running(make_service(source=SyntheticSource(fps=30.0)))


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
    assert response.status_code == 303, response.get_data(as_text=True)
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
    "bundle_dir",
    "bundle_tar",
    "copy_data",
    "log_in",
    "make_app",
    "replace",
    "running",
    "upload",
    "wait_loaded",
]
