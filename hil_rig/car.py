"""The car under test as a subprocess: ``vehicle drive`` and ``vehicle neutral``.

The harness drives the real command line (the one systemd runs), not an in-process loop, so
signals, exit paths and the hardware state left behind are the ones a car in the field has.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from vehicle.core.closeable import Closeable

# The same interpreter as the harness, without relying on the ``vehicle`` script being on PATH.
VEHICLE = [sys.executable, "-c", "import sys; from vehicle.cli import main; sys.exit(main())"]


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
                f"vehicle {self.args[0]} did not exit within {timeout:g} s; see {self.log}"
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

    def faults(self) -> list[str]:
        """Safety faults the car latched (its own verdict, worth showing next to ours)."""
        lines = self.log.read_text(errors="replace").splitlines()
        return [line.split("safety fault: ", 1)[1] for line in lines if "safety fault: " in line]

    def close(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait()
        self._log.close()
