"""Random changes to rendered frames and camera mounts, so a policy trained in the simulator
does not lean on its exact shades, sharpness or camera pose (sim-to-real robustness)."""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np

from vehicle.sim.render import Camera


def augment_frame(frame: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Brightness, contrast, blur and sensor noise, each drawn at random; uint8 out."""
    img = frame.astype(np.float32)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.2))
    mean = float(img.mean())
    img = (img - mean) * rng.uniform(0.75, 1.25) + mean + rng.uniform(-30.0, 30.0)
    if rng.random() < 0.5:
        img += rng.normal(0.0, rng.uniform(1.0, 6.0), img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def jitter_camera(camera: Camera, rng: np.random.Generator) -> Camera:
    """The same camera mounted a little higher or lower and pitched a little differently."""
    return replace(
        camera,
        height_m=camera.height_m + rng.uniform(-0.012, 0.012),
        pitch_rad=camera.pitch_rad + math.radians(rng.uniform(-2.5, 2.5)),
    )
