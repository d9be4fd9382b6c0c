"""Synthetic networks: valid ONNX, DeepRacer's shallow size, deterministic by seed."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest

from vehicle.model.synthetic import SHALLOW, TINY, build_policy, parameter_count


def _run(model, layout: str, seed: int = 0) -> np.ndarray:
    shape = (1, 120, 160, 1) if layout == "NHWC" else (1, 1, 120, 160)
    x = np.random.default_rng(seed).uniform(0, 255, shape).astype(np.float32)
    return ort.InferenceSession(model.SerializeToString()).run(None, {"image": x})[0]


def test_shallow_stack_has_deepracers_parameter_count():
    model = build_policy(15, stack=SHALLOW)
    # conv 32@8x8/4, 64@4x4/2, 64@3x3/1 -> 64x11x16, dense 512, 15 outputs
    expected = (8 * 8 * 32 + 32) + (4 * 4 * 32 * 64 + 64) + (3 * 3 * 64 * 64 + 64)
    expected += (64 * 11 * 16 * 512 + 512) + (512 * 15 + 15)
    assert parameter_count(model) == expected
    assert 5.8e6 < expected < 5.9e6


def test_layouts_compute_the_same_function():
    """Same seed, same weights: only the input layout differs."""
    x = np.random.default_rng(3).uniform(0, 255, (1, 120, 160, 1)).astype(np.float32)
    nhwc = ort.InferenceSession(build_policy(7, layout="NHWC").SerializeToString())
    nchw = ort.InferenceSession(build_policy(7, layout="NCHW").SerializeToString())
    a = nhwc.run(None, {"image": x})[0]
    b = nchw.run(None, {"image": x.transpose(0, 3, 1, 2).copy()})[0]
    np.testing.assert_allclose(a, b, rtol=1e-5)


def test_seed_decides_the_weights():
    same = (
        build_policy(5, seed=1).SerializeToString() == build_policy(5, seed=1).SerializeToString()
    )
    assert same
    assert not np.allclose(
        _run(build_policy(5, seed=1), "NHWC"), _run(build_policy(5, seed=2), "NHWC")
    )


@pytest.mark.parametrize(
    "head, check",
    [
        ("softmax", lambda out: out.sum() == pytest.approx(1.0, abs=1e-5) and (out >= 0).all()),
        ("tanh", lambda out: (np.abs(out) <= 1).all()),
        ("none", lambda out: np.isfinite(out).all()),
    ],
)
def test_heads(head, check):
    out = _run(build_policy(6, head=head), "NHWC")
    assert out.shape == (1, 6)
    assert check(out)


def test_tiny_stays_small():
    assert parameter_count(build_policy(10, stack=TINY)) < 50_000


def test_unknown_layout():
    with pytest.raises(ValueError, match="NHWC or NCHW"):
        build_policy(3, layout="HWC")
