"""The PWM options shared by every subcommand that opens the outputs."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from vehicle.config import PWM_BACKENDS, PwmSettings, Settings


def add_pwm_arguments(parser: argparse.ArgumentParser) -> None:
    pwm = PwmSettings()
    group = parser.add_argument_group("outputs")
    group.add_argument(
        "--pwm",
        choices=PWM_BACKENDS,
        help=f"PWM back-end (default: config pwm.backend, {pwm.backend})",
    )
    group.add_argument(
        "--pwm-sysfs-root",
        type=Path,
        metavar="DIR",
        help="sysfs PWM root, tests point it at a fake tree (default: config pwm.sysfs_root, "
        f"{pwm.sysfs_root})",
    )
    group.add_argument(
        "--pwm-chip",
        type=int,
        metavar="N",
        help="sysfs pwmchip number (default: config pwm.sysfs_chip, else the only chip, else "
        "DeepRacer's, on i2c-0 or i2c-1)",
    )
    group.add_argument(
        "--pwm-mock-state",
        type=Path,
        metavar="FILE",
        help="mock back-end state file, its 'hardware' (default: config pwm.mock_state_file, "
        "none: kept in memory)",
    )


def apply_pwm_arguments(args: argparse.Namespace, settings: Settings) -> Settings:
    """Settings with the command line's PWM choices on top of the config file's."""
    pwm = settings.pwm
    changes: dict[str, object] = {}
    if args.pwm:
        changes["backend"] = args.pwm
    if args.pwm_sysfs_root:
        changes["sysfs_root"] = args.pwm_sysfs_root
    if args.pwm_chip is not None:
        changes["sysfs_chip"] = args.pwm_chip
    if args.pwm_mock_state:
        changes["mock_state_file"] = args.pwm_mock_state
    return replace(settings, pwm=replace(pwm, **changes))
