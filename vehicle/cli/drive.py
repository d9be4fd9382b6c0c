"""``vehicle drive``: run a model on the car (or a recorded source) with a live status line."""

from __future__ import annotations

import argparse
import collections
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import TextIO

from vehicle.cli.live_line import LiveLine
from vehicle.cli.pwm_options import add_pwm_arguments, apply_pwm_arguments
from vehicle.config import Settings
from vehicle.core.camera import open_source
from vehicle.core.drive import StepResult
from vehicle.core.pwm.factory import create_backend
from vehicle.core.sdnotify import SystemdNotifier
from vehicle.runtime_state import load_runtime_state
from vehicle.service import VehicleService

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "models" / "default"
MODES = {"manual": "manual", "auto": "autonomous", "autonomous": "autonomous"}


def add_console_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("console")
    group.add_argument("--console", action="store_true", help="serve the web console")
    group.add_argument("--host", help="console address (default from config: 127.0.0.1)")
    group.add_argument("--port", type=int, help="console port (default 8443)")
    group.add_argument("--no-tls", action="store_true", help="plain HTTP on a non-local address")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("drive", help="drive with a model")
    parser.add_argument("--model", type=Path, help="model bundle (directory or .tar.gz)")
    parser.add_argument(
        "--source", default="0", help="camera index, device path, video file, image folder"
    )
    parser.add_argument("--frames", type=int, help="stop after N frames (then neutral, exit 0)")
    parser.add_argument("--rate", type=float, help="cap the loop rate (Hz)")
    parser.add_argument("--fps", type=float, help="source frame rate (files and folders)")
    parser.add_argument("--loop", action="store_true", help="replay a file or folder forever")
    parser.add_argument(
        "--stay", action="store_true", help="keep running after a file or folder source ends"
    )
    parser.add_argument("--throttle-limit", type=float, metavar="PCT", help="0-100 %%")
    parser.add_argument("--mode", choices=sorted(MODES), help="drive mode")
    parser.add_argument("--start", action="store_true", help="arm at once (default: stopped)")
    add_pwm_arguments(parser, default=None)
    add_console_arguments(parser)
    parser.set_defaults(func=run)


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


def _label(index: int | None) -> str:
    return "cont" if index is None else f"#{index}"


class StatusLine:
    """Mode, Hz, latency and action, and a count of the actions chosen."""

    def __init__(self, service: VehicleService, stream: TextIO | None = None) -> None:
        self.service = service
        self.line = LiveLine(stream)
        self.actions: collections.Counter[int | None] = collections.Counter()

    def __call__(self, result: StepResult) -> None:
        self.actions[result.action.index] += 1
        if not self.line.due():
            return
        status = self.service.status()
        action = result.action
        self.line.show(
            f"{status['state']:<11} {status['loop_hz']:5.1f} Hz  "
            f"latency {status['latency_ms']['p50']:5.1f} ms  "
            f"action {_label(action.index):>4} steer {action.steer_norm:+.2f} "
            f"throttle {action.throttle_norm:+.2f}",
            status["fault"],
        )

    def summary(self, frames: int) -> str:
        counts = ", ".join(
            f"{_label(i)}: {n}" for i, n in sorted(self.actions.items(), key=lambda kv: kv[0] or 0)
        )
        return f"{frames} frames; actions {counts or 'none'}"


def start_console(service: VehicleService, settings: Settings, args: argparse.Namespace):
    from webconsole.server import start_console as serve

    host = args.host or settings.console.host
    port = args.port if args.port is not None else settings.console.port
    tls = False if args.no_tls else settings.console.tls
    handle = serve(service, settings, host=host, port=port, tls=tls)
    print(f"console: {handle.url}", file=sys.stderr)
    return handle


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = apply_pwm_arguments(args, settings)
    if args.rate is not None:
        if args.rate <= 0:
            raise ValueError(f"--rate must be positive, got {args.rate}")
        settings = replace(settings, loop=replace(settings.loop, rate_cap_hz=args.rate))
    if args.frames is not None and args.frames <= 0:
        raise ValueError(f"--frames must be positive, got {args.frames}")
    limit = percent_to_fraction(args.throttle_limit)
    source = open_source(args.source, fps=args.fps, loop=args.loop)
    if source.fps:
        settings = replace(settings, loop=replace(settings.loop, nominal_rate_hz=source.fps))
    saved_model = load_runtime_state(settings.runtime_state_path).active_model
    notifier = SystemdNotifier()
    stop = threading.Event()
    install_signal_handlers(stop)
    backend = create_backend(settings.pwm)
    try:
        service = VehicleService(
            settings,
            backend,
            source=source,
            model_path=args.model or (None if saved_model else DEFAULT_MODEL),
            throttle_limit=limit,
            mode=MODES[args.mode] if args.mode else None,
            heartbeat=notifier.watchdog_ping,
        )
    except BaseException:
        backend.close()
        raise
    console = None
    status = StatusLine(service)
    frames = 0
    try:
        service.start_background()
        if args.console:
            console = start_console(service, settings, args)
        if args.start:
            service.start()
        notifier.ready()
        frames = service.run(
            stop,
            max_frames=args.frames,
            stop_when_source_ends=not args.stay,
            on_step=status,
        )
    finally:
        notifier.stopping()
        if console is not None:
            console.stop()
        service.close()  # neutral on both channels, whatever happened above
    status.line.end()
    print(status.summary(frames))
    if service.source is not None and service.source.error:
        print(f"vehicle: {service.source.error}", file=sys.stderr)
        return 1
    return 0
