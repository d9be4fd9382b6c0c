"""Login attempts in a sliding one-minute window: per client, and from everyone together.

Memory is bounded, but nothing an attacker does makes it forget a client still inside its
window: when the table is full, only clients whose window has passed are dropped, and new
ones beyond that share one overflow entry. The total limit bounds guessing (and the CPU that
each scrypt check costs) however many addresses an attacker has.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from webconsole.front.clients import client_key

WINDOW_S = 60.0
MAX_TRACKED_CLIENTS = 1024
OVERFLOW = "(every other client)"


class LoginRateLimiter:
    """``allow(address)`` records an attempt and says whether it is within the limits."""

    def __init__(
        self,
        attempts_per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        *,
        total_per_minute: int | None = None,
        capacity: int = MAX_TRACKED_CLIENTS,
    ) -> None:
        total = attempts_per_minute * 6 if total_per_minute is None else total_per_minute
        for name, value in (
            ("login_attempts_per_minute", attempts_per_minute),
            ("login_attempts_per_minute_total", total),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, got {value!r}")
        self._limit = attempts_per_minute
        self._total_limit = total
        self._capacity = capacity
        self._clock = clock
        self._attempts: OrderedDict[str, deque[float]] = OrderedDict()  # least recent first
        self._everyone: deque[float] = deque()
        self._lock = threading.Lock()

    def allow(self, address: str) -> bool:
        now = self._clock()
        with self._lock:
            _expire(self._everyone, now)
            key = self._key(address, now)
            times = self._attempts.setdefault(key, deque())
            _expire(times, now)
            if len(times) >= self._limit or len(self._everyone) >= self._total_limit:
                return False
            times.append(now)
            self._everyone.append(now)
            self._attempts.move_to_end(key)
            return True

    def retry_after(self, address: str) -> int:
        """Whole seconds until ``address`` may try again (for the Retry-After header)."""
        now = self._clock()
        with self._lock:
            waits = [0.0]
            times = self._attempts.get(self._key(address, now, track=False))
            if times and len(times) >= self._limit:
                waits.append(times[0] + WINDOW_S - now)
            if len(self._everyone) >= self._total_limit:
                waits.append(self._everyone[0] + WINDOW_S - now)
            wait = max(waits)
            return max(1, int(wait + 0.999)) if wait > 0 else 0

    def _key(self, address: str, now: float, track: bool = True) -> str:
        """The client's own entry, or the shared overflow one when the table is full."""
        key = client_key(address)
        if key in self._attempts:
            return key
        if track and len(self._attempts) >= self._capacity:
            self._forget_idle(now)
        if track and len(self._attempts) < self._capacity:
            return key
        return OVERFLOW

    def _forget_idle(self, now: float) -> None:
        """Drop clients whose last attempt has left the window (they are in order)."""
        while self._attempts:
            key, times = next(iter(self._attempts.items()))
            if times and now - times[-1] < WINDOW_S:
                return
            del self._attempts[key]


def _expire(times: deque[float], now: float) -> None:
    while times and now - times[0] >= WINDOW_S:
        times.popleft()
