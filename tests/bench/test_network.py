import json
from dataclasses import replace
from pathlib import Path

import onnx

from vehicle.bench.network import build_shallow_bundle, factory_sample_metadata
from vehicle.config import ModelSettings
from vehicle.model import load_bundle
from vehicle.model.synthetic import parameter_count

DATA = Path(__file__).resolve().parents[1] / "data"


def test_actions_are_the_factory_sample_models() -> None:
    sample = json.loads((DATA / "sample_single_cam.model_metadata.json").read_text())
    assert factory_sample_metadata()["action_space"] == sample["action_space"]


def test_shallow_bundle_is_deepracer_sized_and_loads(tmp_path: Path) -> None:
    bundle = build_shallow_bundle(tmp_path / "shallow")
    parameters = parameter_count(onnx.load(bundle / "model.onnx"))
    assert 5_700_000 < parameters < 5_900_000
    # fp32 only: the int8 gate's 10,000 frames on this network are tests/model's business.
    loaded = load_bundle(bundle, limits=replace(ModelSettings(), precision="fp32"))
    assert loaded.metadata.action_space.n_outputs == 15
    assert loaded.policy.layout == "NCHW"  # prepared: NHWC grey is the same bytes
