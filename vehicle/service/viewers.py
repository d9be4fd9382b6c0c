"""JPEG frames for console viewers: encoded once per frame, shared by all, in the service.

The drive process copies a frame into shared memory after its step, only while viewers
watch and only at their rate (this encoder tells it both, once a second). The encoder here
polls that memory as a bystander: the drive never waits for it, and the JPEG work runs in
this process, so viewers cost the drive loop nothing but the copy. The encoder takes each
frame as soon as it appears, which is just after the drive's step, never on a timer of its
own: an encode started at a random moment would now and then still be running when the
next frame arrives, and on a two-core car its memory traffic then slows that frame's
inference (measured on the bench as late pulse intervals with viewers).

A view is the frame with or without the action overlay, at the camera's size or scaled to
one a viewer asked for (DeepRacer's ``/route?width=&height=``): each view is encoded once per
frame however many watch it, and at most ``MAX_SCALED_VIEWS`` scaled ones at a time.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

import cv2
import numpy as np

from vehicle.core.ipc import WantFrames

DEMAND_WINDOW_S = 2.0  # a viewer that asked within this long is still watching
JPEG_QUALITY = 80
POLL_S = 0.005  # how often the encoder looks for a newer frame while someone watches

MAX_SCALED_VIEWS = 4  # scaled views encoded at once; each costs a resize and an encode

# (index, steer_norm, throttle_norm, probabilities) of the newest step, or None
ActionProvider = Callable[[], tuple[int | None, float, float, object] | None]
# (overlay, (width, height) or None for the camera's own size)
ViewKey = tuple[bool, tuple[int, int] | None]


class TooManyViews(ValueError):
    """Viewers asked for more scaled sizes at once than the encoder makes."""


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
        self._max_fps = max_fps  # the drive publishes no more frames than this a second
        self._cond = threading.Condition()
        self._watched = threading.Event()
        self._encoded: dict[ViewKey, tuple[int, bytes]] = {}
        self._demand_until: dict[ViewKey, float] = {}
        self._asked_until = 0.0  # frames requested from the drive up to this time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jpeg-encoder", daemon=True)
        self.encoded_frames = 0
        self.encodes: Counter[ViewKey] = Counter()  # per view: one per frame, not per viewer

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._watched.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def admit(self, overlay: bool, size: tuple[int, int] | None = None) -> None:
        """Someone watches this view now; TooManyViews when it would be one scaled view too
        many (checked before a stream starts, and again on every wait)."""
        key = (overlay, size)
        with self._cond:
            now = time.monotonic()
            live = {k for k, until in self._demand_until.items() if until > now}
            scaled = {k for k in live if k[1] is not None}
            if size is not None and key not in scaled and len(scaled) >= MAX_SCALED_VIEWS:
                raise TooManyViews(
                    f"viewers already watch {MAX_SCALED_VIEWS} differently scaled pictures; "
                    "ask for one of their sizes, or none (the camera's own)"
                )
            self._demand_until = {k: until for k, until in self._demand_until.items() if k in live}
            self._demand_until[key] = now + DEMAND_WINDOW_S
            self._watched.set()

    def wait_jpeg(
        self,
        after_seq: int,
        timeout: float,
        *,
        overlay: bool = False,
        size: tuple[int, int] | None = None,
    ) -> tuple[int, bytes] | None:
        """The newest encoded frame of the view with seq > ``after_seq``, or None after
        ``timeout``."""
        deadline = time.monotonic() + timeout
        self.admit(overlay, size)
        with self._cond:
            while not self._stop.is_set():
                current = self._encoded.get((overlay, size))
                if current is not None and current[0] > after_seq:
                    return current
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._cond.wait(remaining)
        return None

    def _run(self) -> None:
        last_seq = 0
        params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
        while not self._stop.is_set():
            wanted = self._wanted()
            if not wanted:
                self._watched.clear()
                self._watched.wait(1.0)  # sleep until a viewer asks
                continue
            self._ask_drive()
            frames = self._drive.frames
            frame = frames.latest(last_seq) if frames is not None else None
            if frame is None:
                self._stop.wait(POLL_S)
                continue
            last_seq = frame.seq
            pictures: dict[bool, np.ndarray] = {}
            for key in self._wanted():  # asked now, not when the wait began
                overlay, size = key
                if overlay not in pictures:
                    pictures[overlay] = self._picture(frame.image, overlay)
                ok, data = cv2.imencode(".jpg", _scaled(pictures[overlay], size), params)
                if not ok:
                    continue
                with self._cond:
                    self._encoded[key] = (frame.seq, data.tobytes())
                    self._cond.notify_all()
                self.encoded_frames += 1
                self.encodes[key] += 1

    def _picture(self, image: np.ndarray, overlay: bool) -> np.ndarray:
        action = self._action() if overlay else None
        return draw_action_overlay(image, action) if action is not None else image

    def _ask_drive(self) -> None:
        """Keep the drive publishing frames while someone watches (one request a second)."""
        now = time.monotonic()
        if now < self._asked_until - DEMAND_WINDOW_S / 2:
            return
        try:
            self._drive.request(WantFrames(DEMAND_WINDOW_S, self._max_fps))
            self._asked_until = now + DEMAND_WINDOW_S
        except (ValueError, RuntimeError):
            self._asked_until = now + 0.2  # the drive is busy or gone: try again shortly

    def _wanted(self) -> list[ViewKey]:
        now = time.monotonic()
        with self._cond:
            return [key for key, until in self._demand_until.items() if until > now]


def _scaled(image: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """The picture at the viewer's (width, height); area averaging when shrinking."""
    if size is None or size == (image.shape[1], image.shape[0]):
        return image
    shrink = size[0] * size[1] < image.shape[0] * image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
