"""A model bundle for harness runs: DeepRacer's sample metadata and a tiny synthetic network."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vehicle.model.synthetic import build_policy

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="session")
def hil_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = tmp_path_factory.mktemp("hil") / "bundle"
    bundle.mkdir()
    shutil.copy(DATA / "sample_single_cam.model_metadata.json", bundle / "model_metadata.json")
    (bundle / "model.onnx").write_bytes(build_policy(15, seed=0).SerializeToString())
    return bundle
