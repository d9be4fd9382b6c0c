"""DeepRacer's image preprocessing, into a buffer allocated once.

DeepRacer's inference node (``inference_pkg/src/image_process.cpp``) resizes the BGR camera
image to 160x120 with ``cv::resize``'s default (bilinear) interpolation, converts it to
grayscale with ``COLOR_BGR2GRAY`` and hands the 0..255 values to the network, which
normalises them itself. We do the same steps in the same order, so a model sees on this car
exactly what it saw on DeepRacer's.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

INPUT_HEIGHT = 120
INPUT_WIDTH = 160
Layout = Literal["NHWC", "NCHW"]
LAYOUT_SHAPES: dict[str, tuple[int, int, int, int]] = {
    "NHWC": (1, INPUT_HEIGHT, INPUT_WIDTH, 1),  # TensorFlow / TFLite models
    "NCHW": (1, 1, INPUT_HEIGHT, INPUT_WIDTH),  # OpenVINO / PyTorch models
}


class FrameError(ValueError):
    """A camera image the preprocessor cannot use (wrong type or shape)."""


class Preprocessor:
    """Camera image -> the network's input tensor (float32 grayscale 0..255, 160x120).

    Every buffer is allocated here; a call only runs OpenCV into them. The returned tensor
    is the same array on every call, overwritten by the next call.
    """

    def __init__(self, layout: Layout) -> None:
        if layout not in LAYOUT_SHAPES:
            raise ValueError(f"layout must be NHWC or NCHW, got {layout!r}")
        self.layout: Layout = layout
        self.tensor = np.zeros(LAYOUT_SHAPES[layout], dtype=np.float32)
        # With one channel both layouts have the same memory order: one 120x160 plane.
        self._plane = self.tensor.reshape(INPUT_HEIGHT, INPUT_WIDTH)
        self._resized = np.empty((INPUT_HEIGHT, INPUT_WIDTH, 3), dtype=np.uint8)
        self._gray = np.empty((INPUT_HEIGHT, INPUT_WIDTH), dtype=np.uint8)
        self._size = (INPUT_WIDTH, INPUT_HEIGHT)  # OpenCV wants (width, height)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """Preprocess a BGR (HxWx3) or grayscale (HxW) uint8 image of any size."""
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
            raise FrameError("a camera frame must be a uint8 numpy array")
        if image.ndim == 3 and image.shape[2] == 3 and min(image.shape[:2]) > 0:
            if image.shape[:2] == (INPUT_HEIGHT, INPUT_WIDTH):
                cv2.cvtColor(image, cv2.COLOR_BGR2GRAY, dst=self._gray)
            else:
                cv2.resize(image, self._size, dst=self._resized, interpolation=cv2.INTER_LINEAR)
                cv2.cvtColor(self._resized, cv2.COLOR_BGR2GRAY, dst=self._gray)
            gray = self._gray
        elif image.ndim == 2 and min(image.shape) > 0:
            if image.shape == (INPUT_HEIGHT, INPUT_WIDTH):
                gray = image
            else:
                cv2.resize(image, self._size, dst=self._gray, interpolation=cv2.INTER_LINEAR)
                gray = self._gray
        else:
            raise FrameError(
                f"a camera frame must be HxWx3 (BGR) or HxW (gray), got shape {image.shape}"
            )
        np.copyto(self._plane, gray, casting="safe")
        return self.tensor
