"""``vehicle sim``: the whole stack drives a simulated car round a DeepRacer track.

``--headless`` runs in lockstep on simulated time (much faster than real time); by default
the simulation runs in real time with the service's own drive thread and watchdog, a live
status line and optionally the web console.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
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
from vehicle.config import Settings
from vehicle.runtime_state import RuntimeState

if TYPE_CHECKING:  # the simulator (numpy, OpenCV, onnxruntime) loads only when it runs
    from vehicle.core.model import LoadedModel
    from vehicle.sim.session import Simulation
    from vehicle.sim.track import Track

# Without --max-time a run gives up after this much simulated time: far beyond any lap.
GIVE_UP_BASE_S = 60.0
GIVE_UP_PER_LAP_S = 120.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sim", help="drive a model round a simulated track")
    parser.add_argument("--track", required=True, help="track name (reinvent_base) or .npy file")
    parser.add_argument("--model", type=Path, help="model bundle (default: the bundled model)")
    parser.add_argument("--laps", type=int, default=3, help="laps to drive")
    parser.add_argument(
        "--throttle-limit",
        type=float,
        default=100.0,
        metavar="PCT",
        help="maximum speed in %% (default 100: the model's own speeds)",
    )
    parser.add_argument(
        "--max-time",
        type=float,
        metavar="S",
        help=f"give up after S simulated seconds (default: {GIVE_UP_BASE_S:g} s + "
        f"{GIVE_UP_PER_LAP_S:g} s a lap)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    parser.add_argument("--headless", action="store_true", help="lockstep, fast, no console")
    add_console_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.headless and (args.console or args.listen):
        raise ValueError("--headless runs in one process, without a console")
    if args.laps <= 0:
        raise ValueError(f"--laps must be positive, got {args.laps}")
    from vehicle.sim.track import load_track

    track = load_track(args.track)
    max_time = args.max_time
    if max_time is None:
        max_time = GIVE_UP_BASE_S + GIVE_UP_PER_LAP_S * args.laps
    if max_time <= 0:
        raise ValueError(f"--max-time must be positive, got {max_time}")
    limit = percent_to_fraction(args.throttle_limit)
    model = open_start_model(args.model, RuntimeState(), settings)
    if args.headless:
        result = _headless(track, model, settings, limit, args.laps, max_time)
    else:
        result = _realtime(track, model, settings, limit, args, max_time)
    if args.json:
        print(json.dumps(result))
    else:
        _print_result(result, track, args.laps)
    return 0


def _print_result(result: dict, track: Track, laps: int) -> None:
    """One line per lap, then the summary; a route that is not a loop is one run."""
    from vehicle.sim.judge import laps_to_drive

    unit = "lap" if track.loop else "run"
    for lap in result["laps"]:
        print(f"{unit} {lap['lap']}: {lap['time_s']:.2f} s, off track {lap['off_track']}")
    note = "" if track.loop else " (not a loop: one run from start to finish line)"
    print(
        f"{result['track']}: {result['completed_laps']} of {laps_to_drive(track, laps)} "
        f"{unit}s{note}, off track {result['off_track']}, progress {result['progress']:.1f} %"
    )


def _headless(
    track: Track,
    model: LoadedModel,
    settings: Settings,
    limit: float | None,
    laps: int,
    max_time: float,
) -> dict:
    from vehicle.sim.session import SimClock, Simulation, build_core, run_lockstep

    clock = SimClock()
    car, backend = build_core(settings, model, clock, throttle_limit=limit)
    try:
        sim = Simulation(track, car, backend, clock)
        car.start()
        return run_lockstep(sim, clock, laps, max_time)
    finally:
        car.close()


def _realtime(
    track: Track,
    model: LoadedModel,
    settings: Settings,
    limit: float | None,
    args: argparse.Namespace,
    max_time: float,
) -> dict:
    from vehicle.sim.session import Simulation, build_core, run_realtime

    stop = threading.Event()
    install_signal_handlers(stop)
    car, backend = build_core(settings, model, time.monotonic, throttle_limit=limit, lockstep=False)
    status = _StatusLine(track, args.laps)
    try:
        sim = Simulation(track, car, backend, time.monotonic)
        car.start_background()
        car.run_in_thread()
        with attached_console(car, settings, args):
            car.start()
            return run_realtime(sim, args.laps, max_time, stop.is_set, status)
    finally:
        car.close()
        status.end()


class _StatusLine:
    """Lap, progress, off-track count, speed and governor state."""

    def __init__(self, track: Track, laps: int, stream: TextIO | None = None) -> None:
        from vehicle.sim.judge import laps_to_drive

        self.laps = laps_to_drive(track, laps)
        self.unit = "lap" if track.loop else "run"
        self.line = LiveLine(stream)

    def __call__(self, sim: Simulation) -> None:
        if not self.line.due():
            return
        status = sim.core.status()
        judge = sim.judge
        self.line.show(
            f"{self.unit} {min(len(judge.laps) + 1, self.laps)}/{self.laps}  "
            f"progress {judge.progress:5.1f} %  off track {judge.off_track}  "
            f"speed {sim.car.state.speed:4.2f} m/s  {status['state']}  "
            f"{status['loop_hz']:4.1f} Hz",
            status["fault"] or status["stop_reason"],
        )

    def end(self) -> None:
        self.line.end()
