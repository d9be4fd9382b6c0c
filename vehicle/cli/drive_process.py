"""What ``vehicle drive`` and ``vehicle sim`` share as the drive process.

The process that runs these commands owns the outputs. It opens only models that a worker
process has checked (or that were checked at install or ship with the package), and with
``--console`` it starts the service process as its child and serves it the drive link; with
``--listen`` it waits for a separately started one (systemd). Nothing here imports the
console.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from vehicle.config import ConsoleSettings, Settings
from vehicle.runtime_state import RuntimeState

if TYPE_CHECKING:  # numpy, OpenCV and onnxruntime load only when a command drives
    from vehicle.core.car import DriveCore
    from vehicle.core.link import DriveLink
    from vehicle.core.model import LoadedModel

log = logging.getLogger(__name__)

BUNDLED_MODELS = Path(__file__).resolve().parents[2] / "models"
DEFAULT_MODEL = BUNDLED_MODELS / "default"


def add_console_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("console")
    link = group.add_mutually_exclusive_group()
    link.add_argument(
        "--console", action="store_true", help="serve the web console (a child process)"
    )
    link.add_argument(
        "--listen",
        action="store_true",
        help="wait for `vehicle console` started on its own (systemd's two units)",
    )
    add_address_arguments(group)


def add_address_arguments(group: argparse._ActionsContainer) -> None:
    """Where the console listens: ``vehicle drive|sim --console`` and ``vehicle console``."""
    group.add_argument(
        "--host", help=f"console address (default: config console.host, {ConsoleSettings.host})"
    )
    group.add_argument(
        "--port",
        type=int,
        help=f"console port (default: config console.port, {ConsoleSettings.port})",
    )
    group.add_argument(
        "--no-tls",
        action="store_true",
        help="plain HTTP on a non-local address (default: HTTPS unless the address is local)",
    )


def percent_to_fraction(pct: float | None) -> float | None:
    if pct is None:
        return None
    if not 0.0 <= pct <= 100.0:
        raise ValueError(f"--throttle-limit must be between 0 and 100 %, got {pct}")
    return pct / 100.0


def install_signal_handlers(stop: threading.Event) -> None:
    """SIGTERM/SIGINT end the loop; ``finally`` blocks then write neutral before exit."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def open_start_model(model: Path | None, state: RuntimeState, settings: Settings) -> LoadedModel:
    """The model to start with: the one named (checked in a worker first), else the one the
    operator last loaded from the store, else the bundled default."""
    from vehicle.core.metadata import ModelError
    from vehicle.core.model import open_model

    if model is not None:
        from vehicle.model.worker import prepare_in_worker

        model = Path(model)
        if model.resolve().is_relative_to(BUNDLED_MODELS) and model.is_dir():
            return open_model(model, model.resolve().name)  # shipped with the package
        prepared = prepare_in_worker(
            model, settings.prepared_models_dir, limits=settings.model, shown_as=str(model)
        )
        return open_model(prepared.directory, _model_name(model))
    if state.active_model:
        try:
            return open_model(settings.models_dir / state.active_model, state.active_model)
        except (ModelError, OSError) as exc:
            log.error(
                "saved model %s not loaded (%s); driving the default", state.active_model, exc
            )
    return open_model(DEFAULT_MODEL, DEFAULT_MODEL.name)


def _model_name(path: Path) -> str:
    name = path.resolve().name
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def console_command(settings: Settings, args: argparse.Namespace) -> list[str]:
    """The service process's command line (the same interpreter and settings as ours)."""
    command = [sys.executable, "-m", "vehicle", "--data-dir", str(settings.data_dir)]
    if getattr(args, "config", None):
        command += ["--config", str(args.config)]
    if getattr(args, "verbose", False):
        command.append("--verbose")
    command.append("console")
    if args.host:
        command += ["--host", args.host]
    if args.port is not None:
        command += ["--port", str(args.port)]
    if args.no_tls:
        command.append("--no-tls")
    return command


@contextlib.contextmanager
def attached_console(
    car: DriveCore, settings: Settings, args: argparse.Namespace
) -> Iterator[DriveLink | None]:
    """With ``--console`` or ``--listen``: the drive link, and the service process."""
    if not (args.console or args.listen):
        yield None
        return
    from vehicle.core.link import DriveLink, LinkLogHandler
    from vehicle.core.supervisor import ConsoleChild, DriveListener

    link = DriveLink(car, settings.link, model_roots=(settings.data_dir, BUNDLED_MODELS))
    handler = LinkLogHandler(link)
    logging.getLogger().addHandler(handler)
    link.start()
    child: ConsoleChild | None = None
    listener: DriveListener | None = None
    try:
        if args.console:
            child = ConsoleChild(
                link,
                console_command(settings, args),
                restart_delay_s=settings.link.restart_delay_s,
            )
            child.start()
        else:
            listener = DriveListener(settings.drive_socket_path, link)
            listener.start()
        yield link
    finally:
        logging.getLogger().removeHandler(handler)
        link.close()  # first: the service's leaving is no longer news
        if child is not None:
            child.stop()
        if listener is not None:
            listener.close()
