"""Recent log lines kept in memory for the console's System page (no file path involved)."""

from __future__ import annotations

import logging
import threading
from collections import deque


class LogBuffer(logging.Handler):
    def __init__(self, capacity: int = 500) -> None:
        super().__init__(level=logging.INFO)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self._lines: deque[str] = deque(maxlen=capacity)
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a bad log call must not take the car down
            self.handleError(record)
            return
        with self._guard:
            self._lines.append(line)

    def recent(self, n: int) -> list[str]:
        with self._guard:
            lines = list(self._lines)
        return lines[-max(0, n) :] if n else []
