"""Frame sources deliver (frame, capture time, seq) through a slot that drops stale frames."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from vehicle.core.camera import (
    ImageFolderSource,
    LatestFrameSlot,
    SourceError,
    SyntheticSource,
    open_source,
)


class StepClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def write_video(path: Path, frames: int, fps: float = 30.0) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (320, 240))
    assert writer.isOpened()
    for i in range(frames):
        image = np.full((240, 320, 3), (i * 7) % 255, dtype=np.uint8)
        writer.write(image)
    writer.release()


def test_slot_assigns_sequence_and_capture_time() -> None:
    clock = StepClock()
    slot = LatestFrameSlot(clock)
    first = slot.put(np.zeros((2, 2), np.uint8))
    clock.t = 100.5
    second = slot.put(np.ones((2, 2), np.uint8))
    assert (first.seq, first.t_capture) == (1, 100.0)
    assert (second.seq, second.t_capture) == (2, 100.5)
    assert slot.put(np.ones((2, 2), np.uint8), t_capture=7.0).t_capture == 7.0


def test_slot_drops_untaken_frames_instead_of_queueing() -> None:
    slot = LatestFrameSlot()
    for i in range(5):
        slot.put(np.full((1, 1), i, np.uint8))
    frame = slot.wait_newer(0, timeout=0.1)
    assert frame is not None and frame.seq == 5 and frame.image[0, 0] == 4
    assert slot.dropped == 4
    assert slot.wait_newer(frame.seq, timeout=0.01) is None


def test_onlooker_reads_do_not_hide_drops_from_the_loop() -> None:
    slot = LatestFrameSlot()
    slot.put(np.zeros((1, 1), np.uint8))
    assert slot.wait_newer(0, 0.1, consume=False) is not None
    slot.put(np.zeros((1, 1), np.uint8))
    assert slot.dropped == 1


def test_wait_newer_wakes_on_put_from_another_thread() -> None:
    slot = LatestFrameSlot()
    result: list = []
    waiter = threading.Thread(target=lambda: result.append(slot.wait_newer(0, timeout=5.0)))
    waiter.start()
    slot.put(np.zeros((1, 1), np.uint8))
    waiter.join(timeout=5.0)
    assert result and result[0] is not None and result[0].seq == 1


def test_image_folder_plays_in_name_order_then_finishes(tmp_path: Path) -> None:
    for i in (2, 0, 1):
        cv2.imwrite(str(tmp_path / f"frame_{i:03d}.png"), np.full((120, 160, 3), i * 50, np.uint8))
    (tmp_path / "notes.txt").write_text("ignored")
    source = ImageFolderSource(tmp_path, fps=200)
    slot = LatestFrameSlot()
    seen = []
    source.start(slot)
    last = 0
    while len(seen) < 3:
        frame = slot.wait_newer(last, timeout=5.0)
        assert frame is not None
        last = frame.seq
        seen.append(int(frame.image[0, 0, 0]))
        if source.finished.is_set() and slot.latest().seq == last:
            break
    assert source.finished.wait(5.0)
    source.stop()
    assert seen[-1] == 100 and seen == sorted(seen)


def test_video_file_source_delivers_frames_at_file_rate(tmp_path: Path) -> None:
    video = tmp_path / "run.avi"
    write_video(video, frames=12, fps=120.0)
    source = open_source(str(video))
    assert source.fps == pytest.approx(120.0)
    slot = LatestFrameSlot()
    with source:
        source.start(slot)
        assert source.finished.wait(5.0)
    assert slot.latest() is not None and slot.latest().seq == 12
    assert slot.latest().image.shape == (240, 320, 3)
    assert source.error is None


def test_synthetic_source_moves(tmp_path: Path) -> None:
    slot = LatestFrameSlot()
    with SyntheticSource(fps=200) as source:
        source.start(slot)
        a = slot.wait_newer(0, 5.0)
        b = slot.wait_newer(a.seq, 5.0)
    assert a is not None and b is not None and not np.array_equal(a.image, b.image)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("/no/such/camera", "not found"),
        ("notes", "not a video file"),
    ],
)
def test_bad_sources_are_rejected_clearly(tmp_path: Path, spec: str, message: str) -> None:
    (tmp_path / "notes").write_text("x")
    target = spec if spec.startswith("/") else str(tmp_path / spec)
    with pytest.raises(SourceError, match=message):
        open_source(target)


def absent_camera_index() -> int:
    """A V4L2 index with no device behind it on this machine."""
    return next(i for i in range(7, 64) if not Path(f"/dev/video{i}").exists())


def test_an_absent_camera_is_one_error_and_no_opencv_log(capfd) -> None:
    index = absent_camera_index()
    levels = cv2.utils.logging
    before = levels.getLogLevel()
    levels.setLogLevel(levels.LOG_LEVEL_INFO)  # louder than the default: restored exactly
    try:
        with pytest.raises(SourceError, match=f"^cannot open frame source '{index}'$"):
            open_source(str(index))
        assert levels.getLogLevel() == levels.LOG_LEVEL_INFO
    finally:
        levels.setLogLevel(before)
    assert capfd.readouterr().err == ""  # OpenCV writes its [ WARN ] lines to fd 2


def test_drive_from_an_absent_camera_prints_one_line(tmp_path: Path) -> None:
    index = absent_camera_index()
    argv = ["--data-dir", str(tmp_path), "drive", "--source", str(index), "--pwm", "mock"]
    result = subprocess.run(
        [sys.executable, "-m", "vehicle", *argv], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert result.stderr == f"vehicle: cannot open frame source '{index}'\n"


def test_empty_image_folder_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no images"):
        open_source(str(tmp_path))


def test_unreadable_image_is_reported_not_silent(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"not a png")
    source = ImageFolderSource(tmp_path, fps=100)
    source.start(LatestFrameSlot())
    assert source.finished.wait(5.0)
    assert source.error is not None and "cannot decode" in source.error
