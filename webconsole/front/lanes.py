"""Worker threads for the WSGI app, in separate lanes so one kind of request cannot starve
another: camera viewers and uploads have lanes of their own, and in every lane a logged-in
operator's request is taken before a stranger's.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)

OPERATOR = 0  # priorities: lower goes first
STRANGER = 1
_STOP = -1


class Lane:
    """``workers`` daemon threads; ``capacity`` bounds requests queued or running (None: no
    bound, for a lane whose callers are already bounded by the connection table)."""

    def __init__(
        self, name: str, workers: int, capacity: int | None = None, busy_reason: str = ""
    ) -> None:
        if workers < 1:
            raise ValueError(f"lane {name} needs at least one worker, got {workers}")
        self.name = name
        self.busy_reason = busy_reason or f"the console is busy ({name}): try again shortly"
        self._capacity = capacity
        self._pending = 0
        self._lock = threading.Lock()
        self._order = itertools.count()
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], Any] | None, Future]] = (
            queue.PriorityQueue()
        )
        self._threads = [
            threading.Thread(target=self._work, name=f"console-{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, work: Callable[[], Any], priority: int) -> Future | None:
        """Queue ``work``; None when the lane is at capacity (the caller answers 503)."""
        with self._lock:
            if self._capacity is not None and self._pending >= self._capacity:
                return None
            self._pending += 1
        future: Future = Future()
        self._queue.put((priority, next(self._order), work, future))
        return future

    def stop(self) -> None:
        """Workers finish what they hold and exit; queued work is cancelled."""
        for _ in self._threads:
            self._queue.put((_STOP, next(self._order), None, Future()))

    def _work(self) -> None:
        while True:
            priority, _, work, future = self._queue.get()
            if priority == _STOP or work is None:
                self._cancel_queued()
                return
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        future.set_result(work())
                    except BaseException as exc:
                        future.set_exception(exc)
            finally:
                with self._lock:
                    self._pending -= 1

    def _cancel_queued(self) -> None:
        while True:
            try:
                priority, _, work, future = self._queue.get_nowait()
            except queue.Empty:
                return
            if priority == _STOP:
                self._queue.put((priority, next(self._order), work, future))
                return
            future.cancel()
            with self._lock:
                self._pending -= 1
