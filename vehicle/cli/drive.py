"""``vehicle drive``: run a model on the car (or a recorded source) with a live status line.

This process is the drive process: it owns the outputs. With ``--console`` it starts the
service process (web console, model store) as its child; with ``--listen`` it waits for one
started on its own (systemd's two units).
"""

from __future__ import annotations

import argparse
import collections
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from vehicle.cli.drive_process import (
    add_console_arguments,
    attached_console,
    install_signal_handlers,
    open_start_model,
    percent_to_fraction,
)
from vehicle.cli.live_line import LiveLine
from vehicle.cli.pwm_options import add_pwm_arguments, apply_pwm_arguments
from vehicle.config import Settings
from vehicle.core.pwm.factory import create_backend
from vehicle.core.sdnotify import SystemdNotifier
from vehicle.runtime_state import RuntimeState, load_runtime_state

if TYPE_CHECKING:  # numpy, OpenCV and onnxruntime load only when a command drives
    from vehicle.core.actions import Action
    from vehicle.core.car import DriveCore
    from vehicle.core.drive import StepResult

MODES = {"manual": "manual", "auto": "autonomous", "autonomous": "autonomous"}


def register(subparsers: argparse._SubParsersAction) -> None:
    saved = RuntimeState()
    parser = subparsers.add_parser("drive", help="drive with a model")
    parser.add_argument(
        "--model",
        type=Path,
        help="model bundle, directory or .tar.gz (default: the model last loaded in the "
        "console, else the bundled models/default)",
    )
    parser.add_argument(
        "--source",
        default="0",
        help="camera index, device path, video file, image folder or 'synthetic'",
    )
    parser.add_argument(
        "--frames",
        type=int,
        metavar="N",
        help="stop after N frames, then neutral, exit 0 (default: run until stopped or the "
        "source ends)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        metavar="HZ",
        help="cap the loop rate (default: config loop.rate_cap_hz, none: every new frame)",
    )
    parser.add_argument(
        "--fps",
        type=float,
        help="source frame rate (default: a video's own rate, 15 for a folder, 30 synthetic; "
        "a camera paces itself)",
    )
    parser.add_argument("--loop", action="store_true", help="replay a file or folder forever")
    parser.add_argument(
        "--stay", action="store_true", help="keep running after a file or folder source ends"
    )
    parser.add_argument(
        "--throttle-limit",
        type=float,
        metavar="PCT",
        help="maximum speed, 0-100 %% (default: the last one set in the console, else "
        f"{saved.throttle_limit * 100:g} %%)",
    )
    parser.add_argument(
        "--mode",
        choices=sorted(MODES),
        help=f"drive mode (default: the last one set, else {saved.mode})",
    )
    parser.add_argument("--start", action="store_true", help="arm at once (default: stopped)")
    add_pwm_arguments(parser)
    add_console_arguments(parser)
    parser.set_defaults(func=run)


def _label(index: int | None) -> str:
    return "cont" if index is None else f"#{index}"


def describe_step(status: dict, action: Action) -> str:
    """Governor state, Hz, latency, the model's choice and the pulses really written.

    The model runs whether or not the car drives autonomously; unless it does, its choice is
    advice the outputs ignore, and the line says so, as the console does.
    """
    role = "action" if status["state"] == "autonomous" else "advice (not driving)"
    pulses = status["pulses"]
    return (
        f"{status['state']:<11} {status['loop_hz']:5.1f} Hz  "
        f"latency {status['latency_ms']['p50']:5.1f} ms  "
        f"{role} {_label(action.index):>4} steer {action.steer_norm:+.2f} "
        f"throttle {action.throttle_norm:+.2f}  "
        f"outputs steer {pulses['steering'] / 1000:.0f} us "
        f"throttle {pulses['throttle'] / 1000:.0f} us"
    )


class StatusLine:
    """The live line of ``describe_step``, and a count of the actions the model chose."""

    def __init__(self, car: DriveCore, stream: TextIO | None = None) -> None:
        self.car = car
        self.line = LiveLine(stream)
        self.actions: collections.Counter[int | None] = collections.Counter()

    def __call__(self, result: StepResult) -> None:
        self.actions[result.action.index] += 1
        if not self.line.due():
            return
        status = self.car.status()
        self.line.show(
            describe_step(status, result.action), status["fault"] or status["stop_reason"]
        )

    def summary(self, frames: int) -> str:
        counts = ", ".join(
            f"{_label(i)}: {n}" for i, n in sorted(self.actions.items(), key=lambda kv: kv[0] or 0)
        )
        return f"{frames} frames; actions {counts or 'none'}"


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = apply_pwm_arguments(args, settings)
    if args.rate is not None:
        if args.rate <= 0:
            raise ValueError(f"--rate must be positive, got {args.rate}")
        settings = replace(settings, loop=replace(settings.loop, rate_cap_hz=args.rate))
    if args.frames is not None and args.frames <= 0:
        raise ValueError(f"--frames must be positive, got {args.frames}")
    from vehicle.core.camera import open_source
    from vehicle.core.car import DriveCore

    limit = percent_to_fraction(args.throttle_limit)
    source = open_source(args.source, fps=args.fps, loop=args.loop)
    if source.fps:
        settings = replace(settings, loop=replace(settings.loop, nominal_rate_hz=source.fps))
    state = load_runtime_state(settings.runtime_state_path)
    model = open_start_model(args.model, state, settings)
    notifier = SystemdNotifier()
    stop = threading.Event()
    install_signal_handlers(stop)
    backend = create_backend(settings.pwm)
    try:
        car = DriveCore(
            settings,
            backend,
            source=source,
            model=model,
            throttle_limit=state.throttle_limit if limit is None else limit,
            mode=MODES[args.mode] if args.mode else state.mode,
            heartbeat=notifier.watchdog_ping,
            led_colour=state.led,
        )
    except BaseException:
        backend.close()
        raise
    status = StatusLine(car)
    frames = 0
    try:
        car.start_background()
        with attached_console(car, settings, args):
            if args.start:
                car.start()
            notifier.ready()
            frames = car.run(
                stop,
                max_frames=args.frames,
                stop_when_source_ends=not args.stay,
                on_step=status,
            )
    finally:
        notifier.stopping()
        car.close()  # neutral on both channels, whatever happened above
    status.line.end()
    print(status.summary(frames))
    if car.source is not None and car.source.error:
        print(f"vehicle: {car.source.error}", file=sys.stderr)
        return 1
    return 0
