"""The ``vehicle`` command: one entry point, one module per subcommand.

Exit status: 0 success, 1 an input was rejected (one line on stderr), 2 usage error.
Subcommand modules import only argparse-level code at the top and load numpy, OpenCV,
onnxruntime or Flask inside the command that needs them: ``--version``, ``--help``,
``neutral`` (systemd's stop path), ``calibration show`` and ``password set`` start fast
(tests/cli/test_startup.py holds them to it).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from pathlib import Path

from vehicle import __version__
from vehicle.cli.help_format import VehicleArgumentParser
from vehicle.config import load_settings

SUBCOMMANDS = (
    "drive",
    "console",
    "neutral",
    "model",
    "calibration",
    "sim",
    "password",
    "bench",
    "hil",
)


def build_parser() -> argparse.ArgumentParser:
    parser = VehicleArgumentParser(
        prog="vehicle", description="On-vehicle inference and device control."
    )
    parser.add_argument("--version", action="version", version=f"vehicle {__version__}")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="state directory (default: env VEHICLE_DATA_DIR, else the config's data_dir, "
        "else /var/lib/vehicle when writable, else ~/.local/share/vehicle)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML settings file, its keys in the README (default: none, built-in settings)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"vehicle.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        settings = load_settings(args.config, args.data_dir)
        return int(args.func(args, settings) or 0)
    except (ValueError, RuntimeError, OSError) as exc:
        # ModelError, CalibrationError, ConfigError, SourceError are ValueErrors; PwmError is a
        # RuntimeError. One line, the reason, exit 1.
        reason = str(exc).replace("\n", " ") or type(exc).__name__
        print(f"vehicle: {reason}", file=sys.stderr)
        return 1


__all__ = ["build_parser", "main"]
