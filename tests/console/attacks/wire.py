"""Raw HTTP over loopback for the attack tests: what a hostile client sends, byte by byte,
and what the server process pays for it (peak resident memory, measured in-process)."""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

T = TypeVar("T")
CSRF_META = re.compile(rb'<meta name="csrf-token" content="([^"]+)">')
STATUS = Path("/proc/self/status")


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json_reason(self) -> str:
        import json

        return json.loads(self.body)["reason"]


@dataclass
class Target:
    """A running console: where it listens and how to speak to it."""

    host: str
    port: int
    tls: ssl.SSLContext | None = None

    @classmethod
    def of(cls, url: str, cafile: Path | None = None) -> Target:
        parts = urlsplit(url)
        context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
        return cls(parts.hostname or "127.0.0.1", parts.port or 0, context)

    def connect(self, source: str = "127.0.0.1", timeout: float = 10.0) -> socket.socket:
        sock = socket.create_connection((self.host, self.port), timeout, (source, 0))
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        return sock


@dataclass
class Session:
    """A logged-in operator's cookie and CSRF token."""

    cookie: str
    token: str
    extra: dict[str, str] = field(default_factory=dict)

    def headers(self, csrf: bool = True) -> dict[str, str]:
        headers = {"Cookie": self.cookie, **self.extra}
        if csrf:
            headers["X-CSRFToken"] = self.token
        return headers


def head_bytes(method: str, path: str, headers: dict[str, str]) -> bytes:
    """A request head; ``Host: car`` unless ``headers`` name another."""
    headers = {"Host": "car", **headers}
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_response(sock: socket.socket, limit: int = 4 * 1024 * 1024) -> Response:
    """One response: the head, then Content-Length bytes or everything until close."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response head: {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    length = int(headers.get("content-length", "-1"))
    while (length < 0 or len(body) < length) and len(body) < limit:
        try:
            chunk = sock.recv(65536)
        except (ConnectionError, TimeoutError):
            break
        if not chunk:
            break
        body += chunk
    return Response(status, headers, body[:length] if length >= 0 else body)


def request(
    target: Target,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    source: str = "127.0.0.1",
) -> Response:
    """One request on its own connection."""
    headers = dict(headers or {})
    if body:
        headers.setdefault("Content-Length", str(len(body)))
    headers.setdefault("Connection", "close")
    with target.connect(source) as sock:
        sock.sendall(head_bytes(method, path, headers) + body)
        return read_response(sock)


def log_in(target: Target, password: str, source: str = "127.0.0.1") -> Session:
    """DeepRacer's way: GET / for the session cookie and csrf meta, then the login form."""
    page = request(target, "GET", "/", source=source)
    cookie = page.headers["set-cookie"].split(";", 1)[0]
    token = CSRF_META.search(page.body).group(1).decode()
    form = f"password={password.replace(' ', '+')}".encode()
    answer = request(
        target,
        "POST",
        "/login",
        {
            "Cookie": cookie,
            "X-CSRFToken": token,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        form,
        source=source,
    )
    assert answer.status == 200 and b'"redirect":"/home"' in answer.body, answer
    session = re.search(r"vehicle_session=[^;,\s]+", answer.headers["set-cookie"])
    return Session(session.group(0), token)


def send_streamed(sock: socket.socket, head: bytes, chunks: Iterable[bytes]) -> int:
    """Send ``head`` then ``chunks`` until the server stops taking them; bytes sent."""
    sent = 0
    try:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
            sent += len(chunk)
    except (ConnectionError, TimeoutError, ssl.SSLError):
        pass
    return sent


def still_open(sock: socket.socket) -> bool:
    """Whether the server still holds ``sock`` open: what it sent (a 408, say) is read
    and dropped, then a close or reset means no."""
    sock.setblocking(False)
    try:
        for _ in range(64):  # at most 4 MiB of answers
            if sock.recv(65536) == b"":
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False
    return True


def zeros(total: int, chunk: int = 1024 * 1024) -> Iterable[bytes]:
    """``total`` bytes from one reused buffer: a huge body that is never allocated."""
    block = bytes(chunk)
    for start in range(0, total, chunk):
        yield block[: min(chunk, total - start)]


def _status_kib(field_name: str) -> int:
    match = re.search(rf"^{field_name}:\s+(\d+) kB", STATUS.read_text(), re.MULTILINE)
    assert match, field_name
    return int(match.group(1))


def peak_growth_mib(action: Callable[[], T]) -> tuple[T, float]:
    """Run ``action`` and return its result and how far this process's peak resident
    memory rose above where it stood (the peak is reset first: /proc/self/clear_refs)."""
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_kib("VmRSS")
    result = action()
    return result, (_status_kib("VmHWM") - before) / 1024


def timed(action: Callable[[], T]) -> tuple[T, float]:
    start = time.monotonic()
    result = action()
    return result, time.monotonic() - start
