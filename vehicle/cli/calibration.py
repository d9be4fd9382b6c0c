"""``vehicle calibration show | import FILE | export FILE [--format deepracer|native]``.

Import accepts our file or DeepRacer's ``calibration.json``, validates it completely and only
then replaces the active calibration atomically. A running service reads the file at start.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from calibration.model import CHANNELS, Calibration
from calibration.store import FORMATS, CalibrationStore, to_native
from vehicle.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("calibration", help="show, import or export the calibration")
    actions = parser.add_subparsers(dest="calibration_action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="print the active calibration")
    show.add_argument("--json", action="store_true", help="print it in our JSON format")
    show.set_defaults(func=run)
    imports = actions.add_parser(
        "import", help="validate FILE (ours or DeepRacer's), make it active"
    )
    imports.add_argument("file", type=Path)
    imports.set_defaults(func=run)
    export = actions.add_parser("export", help="write the active calibration to FILE")
    export.add_argument("file", type=Path)
    export.add_argument("--format", choices=FORMATS, default="native", help="default: native")
    export.set_defaults(func=run)


def describe(calibration: Calibration) -> list[str]:
    """Human-readable lines: pulses in ns and ms, polarity, the speed table if any."""
    lines = []
    for name in CHANNELS:
        channel = calibration.channel(name)
        lines.append(
            f"{name:<9} min {channel.min_ns} ns ({channel.min_ns / 1e6:.4f} ms)  "
            f"mid {channel.mid_ns} ns ({channel.mid_ns / 1e6:.4f} ms)  "
            f"max {channel.max_ns} ns ({channel.max_ns / 1e6:.4f} ms)  "
            f"polarity {channel.polarity:+d}"
        )
    table = calibration.speed_table
    if table is None:
        lines.append("speed     DeepRacer's throttle curve (no measured speed table)")
    else:
        points = ", ".join(f"{t:g} -> {v:g} m/s" for t, v in table.points)
        lines.append(f"speed     measured table: {points}")
    return lines


def run(args: argparse.Namespace, settings: Settings) -> int:
    store = CalibrationStore(settings.calibration_path)
    if args.calibration_action == "import":
        calibration = store.import_file(args.file)
        print(f"imported {args.file} into {store.path}")
        print("\n".join(describe(calibration)))
    elif args.calibration_action == "export":
        store.export(args.file, args.format)
        source = store.path if store.exists() else "the defaults"
        print(f"exported {source} to {args.file} ({args.format} format)")
    elif args.json:
        print(json.dumps(to_native(store.load()), indent=2, sort_keys=True))
    else:
        calibration = store.load()
        source = store.path if store.exists() else f"defaults ({store.path} not saved yet)"
        print(f"calibration: {source}")
        print("\n".join(describe(calibration)))
    return 0
