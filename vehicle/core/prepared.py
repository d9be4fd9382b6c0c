"""The prepared bundle's stamp (``prepared.json``): what the drive process needs to open it.

The service process validates and converts a racer's model once (``vehicle.model.prepare``,
in a worker process) and writes a *prepared bundle*: ``model_metadata.json``, the network
in the form the chosen engine runs, and this stamp. The drive process reads the stamp and
opens the files it names, nothing else: no archive, no model format to detect, no
converter. The stamp is small JSON written by our own code; it is still checked field by
field, because a file on disk is not proof of who wrote it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vehicle.core.metadata import ModelError, one_line

# The layouts of vehicle.core.preprocess.LAYOUT_SHAPES, named here because importing that
# module loads OpenCV, and reading a stamp (a preparation cache hit) should stay quick.
LAYOUTS = ("NHWC", "NCHW")

PREPARED_FILE = "prepared.json"
PREPARED_FORMAT = 1  # bump when the bundle's layout changes; older bundles are re-prepared
ENGINES = ("onnxruntime", "openvino")
SOURCE_FORMATS = ("onnx", "tensorflow", "tflite", "openvino-ir")
MAX_STAMP_BYTES = 64 * 1024


@dataclass(frozen=True)
class SourceInfo:
    """Where a prepared bundle came from."""

    format: str  # one of SOURCE_FORMATS
    sha256: str  # of the original as received (the archive, file, or the files used)
    files: tuple[str, ...]  # the files used, relative to the original's root


@dataclass(frozen=True)
class PreparedStamp:
    format: int
    engine: str  # which policy class opens the network
    model_file: str  # relative to the bundle: model.onnx, model.xml
    weights_file: str | None  # model.bin for OpenVINO IR, else None
    layout: str  # NHWC | NCHW
    input_name: str
    output_name: str
    n_outputs: int
    file_sizes: dict[str, int]  # every file the drive reads, so a truncated copy is caught
    source: SourceInfo
    versions: dict[str, str]  # converter and engine versions, vehicle's own

    @property
    def files(self) -> tuple[str, ...]:
        return (self.model_file, *((self.weights_file,) if self.weights_file else ()))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["source"]["files"] = list(self.source.files)
        return data


def _field(data: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(key)
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ModelError(f"{PREPARED_FILE}: {key} is missing or has the wrong type")
    return value


def _file_name(value: Any, key: str) -> str:
    """A plain file name inside the bundle: no folders, no way out of it."""
    if not isinstance(value, str) or not value or "/" in value or value in (".", ".."):
        raise ModelError(f"{PREPARED_FILE}: {key} must be a file name in the bundle")
    return value


def parse_stamp(data: Any) -> PreparedStamp:
    """Validate a decoded stamp; ``ModelError`` names the first problem."""
    if not isinstance(data, dict):
        raise ModelError(f"{PREPARED_FILE} must hold a JSON object")
    version = _field(data, "format", int)
    if version != PREPARED_FORMAT:
        raise ModelError(
            f"the model was prepared in format {version}, this car reads {PREPARED_FORMAT}; "
            "install it again"
        )
    engine = _field(data, "engine", str)
    if engine not in ENGINES:
        raise ModelError(f"{PREPARED_FILE}: unknown engine {engine!r}")
    layout = _field(data, "layout", str)
    if layout not in LAYOUTS:
        raise ModelError(f"{PREPARED_FILE}: layout must be NHWC or NCHW, got {layout!r}")
    weights = data.get("weights_file")
    sizes = _field(data, "file_sizes", dict)
    for name, size in sizes.items():
        _file_name(name, "file_sizes")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ModelError(f"{PREPARED_FILE}: file_sizes[{name!r}] must be a size in bytes")
    source = _field(data, "source", dict)
    source_format = _field(source, "format", str)
    if source_format not in SOURCE_FORMATS:
        raise ModelError(f"{PREPARED_FILE}: unknown source format {source_format!r}")
    source_files = _field(source, "files", list)
    versions = _field(data, "versions", dict)
    n_outputs = _field(data, "n_outputs", int)
    if n_outputs < 1:
        raise ModelError(f"{PREPARED_FILE}: n_outputs must be positive")
    stamp = PreparedStamp(
        format=version,
        engine=engine,
        model_file=_file_name(data.get("model_file"), "model_file"),
        weights_file=None if weights is None else _file_name(weights, "weights_file"),
        layout=layout,
        input_name=_field(data, "input_name", str),
        output_name=_field(data, "output_name", str),
        n_outputs=n_outputs,
        file_sizes=dict(sizes),
        source=SourceInfo(
            source_format,
            _field(source, "sha256", str),
            tuple(str(f) for f in source_files),
        ),
        versions={str(k): str(v) for k, v in versions.items()},
    )
    missing = [name for name in stamp.files if name not in sizes]
    if missing:
        raise ModelError(f"{PREPARED_FILE}: no size recorded for {', '.join(missing)}")
    return stamp


def read_stamp(directory: Path) -> PreparedStamp:
    """Read ``prepared.json`` from a prepared bundle and check the files it names."""
    path = Path(directory) / PREPARED_FILE
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_STAMP_BYTES + 1)
    except FileNotFoundError as exc:
        raise ModelError(
            f"{Path(directory).name}: not a prepared model (no {PREPARED_FILE})"
        ) from exc
    except OSError as exc:
        raise ModelError(f"cannot read {PREPARED_FILE}: {one_line(exc)}") from exc
    if len(raw) > MAX_STAMP_BYTES:
        raise ModelError(f"{PREPARED_FILE} is larger than {MAX_STAMP_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{PREPARED_FILE} is not valid JSON: {one_line(exc)}") from exc
    stamp = parse_stamp(data)
    for name, size in stamp.file_sizes.items():
        try:
            actual = (Path(directory) / name).stat().st_size
        except OSError as exc:
            raise ModelError(f"the prepared model has no {name}: {one_line(exc)}") from exc
        if actual != size:
            raise ModelError(f"the prepared model's {name} has {actual} bytes, not {size}")
    return stamp
