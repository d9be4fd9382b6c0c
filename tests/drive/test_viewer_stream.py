"""Viewer JPEGs: encoded once per frame for all viewers, only when watched, after the step."""

from __future__ import annotations

import threading

import cv2
import numpy as np

from vehicle.core.camera import LatestFrameSlot
from vehicle.viewer_stream import ViewerStream, draw_action_overlay


def image(value: int) -> np.ndarray:
    return np.full((120, 160, 3), value, np.uint8)


def make_stream(**kwargs) -> tuple[LatestFrameSlot, ViewerStream]:
    slot = LatestFrameSlot()
    stream = ViewerStream(slot, lambda: (3, 0.5, 0.4, None), **kwargs)
    stream.start()
    return slot, stream


def test_nothing_is_encoded_while_nobody_watches() -> None:
    slot, stream = make_stream(max_fps=1000)
    try:
        for i in range(5):
            slot.put(image(i))
            stream.step_done(i + 1)
        threading.Event().wait(0.3)
        assert stream.encoded_frames == 0
    finally:
        stream.stop()


def test_viewers_share_one_encoding_of_the_newest_frame() -> None:
    slot, stream = make_stream(max_fps=1000)
    try:
        assert stream.wait_jpeg(0, timeout=0.05) is None  # registers demand
        frame = slot.put(image(200))
        stream.step_done(frame.seq)
        first = stream.wait_jpeg(0, timeout=5.0)
        second = stream.wait_jpeg(0, timeout=5.0)
        assert first is not None and first == second
        decoded = cv2.imdecode(np.frombuffer(first[1], np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == (120, 160, 3) and abs(int(decoded.mean()) - 200) <= 2
        assert stream.encoded_frames == 1
    finally:
        stream.stop()


def test_encoding_waits_for_the_drive_step_up_to_one_loop_period() -> None:
    slot, stream = make_stream(max_fps=1000, loop_period_s=5.0)
    try:
        stream.wait_jpeg(0, timeout=0.01)
        frame = slot.put(image(10))
        assert stream.wait_jpeg(0, timeout=0.3) is None  # the loop has not finished the frame
        stream.step_done(frame.seq)
        assert stream.wait_jpeg(0, timeout=5.0)[0] == frame.seq
    finally:
        stream.stop()


def test_without_a_drive_step_frames_still_stream_after_one_period() -> None:
    slot, stream = make_stream(max_fps=1000, loop_period_s=0.05)
    try:
        stream.wait_jpeg(0, timeout=0.01)
        frame = slot.put(image(10))
        assert stream.wait_jpeg(0, timeout=5.0)[0] == frame.seq
    finally:
        stream.stop()


def test_overlay_is_a_separate_encoding_with_the_action_drawn() -> None:
    slot, stream = make_stream(max_fps=1000)
    try:
        stream.wait_jpeg(0, timeout=0.01, overlay=True)
        stream.wait_jpeg(0, timeout=0.01)
        frame = slot.put(image(0))
        stream.step_done(frame.seq)
        plain = stream.wait_jpeg(0, timeout=5.0)
        drawn = stream.wait_jpeg(0, timeout=5.0, overlay=True)
        assert plain and drawn and plain[1] != drawn[1]
    finally:
        stream.stop()


def test_overlay_draws_on_a_copy() -> None:
    original = image(0)
    drawn = draw_action_overlay(original, (None, -1.0, 1.0, None))
    assert original.max() == 0 and drawn.max() > 0
    gray = draw_action_overlay(np.zeros((120, 160), np.uint8), (2, 0.0, 0.5, None))
    assert gray.shape == (120, 160, 3)
