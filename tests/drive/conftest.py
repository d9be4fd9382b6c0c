"""A real model bundle (a small seeded ONNX network + DeepRacer's factory metadata), and a
car: the real service on that bundle, the mock outputs and a hand-driven clock."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest

from vehicle.config import Settings
from vehicle.core.car import DriveCore
from vehicle.core.model import open_model
from vehicle.core.pwm.mock import MockPwm
from vehicle.model.synthetic import build_policy

DATA = Path(__file__).resolve().parents[1] / "data"


def make_bundle(folder: Path, *, n_outputs: int = 15, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save(build_policy(n_outputs, seed=seed), folder / "model.onnx")
    shutil.copy(DATA / "sample_single_cam.model_metadata.json", folder / "model_metadata.json")
    return folder


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return make_bundle(tmp_path / "bundle")


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def car(tmp_path: Path, bundle: Path):
    clock = FakeClock()
    backend = MockPwm(clock=clock)
    service = DriveCore(
        Settings(data_dir=tmp_path / "data"),
        backend,
        model=open_model(bundle, "bundle"),
        throttle_limit=1.0,
        mode="autonomous",
        clock=clock,
        watchdog=False,
    )
    yield service, backend, clock
    service.close()


def frame_image(value: int) -> np.ndarray:
    rng = np.random.default_rng(value)
    return rng.integers(0, 255, size=(480, 640, 3), dtype=np.uint8)
