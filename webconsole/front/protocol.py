"""One client connection, on the event loop: HTTP/1.1 parsed by h11, every wait bounded.

What a client must do, or be dropped:
- send the request head (line and headers, at most ``max_header_bytes``) within
  ``header_timeout_s`` of its first byte, and the next one within ``idle_timeout_s``;
- send a body no larger than its route allows (the Content-Length is checked before a byte
  is read) and at least ``min_body_rate`` bytes a second after ``body_timeout_s``;
- read what it is sent: no progress for ``write_timeout_s`` ends the connection.
A body is read only when the app wants it (a stranger's is not); one left unread ends the
connection after the answer (with a short, bounded linger so the answer arrives), and is
never drained.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import h11

from webconsole.front.lanes import OPERATOR, STRANGER
from webconsole.front.wsgi import (
    Exchange,
    Headers,
    StreamedBody,
    WsgiApp,
    build_environ,
    error_body,
)

if TYPE_CHECKING:
    from vehicle.config import ServerLimits
    from webconsole.front.connections import ConnectionTable, Tracked
    from webconsole.front.lanes import Lane

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
LINGER_S = 1.0  # after an answer to a request whose body was not read
LINGER_BYTES = 256 * 1024
CLOSE_WAIT_S = 1.0
HEAD_TOO_LARGE = "the request head (line and headers) is too large"


@dataclass(frozen=True)
class Admission:
    """What the app decides from a request's head alone, before any body is read."""

    lane: str = "api"  # which lane's threads serve it
    max_body: int = 0  # bytes it may send
    read_body: bool = True  # False: answer (401, 403) without reading a byte of the body
    stream_body: bool = False  # True: the app reads the body as it arrives (uploads)
    priority: int = STRANGER


Admit = Callable[[dict[str, Any]], Admission]


@dataclass
class Site:
    """What every connection shares."""

    app: WsgiApp
    admit: Admit
    limits: ServerLimits
    lanes: dict[str, Lane]
    table: ConnectionTable
    scheme: str


