"""The front's parts on their own: the connection table, the lanes, and a client that never
reads (the front with a toy WSGI app, over loopback)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from vehicle.config import ServerLimits
from webconsole.front.clients import client_key
from webconsole.front.connections import ConnectionTable
from webconsole.front.lanes import OPERATOR, STRANGER, Lane
from webconsole.front.protocol import Admission
from webconsole.front.server import Front, listen

from .conftest import FakeClock

# -- the connection table ----------------------------------------------------------------


def test_a_client_may_hold_only_its_share() -> None:
    table = ConnectionTable(total=10, per_client=2)
    assert table.admit("10.0.0.1", lambda: None)
    assert table.admit("10.0.0.1", lambda: None)
    assert table.admit("10.0.0.1", lambda: None) is None
    assert table.admit("10.0.0.2", lambda: None)
    assert table.refused == 1


def test_ipv6_clients_are_counted_per_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::2")
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1"


def test_when_full_the_longest_idle_connection_makes_room() -> None:
    clock = FakeClock()
    table = ConnectionTable(total=3, per_client=10, clock=clock)
    aborted: list[str] = []
    first = table.admit("10.0.0.1", lambda: aborted.append("first"))
    clock.advance(1)
    second = table.admit("10.0.0.2", lambda: aborted.append("second"))
    clock.advance(1)
    third = table.admit("10.0.0.3", lambda: aborted.append("third"))
    table.busy(first)  # serving a request: never evicted
    table.idle(third)
    assert table.admit("10.0.0.4", lambda: None) is not None
    assert aborted == ["second"]
    assert len(table) == 3
    table.busy(third)
    table.busy(table.admit("10.0.0.5", lambda: None) or first)  # evicts the fourth
    assert table.admit("10.0.0.6", lambda: None) is None  # all busy: refused
    table.remove(second)  # already gone: no double count
    assert len(table) == 3


# -- lanes -------------------------------------------------------------------------------


def test_an_operator_is_served_before_strangers_queued_earlier() -> None:
    lane = Lane("test", workers=1)
    release = threading.Event()
    order: list[str] = []
    lane.submit(release.wait, STRANGER)  # occupies the only worker
    time.sleep(0.05)
    done = [lane.submit(lambda n=f"stranger{i}": order.append(n), STRANGER) for i in range(3)]
    done.append(lane.submit(lambda: order.append("operator"), OPERATOR))
    release.set()
    for future in done:
        future.result(5)
    lane.stop()
    assert order[0] == "operator"


def test_a_bounded_lane_refuses_when_full() -> None:
    lane = Lane("viewer", workers=1, capacity=1)
    release = threading.Event()
    busy = lane.submit(release.wait, OPERATOR)
    assert lane.submit(lambda: None, OPERATOR) is None
    release.set()
    busy.result(5)
    deadline = time.monotonic() + 5
    while lane.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lane.submit(lambda: None, OPERATOR) is not None
    lane.stop()


# -- a client that reads nothing --------------------------------------------------------

LIMITS = ServerLimits(write_timeout_s=1.0, header_timeout_s=2.0, idle_timeout_s=2.0)


def endless(environ, start_response) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    block = b"x" * (1024 * 1024)
    while True:
        yield block


@pytest.fixture
def front() -> Iterator[Front]:
    server = Front(endless, lambda environ: Admission(), LIMITS, listen("127.0.0.1", 0))
    server.start()
    yield server
    server.stop()


def test_a_client_that_reads_nothing_is_dropped_and_frees_its_thread(front: Front) -> None:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", front.port))
    sock.sendall(b"GET / HTTP/1.1\r\nHost: car\r\n\r\n")
    api = front.lanes["api"]
    deadline = time.monotonic() + 5
    while not api.pending and time.monotonic() < deadline:
        time.sleep(0.01)
    assert api.pending == 1  # the app is writing, the client is not reading
    deadline = time.monotonic() + LIMITS.write_timeout_s + 10
    while (api.pending or len(front.table)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.pending == 0
    assert len(front.table) == 0
    sock.close()


# -- keep-alive ------------------------------------------------------------------------


def echo(environ, start_response) -> list[bytes]:
    body = environ["wsgi.input"].read()
    answer = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']} {len(body)}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]


def test_one_connection_serves_request_after_request() -> None:
    """GET, a body, a chunked body, HEAD, and two pipelined requests on one connection."""
    server = Front(echo, lambda environ: Admission(max_body=1000), LIMITS, listen("127.0.0.1", 0))
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            exchanges = [
                (b"GET /a HTTP/1.1\r\nHost: car\r\n\r\n", [b"GET /a 0"]),
                (b"POST /b HTTP/1.1\r\nHost: car\r\nContent-Length: 3\r\n\r\nabc", [b"POST /b 3"]),
                (
                    b"PUT /c HTTP/1.1\r\nHost: car\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n",
                    [b"PUT /c 5"],
                ),
                (b"HEAD /d HTTP/1.1\r\nHost: car\r\n\r\n", [b""]),
                (
                    b"GET /e HTTP/1.1\r\nHost: car\r\n\r\nGET /f HTTP/1.1\r\nHost: car\r\n\r\n",
                    [b"GET /e 0", b"GET /f 0"],
                ),
            ]
            for request, bodies in exchanges:
                sock.sendall(request)
                for body in bodies:
                    answer = read_one(sock, head_only=request.startswith(b"HEAD"))
                    assert answer.startswith(b"HTTP/1.1 200"), answer
                    assert answer.endswith(b"\r\n\r\n" + body), answer
            assert server.table.evicted == 0 and len(server.table) == 1
    finally:
        server.stop()


def read_one(sock: socket.socket, head_only: bool) -> bytes:
    """One Content-Length framed response (its head alone for HEAD)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(1)
    if head_only:
        return data
    head = data.lower().split(b"content-length: ", 1)[1]
    length = int(head.split(b"\r\n", 1)[0])
    while len(data) < data.index(b"\r\n\r\n") + 4 + length:
        data += sock.recv(1)
    return data
