"""Shared simulator fixtures: real reference tracks and a straight test strip."""

from __future__ import annotations

import numpy as np
import pytest

from vehicle.sim.track import Track, load_track


@pytest.fixture(scope="session")
def reinvent() -> Track:
    return load_track("reinvent_base")


def _strip_array(length: float = 20.0, width: float = 0.76, step: float = 0.25) -> np.ndarray:
    """A straight road along +x from the origin: N x 6 like a DeepRacer route file."""
    x = np.arange(0.0, length + 1e-9, step)
    zeros = np.zeros_like(x)
    half = width / 2
    return np.column_stack([x, zeros, x, zeros + half, x, zeros - half])


@pytest.fixture(scope="session")
def strip_array():
    """Builds straight route arrays: ``strip_array(length=20, width=0.76, step=0.25)``."""
    return _strip_array


@pytest.fixture(scope="session")
def strip() -> Track:
    return Track.from_array(_strip_array(), name="strip")
