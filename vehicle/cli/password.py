"""``vehicle password set``: the console password, read from stdin, stored as a salted hash."""

from __future__ import annotations

import argparse
import getpass
import sys

from vehicle.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("password", help="manage the web console password")
    actions = parser.add_subparsers(dest="password_action", required=True, metavar="ACTION")
    set_parser = actions.add_parser(
        "set", help="read a new password from stdin (asked twice on a terminal)"
    )
    set_parser.set_defaults(func=run)


def _read_password() -> str:
    from webconsole.credentials import CredentialError  # werkzeug: only when a password is set

    if sys.stdin.isatty():
        first = getpass.getpass("New console password: ")
        if getpass.getpass("Repeat it: ") != first:
            raise CredentialError("the two passwords differ; nothing was changed")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def run(args: argparse.Namespace, settings: Settings) -> int:
    from webconsole.credentials import store_password

    store_password(settings.password_path, _read_password())
    print(
        f"console password stored in {settings.password_path}; "
        "restart the console to use it (open sessions are logged out)",
        file=sys.stderr,
    )
    return 0
