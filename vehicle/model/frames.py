"""Simulator frames for judging a prepared network: what a car sees on several tracks.

The agreement gate (``vehicle.model.agreement``) and the check that an optimised graph
matches the original need many realistic frames, and the car has no recordings of its own.
The simulator's renderer (``vehicle.sim.render``) makes them, seeded and so the same on every
machine: several DeepRacer tracks, poses across the road and off it, a few camera mounts,
and lighting, noise and blur as real cameras vary. About 0.15 ms a frame: 10,000 take a
couple of seconds, so they are rendered when needed, never stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

from vehicle.sim.render import HEIGHT, WIDTH, Camera, Renderer
from vehicle.sim.track import load_track

TRACKS = (
    "reInvent2019_track",
    "Canada_Training",
    "New_York_Track",
    "Bowtie_track",
    "Oval_track",
    "reinvent_base",
)
CAMERAS_PER_TRACK = 3
MAX_HEADING_ERROR_RAD = 0.5
MAX_OFFSET_WIDTHS = 0.6  # lateral offset, in track widths: up to just off the road
NOISE_FIELDS = 64


def _cameras(rng: np.random.Generator) -> list[Camera]:
    """DeepRacer's mount, then small variations of height and pitch (cars differ)."""
    default = Camera()
    cameras = [default]
    while len(cameras) < CAMERAS_PER_TRACK:
        cameras.append(
            Camera(
                height_m=default.height_m + rng.uniform(-0.015, 0.015),
                pitch_rad=default.pitch_rad + math.radians(rng.uniform(-4.0, 4.0)),
            )
        )
    return cameras


def _augment(frame: np.ndarray, rng: np.random.Generator, noise: np.ndarray) -> np.ndarray:
    """Exposure, contrast, sensor noise (from ``noise``, a bank of unit-variance fields:
    drawing 19,200 normals a frame would cost more than rendering) and sometimes blur."""
    gain = rng.uniform(0.7, 1.3)
    image = frame.astype(np.float32)
    image *= gain
    image += 128.0 * (1.0 - gain) + rng.uniform(-30.0, 30.0)
    if rng.random() < 0.3:
        image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.5))
    image += noise[rng.integers(len(noise))] * np.float32(rng.uniform(0.0, 6.0))
    return np.clip(image, 0, 255, out=image).astype(np.uint8)


def simulator_frames(count: int, *, seed: int = 0) -> Iterator[np.ndarray]:
    """``count`` 120x160 uint8 gray frames, spread evenly over ``TRACKS`` and their cameras."""
    if count < 1:
        raise ValueError(f"frame count must be positive, got {count}")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((NOISE_FIELDS, HEIGHT, WIDTH), dtype=np.float32)
    groups = len(TRACKS) * CAMERAS_PER_TRACK
    for t, name in enumerate(TRACKS):
        track = load_track(name)
        width = track.width
        renderer = Renderer(track, seed=seed + t)
        for c, camera in enumerate(_cameras(rng)):
            renderer.set_camera(camera)
            group = t * CAMERAS_PER_TRACK + c
            share = (count * (group + 1)) // groups - (count * group) // groups
            for _ in range(share):
                s = rng.uniform(0.0, track.length)
                offset = rng.uniform(-MAX_OFFSET_WIDTHS, MAX_OFFSET_WIDTHS) * width
                x, y, heading = track.pose_at(s, offset)
                heading += rng.uniform(-MAX_HEADING_ERROR_RAD, MAX_HEADING_ERROR_RAD)
                yield _augment(renderer.render(x, y, heading), rng, noise)
