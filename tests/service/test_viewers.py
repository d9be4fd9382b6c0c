"""Viewer JPEGs in the service: encoded once per frame for all viewers, only when watched,
from the frames the drive publishes in shared memory (it publishes only when asked)."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from vehicle.core.ipc import WantFrames
from vehicle.core.shm import FrameReader, FrameRing
from vehicle.service.viewers import ViewerStream, draw_action_overlay


class FakeDrive:
    """The drive client's two faces the encoder uses: its frame ring and its requests."""

    def __init__(self) -> None:
        self.ring = FrameRing()
        self.frames = FrameReader(self.ring.reader_fd())
        self.asked: list[WantFrames] = []
        self.seq = 0

    def request(self, request: WantFrames) -> dict:
        self.asked.append(request)
        return {}

    def publish(self, value: int) -> int:
        """A frame as the drive publishes it after a step."""
        self.seq += 1
        self.ring.publish(np.full((120, 160, 3), value, np.uint8), self.seq, time.monotonic())
        return self.seq

    def close(self) -> None:
        self.frames.close()
        self.ring.close()


def make_stream(**kwargs) -> tuple[FakeDrive, ViewerStream]:
    drive = FakeDrive()
    stream = ViewerStream(drive, overlay_source=lambda: (3, 0.5, 0.4, None), **kwargs)
    stream.start()
    return drive, stream


def test_nothing_is_encoded_or_asked_for_while_nobody_watches() -> None:
    drive, stream = make_stream(max_fps=1000)
    try:
        for i in range(5):
            drive.publish(i)
        threading.Event().wait(0.3)
        assert stream.encoded_frames == 0
        assert drive.asked == []
    finally:
        stream.stop()
        drive.close()


def test_a_viewer_asks_the_drive_for_frames_and_viewers_share_one_encoding() -> None:
    drive, stream = make_stream(max_fps=1000)
    try:
        assert stream.wait_jpeg(0, timeout=0.05) is None  # registers demand
        seq = drive.publish(200)
        first = stream.wait_jpeg(0, timeout=5.0)
        second = stream.wait_jpeg(0, timeout=5.0)
        assert first is not None and first == second and first[0] == seq
        decoded = cv2.imdecode(np.frombuffer(first[1], np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (120, 160, 3) and abs(int(decoded.mean()) - 200) <= 2
        assert stream.encoded_frames == 1
        assert drive.asked and all(0 < a.seconds <= 10 for a in drive.asked)
    finally:
        stream.stop()
        drive.close()


def test_only_newer_frames_are_encoded() -> None:
    drive, stream = make_stream(max_fps=1000)
    try:
        stream.wait_jpeg(0, timeout=0.01)
        first = drive.publish(10)
        assert stream.wait_jpeg(0, timeout=5.0)[0] == first
        assert stream.wait_jpeg(first, timeout=0.2) is None  # nothing new was published
        second = drive.publish(20)
        assert stream.wait_jpeg(first, timeout=5.0)[0] == second
    finally:
        stream.stop()
        drive.close()


def test_each_published_frame_is_encoded_at_once_and_the_drive_told_the_rate() -> None:
    """The drive publishes at the viewers' rate, just after its step: the encoder takes each
    frame as it appears, with no timer of its own (a timer would wait ~1 s at 1 fps)."""
    drive, stream = make_stream(max_fps=1)
    try:
        stream.wait_jpeg(0, timeout=0.01)
        first = drive.publish(10)
        assert stream.wait_jpeg(0, timeout=5.0)[0] == first
        second = drive.publish(20)
        published = time.monotonic()
        assert stream.wait_jpeg(first, timeout=5.0)[0] == second
        assert time.monotonic() - published < 0.3
        assert stream.encoded_frames == 2
        assert drive.asked and all(a.fps == 1 for a in drive.asked)
    finally:
        stream.stop()
        drive.close()


def test_overlay_is_a_separate_encoding_with_the_action_drawn() -> None:
    drive, stream = make_stream(max_fps=1000)
    try:
        stream.wait_jpeg(0, timeout=0.01, overlay=True)
        stream.wait_jpeg(0, timeout=0.01)
        drive.publish(0)
        plain = stream.wait_jpeg(0, timeout=5.0)
        drawn = stream.wait_jpeg(0, timeout=5.0, overlay=True)
        assert plain and drawn and plain[1] != drawn[1]
    finally:
        stream.stop()
        drive.close()


def test_overlay_draws_on_a_copy() -> None:
    original = np.zeros((120, 160, 3), np.uint8)
    drawn = draw_action_overlay(original, (None, -1.0, 1.0, None))
    assert original.max() == 0 and drawn.max() > 0
    gray = draw_action_overlay(np.zeros((120, 160), np.uint8), (2, 0.0, 0.5, None))
    assert gray.shape == (120, 160, 3)
