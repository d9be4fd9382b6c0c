"""``vehicle model check|predict``: what the car makes of a model, exports included.

Both take anything the car accepts (our ONNX bundle, a DeepRacer export as a folder or a
``.tar.gz``, a ``.pb``, ``.tflite`` or OpenVINO IR with its metadata) and prepare it the way
the car does: in the preparation worker, cached by checksum under the data directory
(``cache/prepared``), then opened as the drive process opens it. The action table is the
drive loop's own, with the car's active calibration unless ``--calibration`` names another
file (ours or DeepRacer's).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from vehicle.config import Settings

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm")


def _model_options(parser: argparse.ArgumentParser) -> None:
    """What `check` and `predict` share: a network file's metadata, the action table's inputs."""
    parser.add_argument(
        "--metadata",
        type=Path,
        metavar="FILE",
        help="metadata for a network file (default: model_metadata.json beside it or one up)",
    )
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="calibration file, ours or DeepRacer's (default: the car's active calibration)",
    )
    parser.add_argument(
        "--throttle-limit",
        type=float,
        default=100.0,
        metavar="PCT",
        help="maximum speed in %% (default 100)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("model", help="model tools")
    commands = parser.add_subparsers(dest="model_command", required=True, metavar="ACTION")
    check = commands.add_parser("check", help="validate a model and print its action table")
    check.add_argument(
        "path",
        type=Path,
        metavar="PATH",
        help="bundle, DeepRacer export (folder or .tar.gz), .pb, .tflite, model.xml, or a "
        "model_metadata.json alone (its action table only)",
    )
    _model_options(check)
    check.add_argument("--json", action="store_true", help="print the table as a JSON list")
    check.set_defaults(func=run_check)
    predict = commands.add_parser("predict", help="what a model does on pictures")
    predict.add_argument("model", type=Path, metavar="MODEL", help="anything `check` takes")
    predict.add_argument(
        "images", type=Path, nargs="+", metavar="IMAGE|DIR", help="pictures; a folder in name order"
    )
    _model_options(predict)
    predict.add_argument("--json", action="store_true", help="print a JSON list, one per image")
    predict.set_defaults(func=run_predict)


def _calibration(args: argparse.Namespace, settings: Settings) -> tuple[Any, str]:
    from calibration.store import CalibrationStore, load_calibration_file

    if args.calibration is not None:
        return load_calibration_file(args.calibration), str(args.calibration)
    store = CalibrationStore(settings.calibration_path)
    source = str(store.path) if store.exists() else "DeepRacer defaults (none saved)"
    return store.load(), source


def _table(args: argparse.Namespace, settings: Settings, space: Any) -> tuple[Any, str]:
    from vehicle.cli.drive_process import percent_to_fraction
    from vehicle.core.actions import ActionTable

    calibration, source = _calibration(args, settings)
    return ActionTable.build(space, calibration, percent_to_fraction(args.throttle_limit)), source


def _open(args: argparse.Namespace, settings: Settings, path: Path) -> tuple[Any, Any, Any]:
    """Prepare (or find in the cache) and open the model as the drive process would."""
    from vehicle.core.policy import open_prepared
    from vehicle.model.worker import prepare_in_worker

    prepared = prepare_in_worker(
        path,
        settings.prepared_models_dir,
        metadata=args.metadata,
        limits=settings.model,
        shown_as=str(path),
    )
    metadata, policy = open_prepared(prepared.directory)
    return prepared, metadata, policy


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


def _prepared_line(prepared: Any) -> str:
    from vehicle.model.layout import FORMAT_LABELS

    stamp = prepared.stamp
    cached = "cached" if prepared.cache_hit else "prepared now"
    return (
        f"prepared: {FORMAT_LABELS[stamp.source.format]} -> {stamp.engine} "
        f"(sha256 {stamp.source.sha256[:12]}, {cached})"
    )


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    from vehicle.core.metadata import load_metadata
    from vehicle.model.bundle import model_name

    metadata_only = args.path.is_file() and args.path.suffix.lower() == ".json"
    if metadata_only:
        metadata = load_metadata(args.path)
        verdict = f"metadata {args.path.name}: OK (no model checked)"
    else:
        prepared, metadata, policy = _open(args, settings, args.path)
        verdict = f"model {model_name(args.path)}: OK"
    space = metadata.action_space
    table, calibration_source = _table(args, settings, space)
    rows = table.rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    count = f"{space.n_outputs} actions" if space.type == "discrete" else "2 outputs"
    layout = "" if metadata_only else f", {policy.layout} input"
    print(f"{verdict}, {space.type} ({count}){layout}, sensor {', '.join(metadata.sensors)}")
    if not metadata_only:
        print(_prepared_line(prepared))
    print(f"calibration: {calibration_source}; throttle limit {args.throttle_limit:g} %")
    print(format_table(rows))
    return 0


def image_paths(arguments: list[Path]) -> list[Path]:
    """Files as given; a folder's pictures in file-name order."""
    paths: list[Path] = []
    for argument in arguments:
        if argument.is_dir():
            found = sorted(
                p for p in argument.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not found:
                raise ValueError(f"no pictures in {argument}")
            paths += found
        elif argument.is_file():
            paths.append(argument)
        else:
            raise ValueError(f"no such picture or folder: {argument}")
    return paths


def _read_image(path: Path) -> Any:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # BGR, as the camera delivers frames
    if image is None:
        raise ValueError(f"cannot read {path} as a picture")
    return image


def predictions(model: Path, images: list[Path], args: argparse.Namespace, settings: Settings):
    """One record per picture: the raw outputs and the action the car would take."""
    from vehicle.core.preprocess import Preprocessor

    _, metadata, policy = _open(args, settings, model)
    table, _ = _table(args, settings, metadata.action_space)
    preprocess = Preprocessor(policy.layout)
    records = []
    for path in image_paths(images):
        outputs = policy.run(preprocess(_read_image(path)))
        row = table.explain(outputs)
        action = {key: row[key] for key in ACTION_KEYS}
        records.append(
            {"image": str(path), "outputs": [float(v) for v in outputs], "action": action}
        )
    return records


ACTION_KEYS = ("index", "steering_angle", "speed", "steer_norm", "throttle_norm")


def _describe(record: dict[str, Any]) -> str:
    a = record["action"]
    chosen = "continuous" if a["index"] is None else f"action {a['index']}"
    outputs = " ".join(f"{v:.4f}" for v in record["outputs"])
    return (
        f"{record['image']}: {chosen}: {a['steering_angle']:.1f} deg, {a['speed']:.2f} m/s "
        f"(steer {a['steer_norm']:+.3f}, throttle {a['throttle_norm']:+.3f}); outputs {outputs}"
    )


def run_predict(args: argparse.Namespace, settings: Settings) -> int:
    records = predictions(args.model, args.images, args, settings)
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        for record in records:
            print(_describe(record))
    return 0
