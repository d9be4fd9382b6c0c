"""The front: an asyncio event loop in its own thread that owns every client socket.

Accepting is never blocked: TLS handshakes, slow heads and slow bodies are awaited on the
loop, each with its deadline, and only a complete request (or an upload, read as it
arrives) reaches a worker thread. See protocol.py for the per-request rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
import ssl
import threading
from dataclasses import fields
from typing import TYPE_CHECKING

from webconsole.front.connections import ConnectionTable
from webconsole.front.lanes import Lane
from webconsole.front.protocol import READ_SIZE, Admit, HttpConnection, Site, abort
from webconsole.front.wsgi import WsgiApp

if TYPE_CHECKING:
    from vehicle.config import ServerLimits

log = logging.getLogger(__name__)

BACKLOG = 128
START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 3.0
SPARE_FILES = 64  # descriptors kept for everything but client connections


def listen(host: str, port: int) -> socket.socket:
    """A bound, listening socket (OSError if the address is taken or not ours)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def check_limits(limits: ServerLimits) -> None:
    """Every limit is a positive number (a zero timeout or cap would lock everyone out)."""
    for spec in fields(limits):
        value = getattr(limits, spec.name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise ValueError(f"console.limits.{spec.name} must be positive, got {value!r}")


def connection_budget(wanted: int) -> int:
    """``wanted``, or fewer if the process may not open that many files. Raises the soft
    limit up to the hard one first (systemd's default soft limit is 1024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + SPARE_FILES
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - SPARE_FILES))


class _HeldProtocol(asyncio.StreamReaderProtocol):
    """A stream that, when ``hold``, reads nothing until ``start_tls`` takes over: a byte
    of the TLS handshake must not land in the plain-text buffer first."""

    def __init__(self, *args: object, hold: bool, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._hold = hold

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._hold and isinstance(transport, asyncio.ReadTransport):
            transport.pause_reading()
        super().connection_made(transport)


class Front:
    """Serves ``app`` on ``sock`` until ``stop()``."""

    def __init__(
        self,
        app: WsgiApp,
        admit: Admit,
        limits: ServerLimits,
        sock: socket.socket,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        check_limits(limits)
        self._sock = sock
        self._tls = tls
        self._limits = limits
        self.lanes = {
            "api": Lane("api", limits.api_workers),
            "upload": Lane(
                "upload",
                limits.max_uploads,
                capacity=limits.max_uploads,
                busy_reason="another model upload is in progress: try again when it is done",
            ),
            "viewer": Lane(
                "viewer",
                limits.max_viewers,
                capacity=limits.max_viewers,
                busy_reason=f"at most {limits.max_viewers} camera viewers at once: close one",
            ),
        }
        self.table = ConnectionTable(
            connection_budget(limits.max_connections), limits.max_connections_per_client
        )
        self._site = Site(app, admit, limits, self.lanes, self.table, "https" if tls else "http")
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._tasks: set[asyncio.Task] = set()
        self._thread = threading.Thread(target=self._run, name="console-front", daemon=True)

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("the console front did not start")

    def stop(self) -> None:
        """Stop accepting, drop every connection, end the workers. Safe to call twice."""
        if self._stopped is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(STOP_TIMEOUT_S)
        for lane in self.lanes.values():
            lane.stop()
        with contextlib.suppress(OSError):
            self._sock.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
            late = asyncio.all_tasks(self._loop)  # connections accepted while stopping
            for task in late:
                task.cancel()
            if late:
                self._loop.run_until_complete(asyncio.wait(late, timeout=STOP_TIMEOUT_S / 2))
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        hold = self._tls is not None

        def protocol() -> asyncio.StreamReaderProtocol:
            reader = asyncio.StreamReader(limit=READ_SIZE, loop=loop)
            return _HeldProtocol(reader, self._connected, loop=loop, hold=hold)

        server = await loop.create_server(protocol, sock=self._sock, backlog=BACKLOG)
        self._ready.set()
        try:
            await self._stopped.wait()
        finally:
            server.close()
            self.table.abort_all()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(self._tasks, timeout=STOP_TIMEOUT_S / 2)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        transport = writer.transport
        peer = writer.get_extra_info("peername") or ("", 0)
        tracked = self.table.admit(str(peer[0]), transport.abort)
        if tracked is None:
            transport.abort()
            return
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            if self._tls is not None:
                # In this task, not wait_for's: Python 3.11.2 (Debian 12's) never finishes a
                # server-side start_tls awaited from another task.
                timeout = self._limits.tls_handshake_timeout_s
                async with asyncio.timeout(timeout):
                    await writer.start_tls(self._tls, ssl_handshake_timeout=timeout)
            await HttpConnection(self._site, reader, writer, tracked).serve()
        except (OSError, ssl.SSLError, TimeoutError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("console connection from %s failed", peer[0])
        finally:
            self.table.remove(tracked)
            abort(writer.transport)
            if task is not None:
                self._tasks.discard(task)
