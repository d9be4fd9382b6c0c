"""The bundled default model loads and stays small enough for the repository."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vehicle.model import load_bundle

DEFAULT = Path(__file__).resolve().parents[2] / "models" / "default"


def test_default_bundle_loads_and_runs():
    loaded = load_bundle(DEFAULT)
    space = loaded.metadata.action_space
    assert space.type == "discrete"
    out = loaded.policy.run(loaded.preprocessor(np.zeros((480, 640, 3), np.uint8)))
    assert out.shape == (space.n_outputs,) and np.isfinite(out).all()


def test_default_bundle_is_small_enough_for_the_repository():
    assert sum(f.stat().st_size for f in DEFAULT.iterdir()) < 5 * 1024 * 1024
