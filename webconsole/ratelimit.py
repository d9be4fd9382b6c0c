"""Login attempts per client address in a sliding one-minute window."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

WINDOW_S = 60.0
MAX_TRACKED_ADDRESSES = 1024  # bounded memory however many addresses knock


class LoginRateLimiter:
    """``allow(address)`` records an attempt and says whether it is within the limit."""

    def __init__(
        self, attempts_per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if isinstance(attempts_per_minute, bool) or attempts_per_minute < 1:
            raise ValueError(
                f"login_attempts_per_minute must be at least 1, got {attempts_per_minute!r}"
            )
        self._limit = attempts_per_minute
        self._clock = clock
        self._attempts: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = self._clock()
        with self._lock:
            times = self._attempts.pop(address, None) or deque()
            while times and now - times[0] >= WINDOW_S:
                times.popleft()
            allowed = len(times) < self._limit
            if allowed:
                times.append(now)
            self._attempts[address] = times
            while len(self._attempts) > MAX_TRACKED_ADDRESSES:
                self._attempts.popitem(last=False)
            return allowed

    def retry_after(self, address: str) -> int:
        """Whole seconds until ``address`` may try again (for the Retry-After header)."""
        with self._lock:
            times = self._attempts.get(address)
            if not times or len(times) < self._limit:
                return 0
            return max(1, int(WINDOW_S - (self._clock() - times[0]) + 0.999))
