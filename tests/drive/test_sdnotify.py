"""sd_notify over a real AF_UNIX datagram socket, as systemd listens."""

from __future__ import annotations

import socket
from pathlib import Path

from vehicle.core.sdnotify import SystemdNotifier


def listen(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2.0)
    return sock


def test_ready_status_stopping_reach_the_socket(tmp_path: Path) -> None:
    sock = listen(tmp_path / "notify")
    notifier = SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "notify")})
    notifier.ready()
    notifier.status("driving")
    notifier.stopping()
    assert [sock.recv(64) for _ in range(3)] == [b"READY=1", b"STATUS=driving", b"STOPPING=1"]


def test_watchdog_pings_at_most_once_per_half_interval(tmp_path: Path) -> None:
    sock = listen(tmp_path / "notify")
    notifier = SystemdNotifier(
        {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "10000000"}
    )
    assert notifier.ping_interval_s == 5.0
    for _ in range(100):
        notifier.watchdog_ping()
    assert sock.recv(64) == b"WATCHDOG=1"
    sock.setblocking(False)
    try:
        extra = sock.recv(64)
    except BlockingIOError:
        extra = None
    assert extra is None


def test_abstract_socket_names(tmp_path: Path) -> None:
    name = f"vehicle-test-{tmp_path.name}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2.0)
    SystemdNotifier({"NOTIFY_SOCKET": "@" + name}).ready()
    assert sock.recv(64) == b"READY=1"


def test_without_systemd_everything_is_a_no_op() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled and notifier.ping_interval_s is None
    notifier.ready()
    notifier.watchdog_ping()
    notifier.stopping()


def test_a_vanished_socket_does_not_raise(tmp_path: Path) -> None:
    SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "gone")}).ready()


def test_watchdog_meant_for_another_process_is_not_pinged(tmp_path: Path) -> None:
    notifier = SystemdNotifier(
        {"NOTIFY_SOCKET": str(tmp_path / "n"), "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    )
    assert notifier.ping_interval_s is None


def test_status_text_cannot_inject_assignments(tmp_path: Path) -> None:
    sock = listen(tmp_path / "notify")
    SystemdNotifier({"NOTIFY_SOCKET": str(tmp_path / "notify")}).status("ok\nREADY=1")
    assert sock.recv(64) == b"STATUS=ok READY=1"
