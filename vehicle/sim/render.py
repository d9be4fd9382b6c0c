"""The front camera's view of a track, as DeepRacer's simulator frames it (160x120 gray).

The track is painted once into a top-down texture (1 cm per pixel). The ground point that
each camera pixel sees is computed once from the camera geometry (a pinhole on a flat floor),
so a frame is a rigid transform of those points by the car pose and one ``cv2.remap``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vehicle.sim.track import CENTRE_LINE_WIDTH_M, LINE_WIDTH_M, Track

WIDTH, HEIGHT = 160, 120
ROAD_LUMA = 55  # DeepRacer's tarmac reads ~47-63
FIELD_LUMA = 120
LINE_LUMA = 208  # white tape reads ~193-223
DASH_M = 0.15  # centre-line dash and gap length
TEXTURE_M_PER_PX = 0.01
MAX_RANGE_M = 12.0  # beyond this the floor is one blur: painted as the far field
# A route that is not a loop ends at its finish line, but the road goes on (a run-off), so
# the camera does not see the world end before the run does; 3 m ahead is near the horizon.
RUNOFF_M = 3.0


class RenderError(ValueError):
    """Camera or augmentation parameters outside what the renderer supports."""


@dataclass(frozen=True)
class Camera:
    """DeepRacer's front camera relative to the rear-axle reference point."""

    ahead_m: float = 0.145
    height_m: float = 0.13
    pitch_rad: float = math.radians(15.0)
    hfov_rad: float = 1.13

    def __post_init__(self) -> None:
        if not 0.02 <= self.height_m <= 1.0:
            raise RenderError(f"camera height must be 0.02..1 m, got {self.height_m}")
        if not 0.0 <= self.pitch_rad <= math.radians(60):
            raise RenderError(f"camera pitch must be 0..60 deg down, got {self.pitch_rad} rad")
        if not 0.3 <= self.hfov_rad <= 2.5:
            raise RenderError(f"horizontal FOV must be 0.3..2.5 rad, got {self.hfov_rad}")

    @property
    def focal_px(self) -> float:
        return (WIDTH / 2) / math.tan(self.hfov_rad / 2)

    @property
    def horizon_row(self) -> float:
        return (HEIGHT - 1) / 2 - self.focal_px * math.tan(self.pitch_rad)

    def ground_points(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Car-frame (x forward, y left) floor point of every pixel, and which pixels see
        the floor within ``MAX_RANGE_M``."""
        f = self.focal_px
        u, v = np.meshgrid(np.arange(WIDTH), np.arange(HEIGHT))
        xr = (u - (WIDTH - 1) / 2) / f
        yd = (v - (HEIGHT - 1) / 2) / f
        sp, cp = math.sin(self.pitch_rad), math.cos(self.pitch_rad)
        down = sp + yd * cp  # downward component of the ray (forward is 1 unit along axis)
        floor = down > 1e-6
        t = np.where(floor, self.height_m / np.where(floor, down, 1.0), 0.0)
        gx = self.ahead_m + t * (cp - yd * sp)
        gy = -t * xr
        floor &= np.hypot(gx - self.ahead_m, gy) < MAX_RANGE_M
        return gx, gy, floor


def paint_track(
    track: Track, margin_m: float = 2.0, seed: int = 0
) -> tuple[np.ndarray, tuple[float, float]]:
    """Top-down gray texture of the track (with its run-off, ``RUNOFF_M``) and its
    (x_min, y_min) origin in metres."""
    track = track.extended(RUNOFF_M)
    x0, y0, x1, y1 = track.bounds(margin_m)
    res = TEXTURE_M_PER_PX
    w, h = math.ceil((x1 - x0) / res), math.ceil((y1 - y0) / res)
    shift = 4  # sub-pixel precision for cv2 drawing

    def px(points: np.ndarray) -> np.ndarray:
        return np.rint((points - (x0, y0)) / res * (1 << shift)).astype(np.int32)

    road = np.zeros((h, w), np.uint8)
    cv2.fillPoly(road, list(px(track.triangles)), 255, cv2.LINE_8, shift)
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0), 3)
    noise /= noise.std()  # unit-variance blotches a few centimetres across, like worn tarmac
    img = np.where(road > 0, ROAD_LUMA + 2.5 * noise, FIELD_LUMA + 4 * noise).astype(np.float32)
    paint = np.zeros((h, w), np.uint8)
    line_px = 2 * LINE_WIDTH_M / res  # centred on the border: the outside half is masked off
    for border in (track.inner, track.outer):
        cv2.polylines(paint, [px(border)], track.loop, 255, round(line_px), cv2.LINE_AA, shift)
    for dash in _dashes(track):
        cv2.polylines(
            paint,
            [px(dash)],
            False,
            255,
            max(1, round(CENTRE_LINE_WIDTH_M / res)),
            cv2.LINE_AA,
            shift,
        )
    paint = np.where(road > 0, paint, 0).astype(np.float32) / 255.0
    img = img * (1 - paint) + (LINE_LUMA + 4 * noise) * paint
    return np.clip(img, 0, 255).astype(np.uint8), (x0, y0)


def _dashes(track: Track) -> list[np.ndarray]:
    dashes = []
    for start in np.arange(0.0, track.length - DASH_M, 2 * DASH_M):
        s = np.linspace(start, start + DASH_M, 4)
        dashes.append(np.array([track.pose_at(v)[:2] for v in s]))
    return dashes


class Renderer:
    """Frames of one track from any car pose: a few array operations and one remap per frame
    (12 000 to 34 000 frames/s on the 2-core development machine)."""

    def __init__(self, track: Track, camera: Camera | None = None, seed: int = 0) -> None:
        self.texture, (self._x0, self._y0) = paint_track(track, seed=seed)
        self.set_camera(camera or Camera())
        self._map_x = np.empty((HEIGHT, WIDTH), np.float32)
        self._map_y = np.empty((HEIGHT, WIDTH), np.float32)
        self._tmp = np.empty((HEIGHT, WIDTH), np.float32)

    def set_camera(self, camera: Camera) -> None:
        """Recompute the per-pixel floor points (a new mount height or pitch)."""
        self.camera = camera
        gx, gy, floor = camera.ground_points()
        self._gx = (gx / TEXTURE_M_PER_PX).astype(np.float32)
        self._gy = (gy / TEXTURE_M_PER_PX).astype(np.float32)
        self._sky = ~floor
        rows = np.arange(HEIGHT, dtype=np.float32)[:, None]
        horizon = camera.horizon_row
        far = np.clip(FIELD_LUMA + 2.0 * (horizon - rows), FIELD_LUMA, 175)
        self._background = np.broadcast_to(far, (HEIGHT, WIDTH)).astype(np.uint8)

    def render(
        self, x: float, y: float, heading: float, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The 120x160 uint8 gray frame seen from the rear-axle pose (x, y, heading)."""
        c, s = math.cos(heading), math.sin(heading)
        ox = (x - self._x0) / TEXTURE_M_PER_PX
        oy = (y - self._y0) / TEXTURE_M_PER_PX
        mx, my, tmp = self._map_x, self._map_y, self._tmp
        np.multiply(self._gx, c, out=mx)
        np.multiply(self._gy, s, out=tmp)
        mx -= tmp
        mx += ox
        np.multiply(self._gx, s, out=my)
        np.multiply(self._gy, c, out=tmp)
        my += tmp
        my += oy
        frame = cv2.remap(
            self.texture,
            mx,
            my,
            cv2.INTER_LINEAR,
            dst=out,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=FIELD_LUMA,
        )
        np.copyto(frame, self._background, where=self._sky)
        return frame
