"""The service's end of the drive link: its heartbeat, timed into the drive's idle time."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator

import pytest

from vehicle.config import LinkSettings
from vehicle.core.ipc import Channel, Hello, PeerClosed, Ping, decode_request, push, reply
from vehicle.service.client import DriveClient

PING_INTERVAL_S = 0.25


class FakeDrive:
    """The test plays the drive: answers the hello, pushes status when told, notes pings."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.pings: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                received = self.channel.recv(0.05)
            except PeerClosed:  # the client closed its end
                return
            if received is None:
                continue
            request_id, request = decode_request(received[0])
            if isinstance(request, Hello):
                self.channel.send(reply(request_id, {"t": time.monotonic()}))
            elif isinstance(request, Ping):
                self.pings.append(time.monotonic())

    def push_status(self) -> float:
        now = time.monotonic()
        self.channel.send(push("status", status={"t": now}))
        return now

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def linked() -> Iterator[tuple[FakeDrive, DriveClient]]:
    drive_end, service_end = Channel.pair()
    drive = FakeDrive(drive_end)
    client = DriveClient(service_end, LinkSettings(ping_interval_s=PING_INTERVAL_S))
    client.start()
    yield drive, client
    client.close()
    drive.close()
    drive_end.close()


def test_pings_follow_the_drives_status_pushes(linked) -> None:
    """A drive pushes status just after a step: a ping that follows at once reaches it in
    its loop's idle time, not at a random moment that could fall during inference."""
    drive, _ = linked
    pushes: list[float] = []
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        pushes.append(drive.push_status())
        time.sleep(0.1)  # the drive's status interval
    pings = [t for t in drive.pings if t > pushes[0]]
    assert len(pings) >= 5
    after_push = [ping - max(p for p in pushes if p <= ping) for ping in pings]
    # at a random phase, a ping would come 0-100 ms after a push: six or more within 30 ms
    # would happen by chance less than once in a thousand runs
    assert sum(delay < 0.03 for delay in after_push) >= len(pings) - 1, after_push


def test_pings_keep_coming_when_the_drive_pushes_nothing(linked) -> None:
    drive, _ = linked
    start = time.monotonic()
    time.sleep(1.2)
    pings = [t for t in drive.pings if t > start]
    assert len(pings) >= 4
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert max(gaps) <= PING_INTERVAL_S + 0.1
