"""The car under test as a subprocess: ``vehicle drive`` and ``vehicle neutral``.

The harness drives the real command line (the one systemd runs), not an in-process loop, so
signals, exit paths and the hardware state left behind are the ones a car in the field has.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vehicle.core.closeable import Closeable

# The same interpreter and the same installed code as the harness, without relying on the
# ``vehicle`` script being on PATH; ``-P``: a ``vehicle/`` folder in the working directory
# must not stand in for the installed package.
VEHICLE = [sys.executable, "-P", "-c", "import sys; from vehicle.cli import main; sys.exit(main())"]

# A latched fault in the car's log: "2026-12-02 17:37:56,315 ERROR vehicle...: safety fault: .."
_FAULT_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) .*?safety fault: (.*)$")


@dataclass(frozen=True, slots=True)
class LoggedFault:
    """A fault the car latched: its reason, and when (wall clock, None if the line has no time)."""

    t_wall: float | None
    reason: str


def parse_faults(text: str) -> list[LoggedFault]:
    """The safety faults in a car's log, in order."""
    faults = []
    for line in text.splitlines():
        if "safety fault: " not in line:
            continue
        match = _FAULT_LINE.match(line)
        if match is None:
            faults.append(LoggedFault(None, line.split("safety fault: ", 1)[1]))
            continue
        stamp = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").timestamp()
        faults.append(LoggedFault(stamp + int(match[2]) / 1000, match[3]))
    return faults


class CarError(RuntimeError):
    """The car command could not run or did not behave as a process should."""


class CarProcess(Closeable):
    """One ``vehicle`` invocation; output goes to ``log``. Context manager: kills on exit."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in close()
        try:
            self.process = subprocess.Popen(
                [*VEHICLE, *args], stdout=self._log, stderr=subprocess.STDOUT
            )
        except OSError as exc:
            self._log.close()
            raise CarError(f"cannot start the car: {exc}") from exc
        self.started = time.monotonic()
        self.signalled: float | None = None
        self.exited: float | None = None

    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: signal.Signals, timeout: float = 10.0) -> int:
        """Send ``signum`` and wait for the exit; the exit code (negative: killed by signal)."""
        if self.alive():
            self.signalled = time.monotonic()
            self.process.send_signal(signum)
        return self.wait(timeout)

    def wait(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise CarError(
                f"{self.log.stem} (vehicle {' '.join(self.args)}) did not exit within "
                f"{timeout:g} s; see {self.log}"
            ) from None
        if self.exited is None:
            self.exited = time.monotonic()
        return code

    def span(self) -> tuple[float, float]:
        """From the signal (or the start) to the observed exit, on the monotonic clock."""
        assert self.exited is not None, "span() of a process not waited for"
        return self.signalled or self.started, self.exited

    def tail(self, lines: int = 5) -> str:
        """The end of the car's output, for reports."""
        text = self.log.read_text(errors="replace").strip().splitlines()
        return " | ".join(text[-lines:])

    def faults(self) -> list[LoggedFault]:
        """Safety faults the car latched (its own verdict, checked next to ours)."""
        return parse_faults(self.log.read_text(errors="replace"))

    def close(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()
        self._log.close()
