"""sd_notify without libsystemd: READY, WATCHDOG keep-alives, STATUS, STOPPING.

The drive loop itself sends the keep-alives, so systemd restarts the service when the loop
hangs (a stuck model, a deadlock), not merely when the process dies. Outside systemd
(``NOTIFY_SOCKET`` unset) every call is a no-op.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time


class SystemdNotifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        if address.startswith("@"):
            address = "\0" + address[1:]  # abstract namespace
        self.address = address or None
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        for_us = not pid or (pid.isdigit() and int(pid) == os.getpid())
        # Ping at half the interval systemd expects, as sd_watchdog_enabled(3) advises.
        self.ping_interval_s = (
            int(usec) / 2e6 if for_us and usec.isdigit() and int(usec) > 0 else None
        )
        self._sock: socket.socket | None = None
        self._next_ping = 0.0

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def notify(self, message: str) -> None:
        if self.address is None:
            return
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        # systemd gone (shutdown): nothing to tell, and the car must keep its outputs.
        with contextlib.suppress(OSError):
            self._sock.sendto(message.encode(), self.address)

    def ready(self) -> None:
        self.notify("READY=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def status(self, text: str) -> None:
        """One line: a newline would start a new (forged) assignment in the datagram."""
        self.notify("STATUS=" + " ".join(text.splitlines()))

    def watchdog_ping(self) -> None:
        """Called every loop iteration; sends at most one keep-alive per half interval."""
        if self.ping_interval_s is None:
            return
        now = time.monotonic()
        if now >= self._next_ping:
            self._next_ping = now + self.ping_interval_s
            self.notify("WATCHDOG=1")
