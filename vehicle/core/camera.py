"""Frame sources and the latest-frame slot between them and the drive loop.

A source runs in its own thread and puts each frame into a ``LatestFrameSlot``. The slot holds
one frame: a new frame replaces an untaken one (counted as dropped), so the drive loop always
works on the newest image and never on a queue of stale ones.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vehicle.core.closeable import Closeable

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov", ".mjpg", ".mjpeg", ".webm")


class SourceError(ValueError):
    """A frame source that cannot be opened."""


@dataclass(frozen=True, slots=True)
class Frame:
    image: np.ndarray  # HxWx3 BGR uint8, or HxW gray uint8
    t_capture: float  # the slot's clock at capture
    seq: int  # 1, 2, 3, ... per slot


class LatestFrameSlot:
    """One-frame mailbox: ``put`` replaces, ``wait_newer`` blocks until a newer frame exists."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._taken_seq = 0
        self.dropped = 0

    def put(self, image: np.ndarray, t_capture: float | None = None) -> Frame:
        t = self.clock() if t_capture is None else t_capture
        with self._cond:
            seq = 1 if self._frame is None else self._frame.seq + 1
            if self._frame is not None and self._frame.seq > self._taken_seq:
                self.dropped += 1
            frame = Frame(image, t, seq)
            self._frame = frame
            self._cond.notify_all()
        return frame

    def latest(self) -> Frame | None:
        return self._frame

    def wait_newer(self, after_seq: int, timeout: float, *, consume: bool = True) -> Frame | None:
        """The newest frame with ``seq > after_seq``, or None after ``timeout`` seconds.

        ``consume=False`` is for onlookers (the JPEG encoder): their reads do not count as the
        drive loop having taken the frame, so ``dropped`` keeps meaning frames the loop missed.
        """
        with self._cond:
            if self._frame is None or self._frame.seq <= after_seq:
                self._cond.wait_for(
                    lambda: self._frame is not None and self._frame.seq > after_seq, timeout
                )
            frame = self._frame
            if frame is None or frame.seq <= after_seq:
                return None
            if consume:
                self._taken_seq = max(self._taken_seq, frame.seq)
            return frame


class FrameSource(Closeable):
    """A thread that captures frames into a slot until stopped or exhausted."""

    def __init__(self, fps: float | None) -> None:
        if fps is not None and not 0 < fps <= 1000:
            raise SourceError(f"fps must be in (0, 1000], got {fps}")
        self.fps = fps
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.finished = threading.Event()  # set when the source ends by itself (or fails)
        self.error: str | None = None

    def start(self, slot: LatestFrameSlot) -> None:
        if self._thread is not None:
            raise RuntimeError("source already started")
        self._thread = threading.Thread(
            target=self._run, args=(slot,), name=f"camera-{type(self).__name__}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._release()

    def _run(self, slot: LatestFrameSlot) -> None:
        period = 1.0 / self.fps if self.fps else 0.0
        next_due = time.monotonic()
        try:
            while not self._stop.is_set():
                image = self._read()
                if image is None:
                    break
                slot.put(image)
                if period:
                    next_due += period
                    delay = next_due - time.monotonic()
                    if delay > 0:
                        self._stop.wait(delay)
                    else:
                        next_due = time.monotonic()
        except Exception as exc:  # a dying camera must be visible, not silent
            self.error = f"{type(self).__name__}: {exc}"
            log.exception("frame source failed")
        finally:
            self.finished.set()

    @abstractmethod
    def _read(self) -> np.ndarray | None:
        """Next image, blocking as the device does; None when the source is exhausted."""

    def _release(self) -> None:
        """Free the device; default nothing."""

    def close(self) -> None:
        self.stop()


@contextlib.contextmanager
def opencv_log_silenced() -> Iterator[None]:
    """OpenCV's log off while it probes a source: a camera that is not there makes it print
    ``[ WARN ]`` lines of its own before our one-line SourceError says the same."""
    previous = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous)


class OpenCvSource(FrameSource):
    """A V4L2 camera (index or /dev path) or a video file, read through OpenCV.

    A camera paces itself (``read`` blocks until the next frame). A file is paced at its own
    frame rate (or ``fps``) so the car sees it as a camera would deliver it.
    """

    def __init__(
        self,
        spec: str,
        *,
        fps: float | None = None,
        loop: bool = False,
        width: int = 640,
        height: int = 480,
    ) -> None:
        self.is_file = Path(spec).is_file()
        device: int | str = int(spec) if spec.isdigit() else spec
        with opencv_log_silenced():
            cap = cv2.VideoCapture(device, cv2.CAP_ANY if self.is_file else cv2.CAP_V4L2)
        if not cap.isOpened():
            raise SourceError(f"cannot open frame source {spec!r}")
        if not self.is_file:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if fps:
                cap.set(cv2.CAP_PROP_FPS, fps)
        file_fps = cap.get(cv2.CAP_PROP_FPS) if self.is_file else 0.0
        super().__init__(fps or (file_fps if file_fps and file_fps > 0 else None))
        if not self.is_file:
            self.fps = None  # the device paces itself
        self._cap = cap
        self._loop = loop and self.is_file
        self._spec = spec

    def _read(self) -> np.ndarray | None:
        ok, image = self._cap.read()
        if not ok and self._loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._cap.read()
        if not ok:
            if not self.is_file:
                raise SourceError(f"camera {self._spec!r} stopped delivering frames")
            return None
        return image

    def _release(self) -> None:
        self._cap.release()


class ImageFolderSource(FrameSource):
    """Images from a folder in name order, at ``fps`` (recorded runs, HIL known frames)."""

    def __init__(self, folder: Path, *, fps: float | None = 15.0, loop: bool = False) -> None:
        super().__init__(fps or 15.0)
        self.paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise SourceError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
        self._loop = loop
        self._index = 0

    def _read(self) -> np.ndarray | None:
        if self._index >= len(self.paths):
            if not self._loop:
                return None
            self._index = 0
        path = self.paths[self._index]
        self._index += 1
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"cannot decode image {path}")
        return image


class SyntheticSource(FrameSource):
    """A moving test pattern at ``fps``: a camera for benches and tests, no files needed."""

    def __init__(self, fps: float = 30.0, width: int = 160, height: int = 120) -> None:
        super().__init__(fps)
        self._base = np.tile(np.arange(width, dtype=np.uint8), (height, 1))
        self._n = 0

    def _read(self) -> np.ndarray | None:
        self._n += 1
        gray = np.roll(self._base, self._n, axis=1)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)


def open_source(spec: str, *, fps: float | None = None, loop: bool = False) -> FrameSource:
    """A camera index ("0") or device path, a video file, an image folder, or "synthetic"."""
    path = Path(spec)
    if spec == "synthetic":
        return SyntheticSource(fps or 30.0)
    if path.is_dir():
        return ImageFolderSource(path, fps=fps, loop=loop)
    if path.is_file() and path.suffix.lower() not in VIDEO_SUFFIXES:
        raise SourceError(f"{spec}: not a video file ({', '.join(VIDEO_SUFFIXES)})")
    if spec.isdigit() or path.exists():
        return OpenCvSource(spec, fps=fps, loop=loop)
    raise SourceError(f"frame source {spec!r} not found (camera index, device, video or folder)")