class Refusal(Exception):
    """A request the front answers by itself, then closes the connection."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class HttpConnection:
    def __init__(
        self,
        site: Site,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        tracked: Tracked,
    ) -> None:
        self.site = site
        self.limits = site.limits
        self.reader = reader
        self.writer = writer
        self.tracked = tracked
        self.loop = asyncio.get_running_loop()
        self.h11 = h11.Connection(
            h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes
        )
        self.head_only = False
        self._body_started = 0.0
        self._body_received = 0
        self._body_limit = 0
        self._body_failure: tuple[int, str] | None = None
        self._body_done = True

    # -- the connection's life ---------------------------------------------------------

    async def serve(self) -> None:
        linger = False
        try:
            deadline = self.loop.time() + self.limits.header_timeout_s
            while True:
                request = await self._read_head(deadline)
                if request is None:
                    return
                keep = await self._respond(request)
                if not keep or not self._can_continue():
                    linger = not self._body_done
                    return
                self.h11.start_next_cycle()
                self.site.table.idle(self.tracked)
                deadline = await self._await_next_request()
                if deadline is None:
                    return
        except Refusal as refusal:
            await self._refuse(refusal)
            linger = True  # the client may still be sending: let the answer land first
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass
        finally:
            await self._shut(linger)

    def _can_continue(self) -> bool:
        return self.h11.our_state is h11.DONE and self.h11.their_state is h11.DONE

    async def _await_next_request(self) -> float | None:
        """Keep-alive: the next head's deadline, or None when the client stays silent."""
        buffered, closed = self.h11.trailing_data
        if not buffered and not closed:
            try:
                data = await asyncio.wait_for(
                    self.reader.read(READ_SIZE), self.limits.idle_timeout_s
                )
            except TimeoutError:
                return None
            self.h11.receive_data(data)
        return self.loop.time() + self.limits.header_timeout_s

    async def _read_head(self, deadline: float) -> h11.Request | None:
        fed = len(self.h11.trailing_data[0])  # bytes of this head and beyond given to h11
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                status = exc.error_status_hint
                raise Refusal(status, HEAD_TOO_LARGE if status == 431 else str(exc)) from exc
            if isinstance(event, h11.Request):
                # h11 bounds only an incomplete head; one that arrived whole is measured here
                if fed - len(self.h11.trailing_data[0]) > self.limits.max_header_bytes:
                    raise Refusal(431, HEAD_TOO_LARGE)
                return event
            if event is not h11.NEED_DATA:
                return None  # ConnectionClosed
            try:
                data = await self._receive(deadline)
            except TimeoutError:
                if self.h11.trailing_data[0]:
                    raise Refusal(408, "the request head took too long") from None
                return None  # silent: just close
            fed += len(data)
            self.h11.receive_data(data)

    async def _receive(self, deadline: float) -> bytes:
        remaining = deadline - self.loop.time()
        if remaining <= 0:
            raise TimeoutError
        return await asyncio.wait_for(self.reader.read(READ_SIZE), remaining)

    # -- one request -------------------------------------------------------------------

    async def _respond(self, request: h11.Request) -> bool:
        method = request.method.decode("ascii")
        self.head_only = method == "HEAD"
        target = _origin_form(request.target)
        headers: Headers = list(request.headers)
        length, chunked = _framing(headers)
        environ = build_environ(
            method,
            target,
            request.http_version.decode("ascii"),
            headers,
            scheme=self.site.scheme,
            local=self._address("sockname"),
            peer=self._address("peername"),
        )
        admission = self._admit(environ)
        has_body = chunked or bool(length)
        if has_body and length is not None and length > admission.max_body:
            raise Refusal(413, _too_large(admission.max_body))
        self._body_done = not has_body
        self._body_limit = admission.max_body
        self._body_started = 0.0
        self._body_received = 0
        self._body_failure = None
        if not has_body:
            self._take_end_of_empty_body()
        operator = admission.priority == OPERATOR
        if operator:
            self.site.table.busy(self.tracked)  # a stranger's connection stays evictable
        if has_body and admission.read_body:
            if admission.stream_body:
                environ["wsgi.input"] = StreamedBody(self)
                environ["wsgi.input_terminated"] = chunked
            else:
                body = await self._read_whole_body()
                environ["wsgi.input"] = io.BytesIO(body)
                environ["CONTENT_LENGTH"] = str(len(body))
                environ.pop("HTTP_TRANSFER_ENCODING", None)
        lane = self.site.lanes[admission.lane]
        exchange = Exchange(self, environ)
        future = lane.submit(lambda: exchange.run(self.site.app), admission.priority)
        if future is None:
            raise Refusal(503, lane.busy_reason)
        self.site.table.busy(self.tracked)
        await asyncio.wrap_future(future)
        if self.writer.transport.is_closing():
            return False  # the client went away or stopped reading mid-answer
        await self._send(h11.EndOfMessage())
        return not exchange.must_close

    def _admit(self, environ: dict[str, Any]) -> Admission:
        try:
            return self.site.admit(environ)
        except Exception:
            log.exception("console admission failed for %s", environ.get("PATH_INFO", "")[:200])
            return Admission(read_body=False)

    def _address(self, which: str) -> tuple[str, int]:
        value = self.writer.get_extra_info(which) or ("", 0)
        return str(value[0]), int(value[1])

    # -- bodies (the loop side of wsgi.input) ------------------------------------------

    def body_failure(self) -> tuple[int, str] | None:
        return self._body_failure

    def body_complete(self) -> bool:
        return self._body_done

    def _body_deadline(self) -> float:
        """A grace period, then the body must keep up ``min_body_rate`` on average."""
        if not self._body_started:
            self._body_started = self.loop.time()
        grace = self.limits.body_timeout_s
        return self._body_started + grace + self._body_received / self.limits.min_body_rate

    def body_hop_timeout(self) -> float:
        return max(0.0, self._body_deadline() - self.loop.time())

    def write_hop_timeout(self) -> float:
        return self.limits.write_timeout_s

    async def read_body_chunk(self) -> bytes:
        """The next piece of the body; b"" at its end, or once it failed (see body_failure)."""
        try:
            return await self._next_body_chunk()
        except Refusal as refusal:
            self._body_failure = (refusal.status, refusal.reason)
            return b""

    async def _next_body_chunk(self) -> bytes:
        if self._body_done or self._body_failure:
            return b""
        if self.h11.they_are_waiting_for_100_continue:
            await self._send(h11.InformationalResponse(status_code=100, headers=[]))
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise Refusal(400, f"malformed body: {exc}") from exc
            if isinstance(event, h11.Data):
                self._body_received += len(event.data)
                if self._body_received > self._body_limit:
                    raise Refusal(413, _too_large(self._body_limit))
                return bytes(event.data)
            if isinstance(event, h11.EndOfMessage):
                self._body_done = True
                return b""
            if event is not h11.NEED_DATA:
                raise Refusal(400, "the connection closed in the middle of the body")
            try:
                data = await self._receive(self._body_deadline())
            except TimeoutError:
                raise Refusal(408, "the request body arrived too slowly") from None
            self.h11.receive_data(data)

    def _take_end_of_empty_body(self) -> None:
        """h11 hands out a bodiless request's end as an event of its own; taking it lets
        the connection go on to the next request."""
        event = self.h11.next_event()
        if not isinstance(event, h11.EndOfMessage):  # pragma: no cover - h11 guarantees it
            raise Refusal(400, "a request without a body sent one")

    async def _read_whole_body(self) -> bytes:
        parts = []
        while chunk := await self._next_body_chunk():
            parts.append(chunk)
        return b"".join(parts)

    # -- answers -----------------------------------------------------------------------

    async def send_response(self, status: int, headers: Headers, body: bytes) -> None:
        head = h11.Response(status_code=status, headers=headers, reason=_phrase(status))
        if body and not self.head_only:
            await self._send(head, h11.Data(data=body))  # one write: one packet if it fits
        else:
            await self._send(head)

    async def send_data(self, data: bytes) -> None:
        await self._send(h11.Data(data=data))

    async def _send(self, *events: Any) -> None:
        try:
            data = b"".join(self.h11.send(event) or b"" for event in events)
        except h11.LocalProtocolError:
            self.h11.send_failed()
            raise
        if data:
            self.writer.write(data)
            try:
                await asyncio.wait_for(self.writer.drain(), self.limits.write_timeout_s)
            except TimeoutError:
                abort(self.writer.transport)  # it reads nothing: nothing more is owed to it
                raise ConnectionError("the client stopped reading") from None

    async def _refuse(self, refusal: Refusal) -> None:
        """Answer by ourselves (the connection is closed afterwards)."""
        if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            body = error_body(refusal.reason)
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            if refusal.status == 503:
                headers.append((b"retry-after", b"2"))
            with contextlib.suppress(Exception):
                await self.send_response(refusal.status, headers, body)
                await self._send(h11.EndOfMessage())

    async def _shut(self, linger: bool) -> None:
        """Close without ever draining: a bounded linger lets the answer land first."""
        transport = self.writer.transport
        try:
            if linger and not transport.is_closing():
                if self.writer.can_write_eof():
                    self.writer.write_eof()
                await self._discard(LINGER_S, LINGER_BYTES)
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), CLOSE_WAIT_S)
        except (Exception, asyncio.CancelledError):
            pass
        finally:
            abort(transport)

    async def _discard(self, seconds: float, limit: int) -> None:
        deadline = self.loop.time() + seconds
        discarded = 0
        while discarded < limit:
            try:
                data = await self._receive(deadline)
            except TimeoutError:
                return
            if not data:
                return
            discarded += len(data)


