"""The PWM options shared by every subcommand that opens the outputs."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from vehicle.config import PWM_BACKENDS, Settings


def add_pwm_arguments(parser: argparse.ArgumentParser, default: str | None = None) -> None:
    group = parser.add_argument_group("outputs")
    group.add_argument("--pwm", choices=PWM_BACKENDS, default=default, help="PWM back-end")
    group.add_argument("--pwm-sysfs-root", type=Path, help="sysfs PWM root (tests: a fake tree)")
    group.add_argument("--pwm-chip", type=int, help="sysfs pwmchip number")
    group.add_argument("--pwm-mock-state", type=Path, help="mock back-end state file")


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
