"""Typed messages between the drive process and the service process, over one Unix socket.

The socket is ``SOCK_SEQPACKET``: reliable, connection-oriented, and it keeps message
boundaries, so a message is one small JSON object and nothing is ever half-read. The service
sends requests (each names an operation and carries an id); the drive answers each with a
reply carrying the same id and a fresh status, and pushes status on its own, ten times a
second, so the service can tell a fresh value from a stale one by its time.

The drive never waits on the service: every send from the drive is non-blocking, and a
message that does not fit in the peer's socket buffer is dropped and counted. Only the two
shared-memory rings (``vehicle.core.shm``) carry per-frame data; nothing here is on the
per-frame path.
"""

from __future__ import annotations

import array
import contextlib
import json
import math
import os
import socket
import threading
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

MAX_MESSAGE_BYTES = 64 * 1024  # a request or a status is a few hundred bytes
MAX_FDS = 4


class IpcError(RuntimeError):
    """A message that cannot be sent, or a peer that is gone."""


class PeerClosed(IpcError):
    """The other process closed its end (it exited, crashed or was killed)."""


class BadMessage(ValueError):
    """A message that does not decode into a known, well-typed request."""


# -- requests (service -> drive) ---------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """Base of every request; ``op`` names it on the wire."""

    op: ClassVar[str] = ""


@dataclass(frozen=True)
class Hello(Request):
    """The service's first message; the reply carries the shared-memory rings."""

    op: ClassVar[str] = "hello"
    pid: int


@dataclass(frozen=True)
class Ping(Request):
    """The service is alive (sent a few times a second; a silent service disarms the car)."""

    op: ClassVar[str] = "ping"


@dataclass(frozen=True)
class SetMode(Request):
    op: ClassVar[str] = "set_mode"
    mode: str


@dataclass(frozen=True)
class Start(Request):
    op: ClassVar[str] = "start"


@dataclass(frozen=True)
class Stop(Request):
    op: ClassVar[str] = "stop"


@dataclass(frozen=True)
class ManualDrive(Request):
    op: ClassVar[str] = "manual"
    steer: float
    throttle: float


@dataclass(frozen=True)
class SetThrottleLimit(Request):
    op: ClassVar[str] = "throttle_limit"
    fraction: float


@dataclass(frozen=True)
class SetCalibration(Request):
    """A calibration in our native JSON form (``calibration.store.to_native``)."""

    op: ClassVar[str] = "calibration"
    calibration: dict


@dataclass(frozen=True)
class CalibrationMode(Request):
    op: ClassVar[str] = "calibration_mode"
    on: bool


@dataclass(frozen=True)
class PreviewPulse(Request):
    op: ClassVar[str] = "preview"
    channel: str
    ns: int


@dataclass(frozen=True)
class LoadModel(Request):
    """Drive with the prepared bundle at ``path`` (validated by the service beforehand)."""

    op: ClassVar[str] = "load_model"
    path: str
    name: str


@dataclass(frozen=True)
class SetLed(Request):
    """The tail light's colour, 0..255 a channel (the drive checks the range)."""

    op: ClassVar[str] = "set_led"
    red: int
    green: int
    blue: int


@dataclass(frozen=True)
class WantFrames(Request):
    """Viewers are watching: publish camera frames for the next ``seconds``, at most ``fps``
    a second (the viewers' rate: the drive copies no frame nobody will see)."""

    op: ClassVar[str] = "want_frames"
    seconds: float
    fps: float


REQUESTS: dict[str, type[Request]] = {
    cls.op: cls
    for cls in (
        Hello,
        Ping,
        SetMode,
        Start,
        Stop,
        ManualDrive,
        SetThrottleLimit,
        SetCalibration,
        CalibrationMode,
        PreviewPulse,
        LoadModel,
        SetLed,
        WantFrames,
    )
}

_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "dict": (dict,),
}


def encode_request(request: Request, request_id: int) -> dict[str, Any]:
    return {"op": request.op, "id": request_id, **asdict(request)}


def decode_request(message: dict[str, Any]) -> tuple[int, Request]:
    """(id, request) from a decoded message; BadMessage names what is wrong."""
    op, request_id = message.get("op"), message.get("id")
    cls = REQUESTS.get(op) if isinstance(op, str) else None
    if cls is None:
        raise BadMessage(f"unknown request {op!r}")
    if isinstance(request_id, bool) or not isinstance(request_id, int):
        raise BadMessage(f"{op}: the id must be an integer")
    values = {}
    for f in fields(cls):
        value = message.get(f.name)
        allowed = _FIELD_TYPES[str(f.type)]
        if isinstance(value, bool) and bool not in allowed:
            raise BadMessage(f"{op}: {f.name} must be {f.type}, got a boolean")
        if not isinstance(value, allowed):
            raise BadMessage(f"{op}: {f.name} must be {f.type}, got {type(value).__name__}")
        if isinstance(value, float) and not math.isfinite(value):
            raise BadMessage(f"{op}: {f.name} must be finite")
        values[f.name] = value
    return request_id, cls(**values)


