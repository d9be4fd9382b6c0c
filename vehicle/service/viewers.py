"""JPEG frames for console viewers: encoded once per frame, shared by all, in the service.

The drive process copies a frame into shared memory after its step, and only while viewers
watch (this encoder tells it so, at most once a second). The encoder here polls that memory
as a bystander: the drive never waits for it, and the JPEG work runs in this process, so
viewers cost the drive loop nothing but the copy.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

from vehicle.core.ipc import WantFrames

DEMAND_WINDOW_S = 2.0  # a viewer that asked within this long is still watching
JPEG_QUALITY = 80
POLL_S = 0.005  # how often the encoder looks for a newer frame while someone watches

# (index, steer_norm, throttle_norm, probabilities) of the newest step, or None
ActionProvider = Callable[[], tuple[int | None, float, float, object] | None]


def draw_action_overlay(
    image: np.ndarray, action: tuple[int | None, float, float, object]
) -> np.ndarray:
    """A steering arrow and a throttle bar on a copy of the frame."""
    index, steer, throttle, _ = action
    canvas = image.copy() if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    h, w = canvas.shape[:2]
    base = (w // 2, h - 4)
    tip = (int(w / 2 - steer * w * 0.35), int(h - 4 - max(0.15, abs(throttle)) * h * 0.5))
    cv2.arrowedLine(canvas, base, tip, (0, 220, 255), max(1, w // 80), tipLength=0.25)
    bar = int(abs(throttle) * (h - 8))
    cv2.rectangle(canvas, (w - 10, h - 4 - bar), (w - 4, h - 4), (80, 200, 80), -1)
    label = "continuous" if index is None else f"#{index}"
    cv2.putText(canvas, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    return canvas


class ViewerStream:
    def __init__(
        self, drive, *, max_fps: float = 15.0, overlay_source: ActionProvider | None = None
    ) -> None:
        self._drive = drive  # a DriveClient: its frame ring and its requests
        self._action = overlay_source or (lambda: None)
        self._min_interval_s = 1.0 / (max_fps * 1.1)  # slack: a 30 Hz camera still gives 15
        self._cond = threading.Condition()
        self._watched = threading.Event()
        self._encoded: dict[bool, tuple[int, bytes]] = {}
        self._demand_until = {False: 0.0, True: 0.0}
        self._asked_until = 0.0  # frames requested from the drive up to this time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jpeg-encoder", daemon=True)
        self.encoded_frames = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._watched.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def wait_jpeg(
        self, after_seq: int, timeout: float, *, overlay: bool = False
    ) -> tuple[int, bytes] | None:
        """The newest encoded frame with seq > ``after_seq``, or None after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._demand_until[overlay] = time.monotonic() + DEMAND_WINDOW_S
            self._watched.set()
            while not self._stop.is_set():
                current = self._encoded.get(overlay)
                if current is not None and current[0] > after_seq:
                    return current
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
        return None

    def _run(self) -> None:
        last_seq = 0
        next_at = 0.0
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        while not self._stop.is_set():
            wanted = self._wanted()
            if not wanted:
                self._watched.clear()
                self._watched.wait(1.0)  # sleep until a viewer asks
                continue
            self._ask_drive()
            frames = self._drive.frames
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            frame = frames.latest(last_seq) if frames is not None else None
            if frame is None:
                self._stop.wait(POLL_S)
                continue
            last_seq = frame.seq
            next_at = time.monotonic() + self._min_interval_s
            for overlay in self._wanted():  # asked now, not when the wait began
                image = frame.image
                action = self._action() if overlay else None
                if action is not None:
                    image = draw_action_overlay(image, action)
                ok, data = cv2.imencode(".jpg", image, params)
                if not ok:
                    continue
                with self._cond:
                    self._encoded[overlay] = (frame.seq, data.tobytes())
                    self._cond.notify_all()
                self.encoded_frames += 1

    def _ask_drive(self) -> None:
        """Keep the drive publishing frames while someone watches (one request a second)."""
        now = time.monotonic()
        if now < self._asked_until - DEMAND_WINDOW_S / 2:
            return
        try:
            self._drive.request(WantFrames(DEMAND_WINDOW_S))
            self._asked_until = now + DEMAND_WINDOW_S
        except (ValueError, RuntimeError):
            self._asked_until = now + 0.2  # the drive is busy or gone: try again shortly

    def _wanted(self) -> list[bool]:
        now = time.monotonic()
        with self._cond:
            return [overlay for overlay, until in self._demand_until.items() if until > now]
