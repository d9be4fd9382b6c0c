"""``vehicle bench``: frame-to-pulse latency, jitter and cost against the inference floor
and against DonkeyCar's loop, all measured in one run on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from vehicle.atomic import atomic_write_json
from vehicle.config import Settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure latency, jitter and cost against the floor and DonkeyCar"
    )
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="write the results here (default: only print the table)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds of each timed window, two per configuration",
    )
    parser.add_argument(
        "--viewers",
        type=int,
        default=4,
        metavar="N",
        help="console MJPEG viewers in the viewers configuration",
    )
    parser.add_argument(
        "--model",
        type=Path,
        metavar="PATH",
        help="bundle to measure (default: DeepRacer's shallow network, built)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=30.0,
        metavar="HZ",
        help="camera rate for latency and jitter",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        metavar="S",
        help="seconds each loop runs before its timed window",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        metavar="N",
        help="interleaved rounds for the service's cost and the jitter comparison (each "
        "cost's chance interval is its rounds' range: 94 %% confidence at 5, 98 %% at 7)",
    )
    parser.add_argument(
        "--engines",
        action="store_true",
        help="only the engines table: each engine's floor at each precision, 1 and 2 threads",
    )
    parser.add_argument(
        "--tf-python",
        metavar="PATH",
        help="a Python with TensorFlow, to make the .tflite files for --engines (default: "
        "$VEHICLE_BENCH_TF_PYTHON, else this one if it has TensorFlow, else no TFLite rows)",
    )
    parser.set_defaults(func=run)


def run_engines(args: argparse.Namespace) -> int:
    from vehicle.bench import engines

    report = engines.run(args.duration, args.tf_python)
    if args.json is not None:
        atomic_write_json(args.json, report)
    print(engines.format_table(report))
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.engines:
        return run_engines(args)
    from vehicle.bench.report import format_table
    from vehicle.bench.runner import BenchOptions, run_bench

    options = BenchOptions(
        duration_s=args.duration,
        viewers=args.viewers,
        rate_hz=args.rate,
        model=args.model,
        warmup_s=args.warmup,
        rounds=args.rounds,
    )
    report = run_bench(options)
    if args.json is not None:
        atomic_write_json(args.json, report)
    print(format_table(report, options.configurations()))
    if args.json is not None:
        print(f"results: {args.json}")
    return 0
