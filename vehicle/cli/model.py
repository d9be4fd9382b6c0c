"""``vehicle model check|import``: validate a bundle the way the car will; convert TF models.

The table is computed exactly as the drive loop computes it (same code), with the car's
active calibration unless ``--calibration`` names another file (ours or DeepRacer's).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from calibration.model import Calibration
from calibration.store import CalibrationStore, load_calibration_file
from vehicle.cli.drive_process import percent_to_fraction
from vehicle.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("model", help="model bundle tools")
    commands = parser.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    check = commands.add_parser("check", help="validate a bundle and print its action table")
    check.add_argument(
        "path",
        type=Path,
        metavar="PATH",
        help="bundle folder or .tar.gz (or a model_metadata.json alone: its action table only)",
    )
    check.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="calibration file, ours or DeepRacer's (default: the car's active calibration)",
    )
    check.add_argument(
        "--throttle-limit",
        type=float,
        default=100.0,
        metavar="PCT",
        help="maximum speed in %% (default 100)",
    )
    check.add_argument("--json", action="store_true", help="print the table as a JSON list")
    check.set_defaults(func=run)
    convert = commands.add_parser("import", help="convert a DeepRacer TensorFlow model to ONNX")
    convert.add_argument("archive", type=Path, metavar="MODEL.tar.gz")
    convert.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    convert.set_defaults(func=run_import)


def _calibration(args: argparse.Namespace, settings: Settings) -> tuple[Calibration, str]:
    if args.calibration is not None:
        return load_calibration_file(args.calibration), str(args.calibration)
    store = CalibrationStore(settings.calibration_path)
    source = str(store.path) if store.exists() else "DeepRacer defaults (none saved)"
    return store.load(), source


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_table(rows: list[dict[str, Any]]) -> str:
    from vehicle.core.actions import ROW_KEYS

    columns = [c for c in ("outputs", *ROW_KEYS) if c in rows[0]]
    cells = [[_cell(row[c]) if c != "outputs" else str(row[c]) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from vehicle.core.actions import ActionTable
    from vehicle.model import load_bundle, load_metadata

    limit = percent_to_fraction(args.throttle_limit)
    calibration, calibration_source = _calibration(args, settings)
    metadata_only = args.path.is_file() and args.path.suffix.lower() == ".json"
    if metadata_only:
        metadata = load_metadata(args.path)
        verdict = f"metadata {args.path.name}: OK (no model checked)"
    else:
        loaded = load_bundle(args.path)
        metadata = loaded.metadata
        verdict = f"model {loaded.name}: OK"
    space = metadata.action_space
    rows = ActionTable.build(space, calibration, limit).rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    count = f"{space.n_outputs} actions" if space.type == "discrete" else "2 outputs"
    layout = "" if metadata_only else f", {loaded.policy.layout} input"
    print(f"{verdict}, {space.type} ({count}){layout}, sensor {', '.join(metadata.sensors)}")
    print(f"calibration: {calibration_source}; throttle limit {args.throttle_limit:g} %")
    print(format_table(rows))
    return 0


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from vehicle.model.tf_import import import_tensorflow_model

    output = import_tensorflow_model(args.archive, args.output)
    print(f"converted {args.archive} -> {output} (check it with: vehicle model check {output})")
    return 0
