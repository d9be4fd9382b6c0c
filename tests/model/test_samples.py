"""The sample exports rebuild to TensorFlow's exact bytes, or say they did not."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vehicle.model.samples import SampleExport, recipe_values, sample_kinds


def test_the_recipe_is_the_same_everywhere():
    """Pinned values: a numpy that changed PCG64's stream would break every sample."""
    np.testing.assert_array_equal(
        recipe_values(1, 4, 1.0),
        np.array(
            [0.023643136024475098, 0.9009273052215576, -0.7116808891296387, 0.8972988128662109],
            np.float32,
        ),
    )
    assert recipe_values(12345, 3, 0.5).dtype == np.dtype("<f4")


def test_every_kind_racers_upload_is_there():
    assert set(sample_kinds()) >= {
        "ppo_discrete_shallow_observation",
        "ppo_discrete_standard_camera",
        "ppo_discrete_deep_camera",
        "ppo_continuous_shallow_camera",
        "sac_continuous_shallow_camera",
        "ppo_discrete_tiny_stereo",
        "ppo_discrete_tiny_lidar",
    }


def test_a_wrong_fill_is_caught():
    sample = SampleExport.load("ppo_discrete_tiny_camera")
    wrong = dataclasses.replace(sample.fills[0], seed=sample.fills[0].seed + 1)
    broken = dataclasses.replace(sample, fills=(wrong, *sample.fills[1:]))
    with pytest.raises(ValueError, match="did not rebuild to TensorFlow's bytes"):
        broken.graph_bytes()
