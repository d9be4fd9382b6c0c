"""``vehicle neutral``: write the calibrated neutral to both outputs and exit.

systemd runs this after the service stops for any reason, because hardware PWM keeps its last
pulse after a crash. It goes through the safety governor like every other output write.
"""

from __future__ import annotations

import argparse
import logging
import sys

from calibration.model import Calibration, CalibrationError
from calibration.store import CalibrationStore
from vehicle.cli.pwm_options import add_pwm_arguments, apply_pwm_arguments
from vehicle.config import Settings
from vehicle.core.pwm.factory import create_backend
from vehicle.core.safety import GovernorLimits, GovernorState, SafetyGovernor

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("neutral", help="write calibrated neutral to the outputs")
    add_pwm_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    settings = apply_pwm_arguments(args, settings)
    status = 0
    try:
        calibration = CalibrationStore(settings.calibration_path).load()
    except CalibrationError as exc:
        # Writing a near-neutral default beats leaving a crashed car's last pulse in place.
        print(f"vehicle: {exc}; writing the default neutral instead", file=sys.stderr)
        calibration = Calibration()
        status = 1
    backend = create_backend(settings.pwm)
    governor = SafetyGovernor(backend, calibration, GovernorLimits(throttle_limit=0.0))
    state = governor.status()
    governor.close()
    if state.state is GovernorState.FAULT:
        print(f"vehicle: neutral not confirmed: {state.fault_reason}", file=sys.stderr)
        return 1
    print(f"neutral: steering {state.steering_ns} ns, throttle {state.throttle_ns} ns")
    return status
