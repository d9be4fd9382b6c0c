"""``vehicle hil``: the hardware-in-the-loop harness against a rig (or its emulator).

With ``--port`` the harness runs on the car itself, the Pico plugged into the car's USB and
wired to its PWM outputs; the car drives through its configured back-end. With
``--emulate`` the car drives the mock back-end and the emulator reports what it outputs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from hil_rig.emulator import FAULTS, Emulator
from vehicle.cli.drive_process import DEFAULT_MODEL
from vehicle.cli.pwm_options import add_pwm_arguments
from vehicle.config import Settings

if TYPE_CHECKING:  # the harness runs the model (onnxruntime) and opens serial ports
    from hil_rig.harness import Report


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("hil", help="hardware-in-the-loop tests of the outputs")
    rig = parser.add_mutually_exclusive_group(required=True)
    rig.add_argument("--port", help="the rig's serial device or pyserial URL")
    rig.add_argument("--emulate", action="store_true", help="the rig's emulator on mock PWM")
    parser.add_argument(
        "--inject", choices=FAULTS, help="a fault for the emulator to inject (default: none)"
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=DEFAULT_MODEL,
        help="model bundle (default: the bundled models/default)",
    )
    parser.add_argument("--frames", type=Path, help="recorded frames (default: synthetic)")
    parser.add_argument("--fps", type=float, default=15.0, help="frame rate fed to the car")
    parser.add_argument("--tolerance-us", type=float, default=10.0, help="pulse match, us")
    parser.add_argument("--max-latency-ms", type=float, default=150.0, help="latency bound")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    add_pwm_arguments(parser)
    parser.set_defaults(func=run)


def pwm_passthrough(args: argparse.Namespace) -> list[str]:
    """The PWM options as given, for the ``vehicle drive`` and ``vehicle neutral`` runs."""
    out: list[str] = []
    for flag in ("pwm", "pwm_sysfs_root", "pwm_chip", "pwm_mock_state"):
        value = getattr(args, flag)
        if value is not None:
            out += [f"--{flag.replace('_', '-')}", str(value)]
    return out


def print_report(report: Report, stream=sys.stdout) -> None:
    for scenario in report.scenarios:
        mark = "PASS" if scenario.passed else "FAIL"
        print(f"{mark}  {scenario.name:<26} {scenario.detail}", file=stream)
    if report.latency_ms:
        figures = ", ".join(f"{k} {v} ms" for k, v in report.latency_ms.items())
        print(f"latency (frame read to pulse): {figures}", file=stream)
    for fault in report.car_faults:
        print(f"car fault: {fault}", file=stream)
    failed = sum(not s.passed for s in report.scenarios)
    verdict = "all passed" if not failed else f"{failed} of {len(report.scenarios)} failed"
    print(f"hil: {verdict}", file=stream)


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.inject and not args.emulate:
        raise ValueError("--inject needs --emulate: faults are injected by the emulator")
    if args.emulate and (args.pwm or args.pwm_mock_state):
        raise ValueError("--emulate drives the mock back-end itself; drop the --pwm options")
    if args.tolerance_us <= 0 or args.max_latency_ms <= 0 or not 0 < args.fps <= 60:
        raise ValueError(
            "--tolerance-us and --max-latency-ms must be positive, --fps within (0, 60]"
        )
    from hil_rig.client import RigClient
    from hil_rig.harness import Harness, HarnessOptions

    with tempfile.TemporaryDirectory(prefix="vehicle-hil-") as tmp:
        work = Path(tmp)
        data_dir = settings.data_dir
        if args.emulate:
            # A scratch car: the real calibration, but nothing the runs persist touches it.
            data_dir = work / "car"
            data_dir.mkdir()
            if settings.calibration_path.is_file():
                shutil.copy(settings.calibration_path, data_dir / "calibration.json")
            args.pwm, args.pwm_mock_state = "mock", work / "pwm-state.json"
        options = HarnessOptions(
            model=args.model,
            data_dir=data_dir,
            workdir=work,
            pwm_args=tuple(pwm_passthrough(args)),
            frames=args.frames,
            fps=args.fps,
            tolerance_ns=round(args.tolerance_us * 1000),
            max_latency_ms=args.max_latency_ms,
        )
        if args.emulate:
            with (
                Emulator(args.pwm_mock_state, fault=args.inject) as emulator,
                RigClient(emulator.path) as client,
            ):
                report = Harness(client, options).run()
        else:
            with RigClient(args.port) as client:
                report = Harness(client, options).run()
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        print_report(report)
    return 0 if report.passed else 1
