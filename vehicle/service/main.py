"""The service process: console, model store and viewers, attached to one drive process.

Started by the drive (``vehicle drive --console``: the link is a descriptor it inherited) or
by its own systemd unit (``vehicle console``: it connects to the drive's socket, waiting for
the drive to come up). It ends when the drive's end of the link closes; its supervisor
(the drive, or systemd) starts a new one.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from vehicle.config import Settings
from vehicle.core.ipc import Channel
from vehicle.core.sdnotify import SystemdNotifier
from vehicle.service.client import DriveClient, DriveUnavailable, connect_socket
from vehicle.service.facade import VehicleService

log = logging.getLogger(__name__)

CONNECT_PATIENCE_S = 30.0  # how long a separately started service waits for the drive


def channel_from_fd(fd: int) -> Channel:
    return Channel(socket.socket(fileno=fd))


def wait_for_drive(path: Path, patience_s: float = CONNECT_PATIENCE_S) -> Channel:
    """Connect to the drive's socket, retrying while the drive starts."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            return connect_socket(path)
        except DriveUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def serve(
    settings: Settings,
    channel: Channel,
    *,
    host: str | None,
    port: int | None,
    tls: bool | None,
    stop: threading.Event,
) -> int:
    """Run the console until ``stop`` is set or the drive goes away; the exit status."""
    from webconsole.server import start_console

    with contextlib.suppress(OSError):
        os.nice(settings.link.service_nice)  # the drive process comes first on a busy CPU
    service: VehicleService | None = None

    def forward(message: dict) -> None:
        if service is not None:
            service.drive_log(message)

    client = DriveClient(channel, settings.link, on_log=forward)
    try:
        client.start()
        service = VehicleService(settings, client)
        console = start_console(service, settings, host=host, port=port, tls=tls)
    except BaseException:
        if service is not None:
            service.close()
        client.close()
        raise
    print(f"console: {console.url}", file=sys.stderr, flush=True)
    notifier = SystemdNotifier()
    notifier.ready()
    try:
        while not stop.is_set() and not client.closed.is_set():
            stop.wait(0.2)
    finally:
        notifier.stopping()
        console.stop()
        service.close()
        client.close()
    if client.closed.is_set() and not stop.is_set():
        log.warning("the drive process went away; the console ends with it")
        return 1
    return 0


def install_stop_signals(stop: threading.Event) -> None:
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
