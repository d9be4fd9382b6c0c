"""The live camera as MJPEG: JPEGs encoded once per frame by the service, shared by all.

Each viewer is rate-limited to ``viewer_max_fps`` and waits on the service's encoder, never
on the drive loop. A stream ends when the console stops or the viewer goes away.

DeepRacer's ``/route?topic=T&width=W&height=H`` (its web_video_server) takes any topic: the
topic is only a name here, never a path. Display and overlay topics (the inference display,
the LiDAR and object-detection overlays) show the action overlay; any other topic the plain
camera. Width and height scale the picture (each missing or -1: the camera's own).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, request

from webconsole.context import ConsoleContext, console
from webconsole.policy import camera_stream
from webconsole.responses import InputError, query_int

bp = Blueprint("stream", __name__)

BOUNDARY = "frame"
WAIT_S = 0.5  # how long one wait for a frame lasts before the stop flag is checked again
OVERLAY_WORDS = ("display", "overlay")  # topics whose pictures carry what the car decided
MAX_TOPIC_LEN = 200
MAX_WIDTH, MAX_HEIGHT = 1920, 1440  # a 160x120 camera scaled further shows nothing more
NATIVE = -1  # web_video_server's "the image's own size"


def mjpeg_parts(
    ctx: ConsoleContext,
    overlay: bool,
    clock: Callable[[], float] = time.monotonic,
    size: tuple[int, int] | None = None,
) -> Iterator[bytes]:
    """Multipart body parts, one per new frame, at most ``viewer_max_fps`` a second."""
    interval = 1.0 / ctx.settings.viewer_max_fps
    seq = 0
    sent_at = float("-inf")
    while not ctx.stopping.is_set():
        rest = sent_at + interval - clock()
        if rest > 0:
            ctx.stopping.wait(rest)
            continue
        got = ctx.service.wait_jpeg(seq, WAIT_S, overlay=overlay, size=size)
        if got is None:
            continue
        seq, jpeg = got
        sent_at = clock()
        yield (
            (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            ).encode()
            + jpeg
            + b"\r\n"
        )


def _response(overlay: bool, size: tuple[int, int] | None = None) -> Response:
    ctx = console()
    ctx.service.admit_viewer(overlay, size)
    response = Response(
        mjpeg_parts(ctx, overlay, size=size),
        mimetype=f"multipart/x-mixed-replace; boundary={BOUNDARY}",
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"
    return response


@bp.route("/stream.mjpg")
@camera_stream
def camera() -> Any:
    """Our stream; ``?overlay=1`` draws the chosen action on the frames."""
    return _response(request.args.get("overlay", "0") in ("1", "true", "yes"))


@bp.route("/route")
@camera_stream
def deepracer_route() -> Any:
    """DeepRacer's ``/route?topic=...&width=...&height=...`` (other parameters, such as
    ``qos_profile`` and ``quality``, are web_video_server's and change nothing here)."""
    topic = request.args.get("topic", "")
    if not topic or len(topic) > MAX_TOPIC_LEN or not topic.isprintable():
        raise InputError("topic must name a camera topic, e.g. /camera_pkg/display_mjpeg")
    overlay = any(word in topic for word in OVERLAY_WORDS)
    width = _dimension("width", MAX_WIDTH)
    height = _dimension("height", MAX_HEIGHT)
    if width is None and height is None:
        return _response(overlay)
    native_w, native_h = console().service.camera_size()
    return _response(overlay, (width or native_w, height or native_h))


def _dimension(name: str, most: int) -> int | None:
    """A requested width or height; None for the camera's own."""
    value = query_int(name, NATIVE, NATIVE, most)
    if value == NATIVE:
        return None
    if value < 1:
        raise InputError(f"{name} must be 1..{most}, or -1 for the camera's own, got {value}")
    return value
