"""The network the bench measures by default: DeepRacer's "shallow" policy, built here.

Racers deploy this size (160x120x1 input, conv 32@8x8/4, 64@4x4/2, 64@3x3/1, dense 512,
~5.8 M parameters), so the figures mean what they would on a real model. The weights are
random (seeded); only the cost matters. The action space is the one of DeepRacer's factory
sample model: five steering angles by three speeds, 15 actions.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from vehicle.atomic import atomic_write_json
from vehicle.model.synthetic import SHALLOW, build_policy

STEERING_ANGLES = (-30, -15, 0, 15, 30)
SPEEDS = (2 / 3, 4 / 3, 2.0)


def factory_sample_metadata() -> dict[str, object]:
    """The factory sample's discrete action space, on the shallow network."""
    grid = [(angle, speed) for angle in STEERING_ANGLES for speed in SPEEDS]
    return {
        "action_space": [
            {"steering_angle": angle, "speed": speed, "index": i}
            for i, (angle, speed) in enumerate(grid)
        ],
        "action_space_type": "discrete",
        "sensor": ["FRONT_FACING_CAMERA"],
        "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
        "training_algorithm": "clipped_ppo",
    }


def build_shallow_bundle(directory: Path) -> Path:
    """Write ``model.onnx`` and ``model_metadata.json`` into ``directory``; returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    metadata = factory_sample_metadata()
    model = build_policy(len(metadata["action_space"]), stack=SHALLOW)  # type: ignore[arg-type]
    onnx.save(model, directory / "model.onnx")
    atomic_write_json(directory / "model_metadata.json", metadata)
    return directory
