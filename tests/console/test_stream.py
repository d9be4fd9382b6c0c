"""The MJPEG camera stream: real JPEG frames, DeepRacer's topics, a per-viewer rate cap."""

from __future__ import annotations

import itertools
import threading

import cv2
import numpy as np
import pytest
from flask import Flask

from vehicle.config import ConsoleSettings
from vehicle.service.facade import VehicleService
from vehicle.service.viewers import MAX_SCALED_VIEWS
from webconsole.context import ConsoleContext
from webconsole.ratelimit import LoginRateLimiter
from webconsole.sessions import SessionRegistry
from webconsole.stream import BOUNDARY, mjpeg_parts

from .conftest import Api, FakeClock


def first_parts(response, n: int) -> list[bytes]:
    parts = []
    for chunk in response.response:
        parts.append(chunk)
        if len(parts) == n:
            break
    response.close()
    return parts


@pytest.mark.parametrize(
    "url",
    [
        "/stream.mjpg",
        "/stream.mjpg?overlay=1",
        "/route?topic=/camera_pkg/display_mjpeg&width=480&height=360",
        "/route?topic=/camera_pkg/video_mjpeg&width=160&height=120",
        "/route?topic=/video_mjpeg",
        "/route?topic=/sensor_fusion_pkg/overlay_msg&width=480&height=360&qos_profile=sensor_data",
    ],
)
def test_stream_sends_distinct_jpeg_frames(api: Api, url: str) -> None:
    response = api("GET", url, buffered=False)
    assert response.status_code == 200
    assert response.mimetype == "multipart/x-mixed-replace"
    parts = first_parts(response, 3)
    for part in parts:
        assert part.startswith(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n".encode())
        head, jpeg = part.split(b"\r\n\r\n", 1)
        assert jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9\r\n")
        assert f"Content-Length: {len(jpeg) - 2}".encode() in head
    assert len(set(parts)) == 3  # a viewer never gets the same frame twice


@pytest.mark.parametrize(
    "url",
    [
        "/route",
        "/route?topic=",
        f"/route?topic={'x' * 201}",
        "/route?topic=/camera_pkg/display_mjpeg&width=0",
        "/route?topic=/camera_pkg/display_mjpeg&width=-2",
        "/route?topic=/camera_pkg/display_mjpeg&width=5000",
        "/route?topic=/camera_pkg/display_mjpeg&height=big",
    ],
)
def test_bad_stream_requests_are_refused(api: Api, url: str) -> None:
    response = api("GET", url)
    assert response.status_code == 400
    assert response.json["success"] is False


def jpeg_size(part: bytes) -> tuple[int, int]:
    jpeg = part.split(b"\r\n\r\n", 1)[1][:-2]
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_UNCHANGED)
    return image.shape[1], image.shape[0]


@pytest.mark.parametrize(
    "query, size",
    [
        ("width=480&height=360", (480, 360)),
        ("width=80&height=60", (80, 60)),
        ("width=-1&height=-1", None),
        ("", None),
        ("width=320", (320, None)),
    ],
)
def test_route_scales_the_picture_when_asked(
    api: Api, service: VehicleService, query: str, size
) -> None:
    """A topic is a name, never a path: any topic streams (here, a LiDAR overlay's)."""
    response = api("GET", f"/route?topic=/sensor_fusion_pkg/overlay_msg&{query}", buffered=False)
    assert response.status_code == 200
    width, height = jpeg_size(first_parts(response, 1)[0])
    native = service.camera_size()
    expected = size or native
    assert (width, height) == (expected[0], expected[1] or native[1])


def test_each_size_is_encoded_once_per_frame_for_all_its_viewers(
    api: Api, service: VehicleService
) -> None:
    url = "/route?topic=/camera_pkg/display_mjpeg&width=320&height=240"
    viewers = [api("GET", url, buffered=False) for _ in range(3)]
    other = api("GET", "/route?topic=/camera_pkg/video_mjpeg&width=320&height=240", buffered=False)
    streams = [iter(response.response) for response in [*viewers, other]]
    for _ in range(4):
        for stream in streams:
            next(stream)
    encodes = service.viewers.encodes
    scaled, plain = encodes[(True, (320, 240))], encodes[(False, (320, 240))]
    assert scaled >= 4  # every viewer saw 4 distinct frames ...
    assert abs(scaled - plain) <= 2  # ... and three viewers cost what one viewer costs
    for response in [*viewers, other]:
        response.close()


def test_too_many_differently_scaled_pictures_are_refused(api: Api) -> None:
    opened = []
    for width in range(100, 100 + 10 * MAX_SCALED_VIEWS, 10):
        response = api(
            "GET", f"/route?topic=/camera_pkg/display_mjpeg&width={width}", buffered=False
        )
        assert response.status_code == 200
        opened.append(response)
    refused = api("GET", "/route?topic=/camera_pkg/display_mjpeg&width=99")
    assert refused.status_code == 400 and "scaled" in refused.json["reason"]
    same = api("GET", "/route?topic=/camera_pkg/display_mjpeg&width=100", buffered=False)
    assert same.status_code == 200  # a size already encoded costs nothing more
    for response in [*opened, same]:
        response.close()


class FakeTimeEvent(threading.Event):
    """A stop flag whose waits pass on a fake clock instead of sleeping."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout or 0.0)
        self.clock.advance(timeout or 0.0)
        return self.is_set()


def test_each_viewer_is_rate_limited(service: VehicleService) -> None:
    clock = FakeClock()
    stopping = FakeTimeEvent(clock)
    ctx = ConsoleContext(
        service,
        ConsoleSettings(viewer_max_fps=4.0),
        password_hash=lambda: "",
        limiter=LoginRateLimiter(1),
        sessions=SessionRegistry(60.0),
        stopping=stopping,
    )
    parts = mjpeg_parts(ctx, overlay=False, clock=clock)
    next(parts)
    sent = [clock()]
    for _ in range(3):
        next(parts)
        sent.append(clock())
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert all(gap >= 0.25 for gap in gaps), gaps
    stopping.set()
    assert list(parts) == []  # the stream ends when the console stops


def test_stream_ends_when_the_console_stops(app: Flask, api: Api) -> None:
    response = api("GET", "/stream.mjpg", buffered=False)
    chunks = iter(response.response)
    assert next(chunks).startswith(b"--frame")
    app.extensions["vehicle_console"].stopping.set()
    assert len(list(chunks)) <= 1  # at most the frame already in hand, then the end
    response.close()
