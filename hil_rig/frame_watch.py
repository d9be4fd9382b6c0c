"""When did the car read each frame? inotify's IN_OPEN on the frame folder says so.

The car's image-folder source opens a file just before it puts the frame in the slot, so the
open time is the frame's capture time on the host's monotonic clock, seen from outside the
car process: latency is measured without trusting the car's own clock or its output.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import threading
import time
from pathlib import Path

from vehicle.core.closeable import Closeable

IN_OPEN = 0x00000020
IN_CLOEXEC = 0o2000000
IN_NONBLOCK = 0o4000
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len; then len bytes of name


class FrameWatchError(OSError):
    """inotify is unavailable (not Linux) or the folder cannot be watched."""


def _libc() -> ctypes.CDLL:
    name = ctypes.util.find_library("c")
    if name is None:
        raise FrameWatchError("no C library: frame open times need Linux inotify")
    libc = ctypes.CDLL(name, use_errno=True)
    if not hasattr(libc, "inotify_init1"):
        raise FrameWatchError("this C library has no inotify: frame open times need Linux")
    return libc


class FrameWatch(Closeable):
    """Records ``(time.monotonic(), file name)`` for every open of a file in ``folder``."""

    def __init__(self, folder: Path) -> None:
        libc = _libc()
        self._fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if self._fd < 0:
            raise FrameWatchError(f"inotify_init1 failed: {os.strerror(ctypes.get_errno())}")
        if libc.inotify_add_watch(self._fd, os.fsencode(folder), IN_OPEN) < 0:
            os.close(self._fd)
            raise FrameWatchError(f"cannot watch {folder}: {os.strerror(ctypes.get_errno())}")
        self.opened: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hil-frame-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self._fd, select.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(50):
                continue
            now = time.monotonic()
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            names = []
            offset = 0
            while offset + _EVENT.size <= len(data):
                _wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
                start = offset + _EVENT.size
                names.append(data[start : start + length].rstrip(b"\0").decode(errors="replace"))
                offset = start + length
            with self._cond:
                self.opened.extend((now, name) for name in names if name)
                self._cond.notify_all()

    def opens(self, name: str, after: float = float("-inf")) -> list[float]:
        """Times ``name`` was opened after ``after``."""
        with self._cond:
            return [t for t, n in self.opened if n == name and t > after]

    def wait_open(self, name: str, after: float, timeout: float) -> float | None:
        """The first open of ``name`` after ``after``, waiting up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                times = self.opens(name, after)
                if times:
                    return times[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.1))

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=1.0)
            os.close(self._fd)
