"""The bridge between the event loop (which owns the socket) and a WSGI app on a worker thread.

The app runs on a lane's thread; every byte it reads or writes crosses to the loop with a
deadline, so a client that vanishes or stalls frees the thread within that deadline.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Protocol
from urllib.parse import unquote_to_bytes

log = logging.getLogger(__name__)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Headers = list[tuple[bytes, bytes]]
HOP_MARGIN_S = 2.0  # beyond the loop's own deadline, in case the loop itself is gone


class ClientGone(Exception):
    """The client went away, stalled past a deadline, or the console is stopping."""


class Wire(Protocol):
    """The loop side of one request (webconsole.front.protocol.HttpConnection)."""

    loop: asyncio.AbstractEventLoop
    head_only: bool

    def body_failure(self) -> tuple[int, str] | None: ...
    def body_complete(self) -> bool: ...
    def body_hop_timeout(self) -> float: ...
    def write_hop_timeout(self) -> float: ...
    async def send_response(self, status: int, headers: Headers, body: bytes) -> None: ...
    async def send_data(self, data: bytes) -> None: ...
    async def read_body_chunk(self) -> bytes: ...


def error_body(reason: str) -> bytes:
    """The console's failure shape, for answers the front gives by itself."""
    return json.dumps({"success": False, "reason": reason}).encode()


def merge_slashes(path: bytes) -> bytes:
    """``//api//models`` -> ``/api/models``, as nginx does in front of DeepRacer's server."""
    while b"//" in path:
        path = path.replace(b"//", b"/")
    return path


def build_environ(
    method: str,
    target: bytes,
    http_version: str,
    headers: Headers,
    *,
    scheme: str,
    local: tuple[str, int],
    peer: tuple[str, int],
) -> dict[str, Any]:
    """PEP 3333 environ without a body. ``target`` is the origin-form path already checked;
    header names with ``_`` are dropped (``X_CSRFToken`` must not pose as ``X-CSRFToken``)."""
    path, _, query = target.partition(b"?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(merge_slashes(path)).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "RAW_URI": target.decode("latin-1"),
        "SERVER_NAME": local[0],
        "SERVER_PORT": str(local[1]),
        "SERVER_PROTOCOL": f"HTTP/{http_version}",
        "REMOTE_ADDR": peer[0],
        "REMOTE_PORT": str(peer[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in headers:
        name = raw_name.decode("latin-1")
        if "_" in name:
            continue
        value = raw_value.decode("latin-1")
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
        if key in environ:
            environ[key] += ("; " if key == "HTTP_COOKIE" else ", ") + value
        else:
            environ[key] = value
    return environ


class StreamedBody(io.RawIOBase):
    """``wsgi.input`` for an upload: each read waits for the client, within the body's
    deadline. A body that breaks its limits reads as ended early; the front then answers
    with the reason (413, 408) whatever the app made of the short body."""

    def __init__(self, wire: Wire) -> None:
        super().__init__()
        self._wire = wire
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending:
            self._pending = hop(
                self._wire, self._wire.read_body_chunk(), self._wire.body_hop_timeout()
            )
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def hop(wire: Wire, coroutine: Coroutine[Any, Any, Any], timeout: float) -> Any:
    """Run ``coroutine`` on the loop and wait for it; any failure means the client is gone."""
    try:
        future = asyncio.run_coroutine_threadsafe(coroutine, wire.loop)
    except RuntimeError as exc:  # the loop is closed: the console is stopping
        coroutine.close()
        raise ClientGone(str(exc)) from exc
    try:
        return future.result(timeout + HOP_MARGIN_S)
    except Exception as exc:
        future.cancel()
        raise ClientGone(str(exc) or type(exc).__name__) from exc


class Exchange:
    """One request's trip through the app, run on a lane's worker thread."""

    def __init__(self, wire: Wire, environ: dict[str, Any]) -> None:
        self._wire = wire
        self._environ = environ
        self._status: tuple[int, str] | None = None
        self._headers: Headers = []
        self.head_sent = False
        self.must_close = False
        self._replaced = False

    def run(self, app: WsgiApp) -> None:
        try:
            result = app(self._environ, self._start_response)
            try:
                for chunk in result:
                    self._emit(chunk)
                self._emit(b"", final=True)
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()
        except ClientGone:
            self.must_close = True
        except Exception:
            log.exception(
                "console request %s %s failed",
                self._environ["REQUEST_METHOD"],
                self._environ["PATH_INFO"][:200],
            )
            self.must_close = True
            if not self.head_sent:
                self._status, self._headers = (500, "Internal Server Error"), []
                self._send_head(error_body("internal error"), json_type=True)

    def _start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and self.head_sent:
            raise exc_info[1].with_traceback(exc_info[2])
        code, _, reason = status.partition(" ")
        self._status = (int(code), reason)
        self._headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in headers
            if name.lower() not in ("connection", "keep-alive", "transfer-encoding")
        ]
        return self._emit

    def _emit(self, chunk: bytes, final: bool = False) -> None:
        if not self.head_sent:
            if not chunk and not final:
                return  # headers go out with the first data, in one write
            self._send_head(chunk)
        elif chunk and not self._replaced and not self._wire.head_only:
            hop(self._wire, self._wire.send_data(chunk), self._wire.write_hop_timeout())

    def _send_head(self, body: bytes, json_type: bool = False) -> None:
        if self._status is None:
            raise RuntimeError("the app sent data before start_response")
        failure = self._wire.body_failure()
        if failure is not None:  # the body broke a limit: that is the answer, not the app's
            self._status = failure
            body, json_type, self._replaced = error_body(failure[1]), True, True
            self._headers = []
        if not self._wire.body_complete():
            self.must_close = True  # an unread body is never drained: the connection ends
        headers = list(self._headers)
        if json_type:
            headers += [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ]
        if self.must_close:
            headers.append((b"connection", b"close"))
        self.head_sent = True
        code = self._status[0]
        hop(
            self._wire,
            self._wire.send_response(code, headers, body),
            self._wire.write_hop_timeout(),
        )
