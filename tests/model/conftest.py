"""Bundles built on the fly from synthetic networks and DeepRacer's real metadata files."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import onnx
import pytest

from vehicle.model.synthetic import build_policy

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE_METADATA = DATA / "sample_single_cam.model_metadata.json"  # 15 discrete actions


def write_bundle(
    directory: Path,
    metadata: dict | Path = SAMPLE_METADATA,
    model: onnx.ModelProto | bytes | None = None,
) -> Path:
    """A bundle folder; the network defaults to one matching the metadata's action count."""
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(metadata, Path):
        metadata = json.loads(metadata.read_text())
    (directory / "model_metadata.json").write_text(json.dumps(metadata))
    if model is None:
        space = metadata["action_space"]
        n = 2 if metadata.get("action_space_type") == "continuous" else len(space)
        model = build_policy(n, head="tanh" if n == 2 and isinstance(space, dict) else "softmax")
    data = model if isinstance(model, bytes) else model.SerializeToString()
    (directory / "model.onnx").write_bytes(data)
    return directory


def tar_bundle(archive: Path, bundle: Path, prefix: str = "") -> Path:
    """Pack a bundle folder's files into a .tar.gz, optionally under a subfolder."""
    with tarfile.open(archive, "w:gz") as tar:
        for f in sorted(bundle.iterdir()):
            tar.add(f, arcname=f"{prefix}{f.name}")
    return archive


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A valid bundle: the factory sample's metadata and a matching 15-output network."""
    return write_bundle(tmp_path / "sample")


@pytest.fixture
def make_bundle(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "b", **kwargs) -> Path:
        return write_bundle(tmp_path / name, **kwargs)

    return make


# As a fixture: with --import-mode=importlib test modules cannot import conftest.
@pytest.fixture(name="tar_bundle")
def tar_bundle_fixture() -> Callable[..., Path]:
    return tar_bundle
