"""Logins held on the server: the cookie carries only a random id, worth what this holds.

Logging out, a new password and age each end a login on the server, so a copied cookie dies
with them. Logins live in memory: a restart of the service logs everyone out, which is the
safe side. Only the password's holder can open one, so the bound cannot be abused.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_LOGINS = 64  # the oldest is ended when one more opens


@dataclass(frozen=True)
class _Login:
    opened: float
    password: str  # fingerprint of the password hash it was opened with


def _digest(session_id: str) -> str:
    """Stored digested: a dump of memory does not hand out live cookies."""
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionRegistry:
    def __init__(self, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if max_age_s <= 0:
            raise ValueError(f"session_max_age_s must be positive, got {max_age_s!r}")
        self._max_age_s = max_age_s
        self._clock = clock
        self._logins: OrderedDict[str, _Login] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, password_fingerprint: str) -> str:
        """A new login's id, for the signed cookie."""
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._logins[_digest(session_id)] = _Login(self._clock(), password_fingerprint)
            while len(self._logins) > MAX_LOGINS:
                self._logins.popitem(last=False)
        return session_id

    def is_live(self, session_id: str, password_fingerprint: str) -> bool:
        key = _digest(session_id)
        with self._lock:
            login = self._logins.get(key)
            if login is None:
                return False
            if login.password != password_fingerprint or (
                self._clock() - login.opened >= self._max_age_s
            ):
                del self._logins[key]
                return False
            return True

    def close(self, session_id: str) -> None:
        with self._lock:
            self._logins.pop(_digest(session_id), None)

    def __len__(self) -> int:
        return len(self._logins)
