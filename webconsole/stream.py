"""The live camera as MJPEG: JPEGs encoded once per frame by the service, shared by all.

Each viewer is rate-limited to ``viewer_max_fps`` and waits on the service's encoder, never
on the drive loop. A stream ends when the console stops or the viewer goes away.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from flask import Blueprint, Response, request

from webconsole.context import ConsoleContext, console
from webconsole.policy import camera_stream
from webconsole.responses import InputError, query_int, shown

bp = Blueprint("stream", __name__)

BOUNDARY = "frame"
WAIT_S = 0.5  # how long one wait for a frame lasts before the stop flag is checked again
# DeepRacer's camera topics: the display feed carries the inference overlay, video is raw.
TOPICS = {
    "/camera_pkg/display_mjpeg": True,
    "/camera_pkg/video_mjpeg": False,
    "/video_mjpeg": False,
    "/display_mjpeg": True,
}


def mjpeg_parts(
    ctx: ConsoleContext, overlay: bool, clock: Callable[[], float] = time.monotonic
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
        got = ctx.service.wait_jpeg(seq, WAIT_S, overlay=overlay)
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


def _response(overlay: bool) -> Response:
    response = Response(
        mjpeg_parts(console(), overlay),
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
    """DeepRacer's ``/route?topic=...&width=...&height=...``. Frames are encoded once for
    every viewer, so the size is validated and the browser scales the image."""
    topic = request.args.get("topic", "")
    if topic not in TOPICS:
        raise InputError(
            f"unknown camera topic {shown(topic)}; expected one of {', '.join(TOPICS)}"
        )
    query_int("width", 0, 1, 4096)
    query_int("height", 0, 1, 4096)
    return _response(TOPICS[topic])
