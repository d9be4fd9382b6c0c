"""Request heads: bounded in size (431 without reading the rest) and in time (408, or a
silent close), whichever way the bytes are dribbled in."""

from __future__ import annotations

import socket
import time

import pytest

from .conftest import QUICK
from .wire import Target, peak_growth_mib, read_response, request, send_streamed

MiB = 1024 * 1024


def _huge(prefix: bytes, total: int, chunk: int = MiB):
    """``prefix`` then ``total`` bytes of ``a``, from one reused buffer."""
    yield prefix
    block = b"a" * chunk
    for start in range(0, total, chunk):
        yield block[: min(chunk, total - start)]


@pytest.mark.parametrize(
    "prefix, size",
    [
        (b"GET /", 64 * MiB),  # the request line
        (b"GET / HTTP/1.1\r\nHost: car\r\nX-Big: ", 32 * MiB),  # one header
    ],
    ids=["request line 64 MiB", "header 32 MiB"],
)
def test_an_oversized_head_is_refused_at_the_limit(target: Target, prefix: bytes, size: int):
    def attack():
        with target.connect() as sock:
            sock.settimeout(10)
            sent = send_streamed(sock, b"", _huge(prefix, size))
            return read_response(sock), sent

    (answer, sent), growth = peak_growth_mib(attack)
    assert answer.status == 431
    assert sent < 16 * MiB  # closed after the limit (16 KiB) and what buffers hold
    assert growth < 10, f"peak RSS grew {growth:.1f} MiB"


def test_many_small_headers_count_together(target: Target) -> None:
    headers = {f"X-H{i}": "v" * 100 for i in range(200)}  # 20 KiB of headers in total
    assert request(target, "GET", "/login", headers).status == 431


def test_a_head_at_the_limit_is_served(target: Target) -> None:
    assert request(target, "GET", "/login", {"X-Pad": "p" * 12_000}).status == 200


def _slowly(sock: socket.socket, parts: list[bytes], gap_s: float) -> bytes:
    """Send ``parts`` ``gap_s`` apart; what the server answered (b"" if it just closed)."""
    try:
        for part in parts:
            sock.sendall(part)
            time.sleep(gap_s)
        return sock.recv(65536)
    except (ConnectionError, TimeoutError):
        return b""


def test_slowloris_gets_408_at_the_header_deadline(target: Target) -> None:
    """One header line every 0.4 s: each line is timely, the head as a whole is not."""
    lines = [b"GET /login HTTP/1.1\r\n", b"Host: car\r\n"] + [b"X-A: b\r\n"] * 20
    with target.connect() as sock:
        sock.settimeout(10)
        start = time.monotonic()
        answer = _slowly(sock, lines, 0.4)
        if not answer:
            answer = sock.recv(65536)
        elapsed = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert QUICK.header_timeout_s <= elapsed < QUICK.header_timeout_s + 2.0


def test_a_silent_connection_is_closed_without_an_answer(target: Target) -> None:
    with target.connect() as sock:
        sock.settimeout(10)
        start = time.monotonic()
        assert sock.recv(100) == b""
        assert time.monotonic() - start < QUICK.header_timeout_s + 2.0


def test_an_idle_keep_alive_connection_is_closed(target: Target) -> None:
    with target.connect() as sock:
        sock.settimeout(10)
        sock.sendall(b"GET /login HTTP/1.1\r\nHost: car\r\n\r\n")
        assert read_response(sock).status == 200
        start = time.monotonic()
        assert sock.recv(100) == b""
        assert time.monotonic() - start < QUICK.idle_timeout_s + 2.0


def test_a_body_sent_too_slowly_gets_408(target: Target, operator) -> None:
    """After the grace period a body must keep up the minimum rate."""
    head = (
        b"PUT /api/v1/mode HTTP/1.1\r\nHost: car\r\nContent-Type: application/json\r\n"
        + "".join(f"{k}: {v}\r\n" for k, v in operator.headers().items()).encode()
        + b"Content-Length: 40\r\n\r\n"
    )
    with target.connect() as sock:
        sock.settimeout(10)
        answer = _slowly(sock, [head, *[b" "] * 10], 0.5)
        if not answer:
            answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
