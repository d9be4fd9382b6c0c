"""JPEG frames for console viewers: encoded once per frame, shared by all, off the drive path.

The encoder thread reads the frame slot as an onlooker (it never takes frames from the drive
loop), and only while somebody watched within the last couple of seconds. It yields to the
drive loop: it encodes a frame after the loop has finished its step for that frame (or one
loop period later when no model runs), and no faster than viewers can take frames, so
encoding never competes with inference for the CPU at the moment a frame arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

from vehicle.core.camera import LatestFrameSlot

DEMAND_WINDOW_S = 2.0
JPEG_QUALITY = 80

# (index, steer_norm, throttle_norm, probabilities) of the newest step, or None
ActionProvider = Callable[[], tuple[int | None, float, float, np.ndarray | None] | None]


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
        self,
        slot: LatestFrameSlot,
        action: ActionProvider,
        *,
        max_fps: float = 15.0,
        loop_period_s: float = 1 / 15,
    ) -> None:
        self._slot = slot
        self._action = action
        self._min_interval_s = 1.0 / (max_fps * 1.1)  # slack: a 30 Hz camera still gives 15
        self._loop_period_s = loop_period_s
        self._cond = threading.Condition()
        self._step_cond = threading.Condition()
        self._step_seq = 0
        self._watched = threading.Event()
        self._encoded: dict[bool, tuple[int, bytes]] = {}
        self._demand_until = {False: 0.0, True: 0.0}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jpeg-encoder", daemon=True)
        self.encoded_frames = 0

    def start(self) -> None:
        self._thread.start()

    def step_done(self, seq: int) -> None:
        """The drive loop finished the frame ``seq``: the CPU is free to encode it."""
        with self._step_cond:
            self._step_seq = seq
            self._step_cond.notify()

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
            if not self._wanted():
                self._watched.clear()
                self._watched.wait(1.0)  # sleep until a viewer asks
                continue
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            frame = self._slot.wait_newer(last_seq, 0.25, consume=False)
            if frame is None:
                continue
            last_seq = frame.seq
            with self._step_cond:
                self._step_cond.wait_for(
                    lambda seq=frame.seq: self._step_seq >= seq, self._loop_period_s
                )
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

    def _wanted(self) -> list[bool]:
        now = time.monotonic()
        with self._cond:
            return [overlay for overlay, until in self._demand_until.items() if until > now]