def reply(request_id: int, status: dict[str, Any], error: str | None = None) -> dict[str, Any]:
    """The answer to a request: ok, or the reason it was refused (nothing changed then)."""
    return {"re": request_id, "ok": error is None, "error": error, "status": status}


def push(kind: str, **payload: Any) -> dict[str, Any]:
    """A message the drive sends on its own: ``status`` or ``log``."""
    return {"push": kind, **payload}


# -- the channel -------------------------------------------------------------------------


class Channel:
    """One end of a connected ``SOCK_SEQPACKET`` socket, sending and receiving JSON objects.

    ``send`` is non-blocking by default (the drive's way: a full peer drops the message and
    counts it); ``send(..., block=True)`` waits up to the channel's timeout (the service's
    way, for requests). One thread receives; any thread may send.
    """

    def __init__(self, sock: socket.socket, *, send_timeout_s: float = 1.0) -> None:
        if sock.type != socket.SOCK_SEQPACKET:
            raise IpcError("the drive link needs a SOCK_SEQPACKET socket")
        self.sock = sock
        self.send_timeout_s = send_timeout_s
        self.dropped = 0
        self._send_lock = threading.Lock()
        sock.setblocking(True)

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        """Two connected ends (tests, and a service started as the drive's child)."""
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        return cls(a), cls(b)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, message: dict[str, Any], *, block: bool = False, fds: list[int] = ()) -> bool:
        """Send one message; False when dropped (non-blocking and the peer is full)."""
        data = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
        if len(data) > MAX_MESSAGE_BYTES:
            raise IpcError(f"message too large: {len(data)} bytes ({message.get('op')})")
        with self._send_lock:
            try:
                if block:
                    self.sock.settimeout(self.send_timeout_s)
                    try:
                        self._send(data, 0, fds)
                    finally:
                        self.sock.settimeout(None)
                else:
                    self._send(data, socket.MSG_DONTWAIT, fds)
            except (BlockingIOError, TimeoutError):
                self.dropped += 1
                if block:
                    raise IpcError("the peer did not take the message in time") from None
                return False
            except (BrokenPipeError, ConnectionResetError, ConnectionRefusedError) as exc:
                raise PeerClosed(str(exc) or "peer closed") from exc
        return True

    def _send(self, data: bytes, flags: int, fds: list[int]) -> None:
        if fds:
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
            self.sock.sendmsg([data], ancillary, flags)
        else:
            self.sock.send(data, flags)

    def recv(self, timeout_s: float | None) -> tuple[dict[str, Any], list[int]] | None:
        """The next message and any file descriptors it carried; None after ``timeout_s``.

        Raises PeerClosed at end of stream and BadMessage for bytes that are not one JSON
        object (the message is consumed, the channel stays usable).
        """
        fd_size = array.array("i").itemsize * MAX_FDS
        try:
            self.sock.settimeout(timeout_s)
            data, ancillary, flags, _ = self.sock.recvmsg(
                MAX_MESSAGE_BYTES + 1, socket.CMSG_SPACE(fd_size)
            )
        except (TimeoutError, BlockingIOError):  # a zero timeout polls: nothing waiting
            return None
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise PeerClosed(str(exc) or "peer closed") from exc
        finally:
            self.sock.settimeout(None)
        fds = _received_fds(ancillary)
        if not data:
            for fd in fds:
                _close_fd(fd)
            raise PeerClosed("peer closed")
        if flags & socket.MSG_TRUNC or len(data) > MAX_MESSAGE_BYTES:
            for fd in fds:
                _close_fd(fd)
            raise BadMessage("message too large")
        try:
            message = json.loads(data)
        except (ValueError, RecursionError) as exc:
            raise BadMessage(f"not JSON: {exc}") from None
        if not isinstance(message, dict):
            raise BadMessage("a message must be a JSON object")
        return message, fds

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def _received_fds(ancillary: list[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(data) - len(data) % array.array("i").itemsize
            fds.extend(array.array("i", data[:usable]))
    return fds


def _close_fd(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)
