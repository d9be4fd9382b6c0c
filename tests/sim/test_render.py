"""The camera view: DeepRacer's geometry and the track's colours where they should be."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vehicle.core.preprocess import Preprocessor
from vehicle.sim.augment import augment_frame, jitter_camera
from vehicle.sim.render import HEIGHT, WIDTH, Camera, Renderer, RenderError


def pixel_of(camera: Camera, gx: float, gy: float) -> tuple[int, int]:
    """Independent pinhole projection of a car-frame floor point to (column, row)."""
    p = camera.pitch_rad
    d = np.array([gx - camera.ahead_m, gy, -camera.height_m])
    forward = d @ np.array([math.cos(p), 0.0, -math.sin(p)])
    right = -gy
    down = d @ np.array([-math.sin(p), 0.0, -math.cos(p)])
    f = camera.focal_px
    return round((WIDTH - 1) / 2 + f * right / forward), round(
        (HEIGHT - 1) / 2 + f * down / forward
    )


def test_camera_matches_deepracer_geometry() -> None:
    camera = Camera()
    assert camera.focal_px == pytest.approx(126.2, abs=0.5)
    assert camera.horizon_row == pytest.approx(26, abs=0.5)


@pytest.mark.parametrize(
    "kwargs", [{"height_m": 0.0}, {"pitch_rad": -0.1}, {"pitch_rad": 2.0}, {"hfov_rad": 0.1}]
)
def test_bad_camera_is_rejected(kwargs) -> None:
    with pytest.raises(RenderError):
        Camera(**kwargs)


@pytest.fixture(scope="module")
def strip_view(strip):
    """The view from the middle of a straight 0.76 m road, looking along it."""
    renderer = Renderer(strip)
    return renderer, renderer.render(2.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("gx", "gy", "low", "high"),
    [
        (0.8, -0.2, 47, 63),  # tarmac right of the centre line
        (0.8, 0.2, 47, 63),  # tarmac left of it
        (0.8, 0.342, 193, 223),  # inside the left 3-inch border line
        (0.8, -0.342, 193, 223),  # right border line
        (1.5, 0.6, 105, 135),  # the field beyond the border
        (2.0, -0.8, 105, 135),
    ],
)
def test_colours_at_known_floor_points(strip_view, gx, gy, low, high) -> None:
    renderer, frame = strip_view
    u, v = pixel_of(renderer.camera, gx, gy)
    assert 0 <= u < WIDTH and 0 <= v < HEIGHT
    assert low <= frame[v, u] <= high


def test_dashed_centre_line_is_white_and_dashed(strip) -> None:
    renderer = Renderer(strip)
    camera = renderer.camera
    column = [
        renderer.render(x, 0.0, 0.0)[pixel_of(camera, 0.6, 0.0)[::-1]]
        for x in np.arange(2.0, 2.6, 0.02)
    ]
    assert max(column) >= 193 and min(column) <= 63


def test_above_the_horizon_is_background_not_floor(strip_view) -> None:
    _, frame = strip_view
    assert frame[0].min() > 120
    assert frame[: int(Camera().horizon_row) - 1].min() >= 120


def test_the_road_runs_on_past_the_finish_of_a_route(strip) -> None:
    """At the finish line of a route that is not a loop the camera sees road ahead, not the
    end of the world (a model would swerve from it before finishing)."""
    renderer = Renderer(strip)
    frame = renderer.render(strip.length - 0.2, 0.0, 0.0)
    for ahead in (0.8, 1.5, 2.5):
        u, v = pixel_of(renderer.camera, ahead, -0.2)
        assert 47 <= frame[v, u] <= 63


def test_turning_the_car_moves_the_road(strip) -> None:
    renderer = Renderer(strip)
    straight = renderer.render(2.0, 0.0, 0.0).copy()
    turned = renderer.render(2.0, 0.0, 0.3)
    assert np.abs(straight.astype(int) - turned).mean() > 10


def test_frames_go_through_the_car_preprocessing_unchanged(strip_view) -> None:
    _, frame = strip_view
    assert frame.dtype == np.uint8 and frame.shape == (HEIGHT, WIDTH)
    tensor = Preprocessor("NHWC")(frame)
    assert np.array_equal(tensor[0, :, :, 0], frame.astype(np.float32))


def test_render_into_a_given_buffer(strip) -> None:
    renderer = Renderer(strip)
    out = np.empty((HEIGHT, WIDTH), np.uint8)
    assert renderer.render(2.0, 0.1, 0.05, out=out) is out


def test_augmentations_keep_the_format_and_change_the_image(strip_view) -> None:
    _, frame = strip_view
    rng = np.random.default_rng(3)
    changed = augment_frame(frame, rng)
    assert changed.dtype == np.uint8 and changed.shape == frame.shape
    assert not np.array_equal(changed, frame)
    camera = jitter_camera(Camera(), rng)
    assert abs(camera.height_m - 0.13) <= 0.012
    assert abs(math.degrees(camera.pitch_rad) - 15.0) <= 2.5
