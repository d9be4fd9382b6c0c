"""The service process's end of the drive link.

Requests are answered within ``REQUEST_TIMEOUT_S`` or fail with ``DriveUnavailable``; a
refusal comes back as ``DriveRefused`` (a ValueError, so the console shows the car's own
reason). A heartbeat thread pings the drive a few times a second: if this process freezes,
the pings stop and the drive stops the car by itself. The drive's status arrives ten times a
second and with every reply; ``status()`` returns the newest with its age.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vehicle.config import LinkSettings
from vehicle.core.ipc import (
    BadMessage,
    Channel,
    Hello,
    IpcError,
    PeerClosed,
    Ping,
    Request,
    encode_request,
)
from vehicle.core.shm import FrameReader, ShmError, StepReader

log = logging.getLogger(__name__)

REQUEST_TIMEOUT_S = 2.0


class DriveRefused(ValueError):
    """The drive process refused a request and said why; nothing changed."""


class DriveUnavailable(RuntimeError):
    """The drive process did not answer (gone, starting, or frozen)."""


class _Pending:
    __slots__ = ("done", "reply")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: tuple[dict[str, Any], list[int]] | None = None


def connect_socket(path: Path) -> Channel:
    """Connect to a drive process listening on ``path`` (the systemd arrangement)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        sock.connect(os.fspath(path))
    except OSError as exc:
        sock.close()
        raise DriveUnavailable(f"cannot reach the drive process at {path}: {exc}") from exc
    return Channel(sock)


class DriveClient:
    def __init__(
        self,
        channel: Channel,
        settings: LinkSettings,
        *,
        on_log: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.settings = settings
        self._channel = channel
        self._on_log = on_log
        self._ids = itertools.count(1)
        self._pending: dict[int, _Pending] = {}
        self._lock = threading.Lock()
        self._status: dict[str, Any] = {}
        self.closed = threading.Event()  # set when the drive's end is gone
        self.frames: FrameReader | None = None
        self.steps: StepReader | None = None
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name="drive-client", daemon=True)
        self._heart = threading.Thread(target=self._beat, name="drive-heartbeat", daemon=True)
        self._pushed = threading.Event()  # a status push came: the drive has just stepped

    def start(self) -> None:
        """Say hello (taking the shared-memory rings), then read and beat in threads."""
        self._reader.start()
        _reply, fds = self._exchange(Hello(os.getpid()))
        readers: list[Any] = []
        try:
            for fd, kind in zip(fds, (FrameReader, StepReader), strict=False):
                readers.append(kind(fd))
        except ShmError:
            for reader in readers:
                reader.close()
            raise
        finally:
            for fd in fds[len(readers) :]:
                os.close(fd)
        if readers:
            self.frames = readers[0]
        if len(readers) > 1:
            self.steps = readers[1]
        self._heart.start()

    def close(self) -> None:
        self._stop.set()
        self._pushed.set()  # the heartbeat waits for nothing more
        self._channel.close()
        for thread in (self._reader, self._heart):
            if thread.is_alive() and thread is not threading.current_thread():
                thread.join(timeout=2.0)
        for reader in (self.frames, self.steps):
            if reader is not None:
                reader.close()
        self.frames = self.steps = None

    # -- requests ----------------------------------------------------------------------

    def request(self, request: Request, timeout_s: float = REQUEST_TIMEOUT_S) -> dict[str, Any]:
        """Send, wait for the answer; the drive's status after it. Refusals raise."""
        reply, fds = self._exchange(request, timeout_s)
        for fd in fds:
            os.close(fd)
        return reply["status"]

    def _exchange(
        self, request: Request, timeout_s: float = REQUEST_TIMEOUT_S
    ) -> tuple[dict[str, Any], list[int]]:
        if self.closed.is_set():
            raise DriveUnavailable("the drive process is gone")
        request_id = next(self._ids)
        pending = _Pending()
        with self._lock:
            self._pending[request_id] = pending
        try:
            try:
                self._channel.send(encode_request(request, request_id), block=True)
            except IpcError as exc:
                raise DriveUnavailable(
                    f"the drive process did not take {request.op}: {exc}"
                ) from exc
            if not pending.done.wait(timeout_s) or pending.reply is None:
                raise DriveUnavailable(
                    f"the drive process did not answer {request.op} within {timeout_s:g} s"
                )
        finally:
            with self._lock:
                self._pending.pop(request_id, None)
        reply, fds = pending.reply
        if not reply.get("ok"):
            for fd in fds:
                os.close(fd)
            raise DriveRefused(str(reply.get("error") or f"{request.op} refused"))
        return reply, fds

    # -- status ------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """The drive's newest status, plus how old it is and whether the link is up.

        The age is the drive's own time stamp against our clock (CLOCK_MONOTONIC is one clock
        for every process on the machine), so statuses that waited in the socket while this
        process was frozen read as old, however recently they were received.
        """
        with self._lock:
            status = self._status
        age = time.monotonic() - float(status.get("t", -float("inf")))
        return {
            **status,
            "link": {
                "connected": not self.closed.is_set(),
                "status_age_s": age,
                "fresh": age < self.settings.service_silence_s and not self.closed.is_set(),
            },
        }

    # -- threads -----------------------------------------------------------------------

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                received = self._channel.recv(0.5)
            except BadMessage as exc:
                log.warning("drive link: ignored a malformed message: %s", exc)
                continue
            except (PeerClosed, OSError):
                break
            if received is not None:
                self._dispatch(*received)
        self.closed.set()
        with self._lock:
            pending = list(self._pending.values())
        for waiter in pending:  # nobody waits out a timeout for a drive that is gone
            waiter.done.set()

    def _dispatch(self, message: dict[str, Any], fds: list[int]) -> None:
        status = message.get("status")
        if isinstance(status, dict):
            with self._lock:
                self._status = status
            if message.get("push") == "status":
                self._pushed.set()
        request_id = message.get("re")
        if request_id is not None:
            with self._lock:
                waiter = self._pending.get(request_id)
            if waiter is not None:
                waiter.reply = (message, fds)
                waiter.done.set()
                return
        for fd in fds:
            os.close(fd)
        if message.get("push") == "log" and self._on_log is not None:
            self._on_log(message)

    def _beat(self) -> None:
        """Pings that stop if this process freezes: the drive then stops the car.

        Each waits for the drive's next status push (up to half an interval), which comes
        just after a drive step: the drive reads the ping in its loop's idle time.
        """
        interval = self.settings.ping_interval_s
        while not self._stop.wait(interval / 2) and not self.closed.is_set():
            self._pushed.clear()
            self._pushed.wait(interval / 2)
            try:
                self._channel.send(encode_request(Ping(), 0), block=True)
            except (IpcError, OSError):  # full, gone, or closed under us while closing
                continue
