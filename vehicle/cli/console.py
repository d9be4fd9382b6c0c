"""``vehicle console``: the service process (web console, model store, viewers) on its own.

systemd runs it as a second unit beside the drive (``vehicle drive --listen``); ``vehicle
drive --console`` starts it as the drive's child with ``--drive-fd``.
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from vehicle.cli.drive_process import add_address_arguments
from vehicle.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "console", help="serve the web console for a running drive process"
    )
    link = parser.add_mutually_exclusive_group()
    link.add_argument(
        "--drive-socket",
        type=Path,
        help="the drive's socket (default: link.socket, or drive.sock in the data directory)",
    )
    link.add_argument("--drive-fd", type=int, help=argparse.SUPPRESS)  # the drive's child
    add_address_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from vehicle.service.main import channel_from_fd, install_stop_signals, serve, wait_for_drive

    stop = threading.Event()
    install_stop_signals(stop)
    if args.drive_fd is not None:
        channel = channel_from_fd(args.drive_fd)
    else:
        channel = wait_for_drive(args.drive_socket or settings.drive_socket_path)
    tls = False if args.no_tls else None
    return serve(settings, channel, host=args.host, port=args.port, tls=tls, stop=stop)
