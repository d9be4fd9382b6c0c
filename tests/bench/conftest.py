"""A small bundle with the factory sample's actions: the bench's code paths, at test speed."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from vehicle.atomic import atomic_write_json
from vehicle.bench.network import factory_sample_metadata
from vehicle.model.synthetic import TINY, build_policy


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tiny_bundle")
    metadata = factory_sample_metadata()
    onnx.save(build_policy(len(metadata["action_space"]), stack=TINY), directory / "model.onnx")
    atomic_write_json(directory / "model_metadata.json", metadata)
    return directory
