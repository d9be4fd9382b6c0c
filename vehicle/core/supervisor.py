"""How a service process reaches the drive: as the drive's child, or through a socket.

``ConsoleChild`` is the one-command arrangement (``vehicle drive --console``): the drive
starts the service process with one end of a socket pair, watches it, and starts a new one
(with a growing delay) when it exits; the drive link stops the car meanwhile. The child has
its own session, so a Ctrl-C in the terminal reaches the drive, which ends the child itself.

``DriveListener`` is the systemd arrangement: the drive listens on a Unix socket that only
its own user may connect to, and a separately supervised service connects.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from vehicle.core.ipc import Channel
from vehicle.core.link import DriveLink

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 3.0
STABLE_AFTER_S = 30.0  # a child that ran this long restarts after the shortest delay again


class ConsoleChild:
    def __init__(
        self,
        link: DriveLink,
        argv: list[str],
        *,
        restart_delay_s: float = 1.0,
        max_restart_delay_s: float = 10.0,
    ) -> None:
        self.link = link
        self.argv = argv
        self.restart_delay_s = restart_delay_s
        self.max_restart_delay_s = max_restart_delay_s
        self.process: subprocess.Popen | None = None
        self.starts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="console-child", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        drive_end, child_end = Channel.pair()
        fd = child_end.fileno()
        try:
            self.process = subprocess.Popen(
                [*self.argv, "--drive-fd", str(fd)], pass_fds=(fd,), start_new_session=True
            )
        except OSError:
            drive_end.close()
            raise
        finally:
            child_end.sock.close()  # the child holds its own copy
        self.starts += 1
        self.link.attach(drive_end)

    def _watch(self) -> None:
        delay = self.restart_delay_s
        while not self._stop.is_set():
            process = self.process
            started = time.monotonic()
            while process is not None and process.poll() is None:
                if self._stop.wait(0.2):
                    return
            if self._stop.is_set():
                return
            ran_s = time.monotonic() - started
            delay = self.restart_delay_s if ran_s > STABLE_AFTER_S else delay
            log.warning(
                "console process exited (status %s); starting a new one in %.0f s",
                None if process is None else process.returncode,
                delay,
            )
            if self._stop.wait(delay):
                return
            try:
                self._spawn()
            except OSError as exc:
                log.error("cannot start the console process: %s", exc)
            delay = min(self.max_restart_delay_s, delay * 2)

    def stop(self) -> None:
        """SIGTERM the child, SIGKILL it if it lingers; no restart afterwards."""
        self._stop.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)


class DriveListener:
    def __init__(self, path: Path, link: DriveLink) -> None:
        self.path = Path(path)
        self.link = link
        if len(os.fsencode(self.path)) >= 108:
            raise ValueError(f"socket path too long for a Unix socket: {self.path}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_socket():
            self.path.unlink()  # a previous drive process's; it is not listening any more
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        old_umask = os.umask(0o117)  # rw for the user and group only, from the start
        try:
            self._sock.bind(os.fspath(self.path))
        finally:
            os.umask(old_umask)
        self._sock.listen(2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="drive-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _accept(self) -> None:
        self._sock.settimeout(0.5)
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._stop.is_set():
                    log.exception("drive listener failed")
                return
            uid = _peer_uid(conn)
            if uid not in (os.getuid(), 0):
                log.warning("refused a drive link from uid %s", uid)
                conn.close()
                continue
            self.link.attach(Channel(conn))

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        with contextlib.suppress(OSError):
            self.path.unlink()


def _peer_uid(conn: socket.socket) -> int:
    import struct

    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]