def abort(transport: asyncio.BaseTransport) -> None:
    """Drop a connection now, whatever state it is in: a closing loop raises RuntimeError, and
    Python 3.11.2's TLS transport raises AttributeError when aborted twice."""
    with contextlib.suppress(RuntimeError, AttributeError):
        transport.abort()  # type: ignore[attr-defined]


def _origin_form(target: bytes) -> bytes:
    """The path and query of an origin-form or absolute-form target."""
    if target.startswith(b"/"):
        return target
    for scheme in (b"http://", b"https://"):
        if target.lower().startswith(scheme):
            _, _, rest = target[len(scheme) :].partition(b"/")
            return b"/" + rest
    raise Refusal(400, "the request target must be a path")


def _framing(headers: Headers) -> tuple[int | None, bool]:
    """(Content-Length, chunked). h11 already refused conflicting lengths; a request with
    both a length and a transfer-coding is refused too (RFC 9112 §6.1: it smells)."""
    length = None
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = True
    if chunked and length is not None:
        raise Refusal(400, "a request may not have both Content-Length and Transfer-Encoding")
    return length, chunked


def _too_large(limit: int) -> str:
    return f"the request body is larger than this route's limit of {limit:,} bytes"


def _phrase(status: int) -> bytes:
    try:
        return http.HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""
