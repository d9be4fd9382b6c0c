"""A one-line live status: rewritten in place on a terminal, a line every 2 s in a log."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class LiveLine:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr  # looked up now: tests swap sys.stderr
        self.tty = self.stream.isatty()
        self._interval_s = 0.5 if self.tty else 2.0
        # The first line waits one interval, so rates are measured before they are shown.
        self._next_at = time.monotonic() + self._interval_s

    def due(self) -> bool:
        """True at most twice a second (every 2 s when not a terminal)."""
        now = time.monotonic()
        if now < self._next_at:
            return False
        self._next_at = now + self._interval_s
        return True

    def show(self, line: str, fault: str | None = None) -> None:
        if fault:
            line += f"  FAULT: {fault}"
        self.stream.write(f"\r{line}\033[K" if self.tty else line + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
