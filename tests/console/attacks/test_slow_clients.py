"""Slow, silent and greedy clients never keep an operator from pressing Stop."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from vehicle.config import ServerLimits

from .wire import Session, Target, head_bytes, read_response, request, still_open

STOP_WITHIN_S = 1.0


def press_stop(target: Target, session: Session) -> tuple[int, float]:
    start = time.monotonic()
    answer = request(target, "POST", "/api/v1/stop", {**session.headers(), "Content-Length": "0"})
    return answer.status, time.monotonic() - start


def stops(target: Target, session: Session, presses: int = 8) -> list[float]:
    """Press Stop ``presses`` times, 0.1 s apart; each answer's latency (all must be 200)."""
    latencies = []
    for _ in range(presses):
        status, seconds = press_stop(target, session)
        assert status == 200
        latencies.append(seconds)
        time.sleep(0.1)
    return latencies


def attackers(count: int) -> Iterator[str]:
    """Loopback source addresses other than the operator's 127.0.0.1."""
    for i in range(count):
        yield f"127.0.{1 + i // 200}.{2 + i % 200}"


@contextlib.contextmanager
def held(target: Target, sources: list[str], per_source: int, first: bytes) -> Iterator[list]:
    socks = []
    try:
        for source in sources:
            for _ in range(per_source):
                sock = socket.create_connection((target.host, target.port), 5, (source, 0))
                if first:
                    sock.sendall(first)
                socks.append(sock)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def test_stop_is_served_within_a_second_with_200_slow_connections_open(serve, operator_for) -> None:
    _, target = serve(ServerLimits())  # the car's deadlines: slow heads are held 10 s
    session = operator_for(target)
    sources = list(attackers(10))
    with held(target, sources, 20, b"GET / HTTP/1.1\r\nHost: car\r\n") as socks:
        for sock in socks:
            sock.sendall(b"X-Slow: 1\r\n")  # one more header line: slow, not dead
        latencies = stops(target, session)
        assert sum(still_open(sock) for sock in socks) == 200  # really held, not refused
    assert max(latencies) < STOP_WITHIN_S, latencies


def test_silent_tls_connections_do_not_hold_up_others(serve, operator_for) -> None:
    _, target = serve(ServerLimits(), tls=True)
    session = operator_for(target)
    plain = Target(target.host, target.port)
    with held(plain, list(attackers(2)), 1, b""):  # TCP only: the handshake never starts
        latencies = stops(target, session)
    assert max(latencies) < STOP_WITHIN_S, latencies


def test_camera_viewers_cannot_take_the_apis_threads(serve, operator_for) -> None:
    limits = ServerLimits(max_viewers=4)
    _, target = serve(limits)
    session = operator_for(target)
    viewers = []
    try:
        for _ in range(16):
            sock = target.connect()
            sock.sendall(head_bytes("GET", "/stream.mjpg", session.headers(csrf=False)))
            viewers.append(sock)
        answers = [sock.recv(64) for sock in viewers]
        latencies = stops(target, session)
    finally:
        for sock in viewers:
            sock.close()
    streaming = [a for a in answers if a.startswith(b"HTTP/1.1 200")]
    refused = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
    assert (len(streaming), len(refused)) == (limits.max_viewers, 16 - limits.max_viewers)
    assert max(latencies) < STOP_WITHIN_S, latencies


def test_one_client_holds_at_most_its_share_of_connections(serve, operator_for) -> None:
    limits = ServerLimits(max_connections_per_client=8)
    _, target = serve(limits)
    session = operator_for(target)
    with held(target, ["127.0.0.2"], 20, b"") as socks:
        time.sleep(0.3)
        open_count = sum(still_open(sock) for sock in socks)
        latencies = stops(target, session, presses=3)
    assert open_count == limits.max_connections_per_client
    assert max(latencies) < STOP_WITHIN_S


def test_a_full_house_of_idle_connections_makes_room_for_the_operator(serve, operator_for) -> None:
    limits = ServerLimits(max_connections=60, max_connections_per_client=10)
    _, target = serve(limits)
    session = operator_for(target)
    with held(target, list(attackers(6)), 10, b"GET / HTTP/1.1\r\n") as socks:
        time.sleep(0.3)
        latencies = stops(target, session, presses=5)
        evicted = sum(not still_open(sock) for sock in socks)
    assert max(latencies) < STOP_WITHIN_S
    assert evicted >= 1  # each Stop took the place of the longest-idle attacker


@pytest.mark.parametrize("count", [50])
def test_slowloris_connections_are_dropped_at_the_header_deadline(target: Target, count) -> None:
    from .conftest import QUICK

    with held(target, list(attackers(5)), count // 5, b"GET / HTTP/1.1\r\n") as socks:
        for _ in range(int(QUICK.header_timeout_s / 0.5) + 3):
            for sock in socks:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-A: b\r\n")
            time.sleep(0.5)
        answers = []
        for sock in socks:
            sock.settimeout(2)
            with contextlib.suppress(OSError):
                answers.append(read_response(sock).status)
    assert answers.count(408) == count
