"""A real model bundle (a small seeded ONNX network + DeepRacer's factory metadata)."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnx
import pytest

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
