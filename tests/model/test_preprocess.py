"""Preprocessing matches DeepRacer's steps exactly and writes into its own buffers."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest

from vehicle.core.preprocess import FrameError, Preprocessor


def deepracer_reference(image: np.ndarray) -> np.ndarray:
    """image_process.cpp: cv::resize(160x120, default interpolation), BGR2GRAY, to float."""
    resized = cv2.resize(image, (160, 120))
    if resized.ndim == 3:
        resized = cv2.cvtColor(resized, cv2.COLOR_BGR2GRAY)
    return resized.astype(np.float32)


def _image(shape, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@pytest.mark.parametrize("layout, shape", [("NHWC", (1, 120, 160, 1)), ("NCHW", (1, 1, 120, 160))])
@pytest.mark.parametrize(
    "frame_shape",
    [(480, 640, 3), (240, 320, 3), (120, 160, 3), (97, 131, 3), (480, 640), (120, 160)],
)
def test_output_equals_deepracer_pipeline(layout, shape, frame_shape):
    image = _image(frame_shape)
    out = Preprocessor(layout)(image)
    assert out.shape == shape and out.dtype == np.float32
    np.testing.assert_array_equal(out.reshape(120, 160), deepracer_reference(image))


def test_values_stay_in_0_255():
    pre = Preprocessor("NHWC")
    assert pre(np.zeros((480, 640, 3), np.uint8)).max() == 0.0
    assert pre(np.full((480, 640, 3), 255, np.uint8)).min() == 255.0


def test_colour_weights_are_bgr_not_rgb():
    blue = np.zeros((120, 160, 3), np.uint8)
    blue[..., 0] = 255  # channel 0 is blue in OpenCV's BGR
    assert Preprocessor("NCHW")(blue)[0, 0, 0, 0] == 29.0  # 0.114 * 255, rounded


def test_returns_the_same_preallocated_buffer():
    pre = Preprocessor("NHWC")
    first = pre(_image((480, 640, 3), 1))
    first_values = first.copy()
    second = pre(_image((480, 640, 3), 2))
    assert second is first is pre.tensor
    assert not np.array_equal(second, first_values)  # overwritten in place


@pytest.mark.parametrize("frame_shape", [(480, 640, 3), (120, 160, 3), (480, 640), (120, 160)])
def test_a_call_allocates_no_image_sized_arrays(frame_shape):
    pre = Preprocessor("NCHW")
    image = _image(frame_shape)
    pre(image)  # warm-up
    tracemalloc.start()
    try:
        pre(image)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 120 * 160  # one gray plane would be 19200 bytes


BAD_FRAMES = {
    "float": np.zeros((120, 160, 3), np.float32),
    "uint16": np.zeros((120, 160), np.uint16),
    "four channels": np.zeros((120, 160, 4), np.uint8),
    "one-d": np.zeros(160, np.uint8),
    "empty": np.zeros((0, 160, 3), np.uint8),
    "empty gray": np.zeros((120, 0), np.uint8),
    "four-d": np.zeros((1, 120, 160, 3), np.uint8),
    "list": [[0] * 160] * 120,
}


@pytest.mark.parametrize("frame", BAD_FRAMES.values(), ids=BAD_FRAMES.keys())
def test_bad_frames_are_refused(frame):
    pre = Preprocessor("NHWC")
    pre(_image((120, 160, 3)))
    before = pre.tensor.copy()
    with pytest.raises(FrameError):
        pre(frame)
    np.testing.assert_array_equal(pre.tensor, before)


def test_unknown_layout():
    with pytest.raises(ValueError, match="NHWC or NCHW"):
        Preprocessor("NWHC")
