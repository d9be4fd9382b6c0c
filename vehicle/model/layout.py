"""Finding the model in what a racer uploads, in every layout the car accepts.

- Our bundle: ``model.onnx`` + ``model_metadata.json``.
- DeepRacer's physical-car export: ``agent/model.pb`` + ``model_metadata.json``, possibly in
  one top folder, with training leftovers beside them (``ip/``, ``reward_function.py``,
  ``hyperparameters.json``, checkpoints).
- The car's artifacts layout: one ``.pb`` at the root, ``model_metadata.json``, ``checksum.txt``.
- ``model.tflite``, or OpenVINO IR (``model.xml`` + ``model.bin``), beside a ``.pb`` or alone.

The metadata anchors the search: the shallowest ``model_metadata.json`` is the model's root
and the network is looked for under it. Several candidates of one kind are refused, as the
stock car refuses several ``.pb``: guessing which network a racer meant could drive the
wrong one. When kinds are mixed, the original wins over derived copies: ONNX (our own
bundle), then the frozen graph, then TFLite, then IR.
"""

from __future__ import annotations

import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

from vehicle.core.metadata import METADATA_FILE, ModelError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
# Source format -> file suffix, in order of preference.
MODEL_SUFFIXES = {
    "onnx": ".onnx",
    "tensorflow": ".pb",
    "tflite": ".tflite",
    "openvino-ir": ".xml",
}
FORMAT_LABELS = {
    "onnx": "ONNX",
    "tensorflow": "DeepRacer TensorFlow export",
    "tflite": "TensorFlow Lite",
    "openvino-ir": "OpenVINO IR",
}
PLURALS = {
    "onnx": "ONNX models (.onnx)",
    "tensorflow": "TensorFlow graphs (.pb)",
    "tflite": "TFLite models (.tflite)",
    "openvino-ir": "OpenVINO IR models (.xml + .bin)",
}
WHAT_IS_ACCEPTED = (
    "model.onnx, a DeepRacer export (agent/model.pb or one .pb), model.tflite, "
    "or model.xml + model.bin"
)


@dataclass(frozen=True)
class ModelSource:
    """The files of one model, as found."""

    format: str  # a key of MODEL_SUFFIXES
    root: Path  # the folder holding the metadata; ``files`` are relative to it
    model: Path
    weights: Path | None  # IR's .bin
    metadata: Path
    ignored: tuple[str, ...]  # other networks present that were not used (derived copies)

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file the preparation reads, metadata last."""
        return (self.model, *((self.weights,) if self.weights else ()), self.metadata)

    def relative(self, path: Path) -> str:
        """A file's name as the racer knows it: relative to the root, or its own name."""
        return path.relative_to(self.root).as_posix() if self.root in path.parents else path.name


def strip_archive_suffix(filename: str) -> str:
    """``my-model.tar.gz`` -> ``my-model``: the name a model gets from its file."""
    for suffix in ARCHIVE_SUFFIXES:
        if filename.lower().endswith(suffix):
            return filename[: -len(suffix)]
    return filename


def is_archive(path: Path) -> bool:
    """By name, or by content for uploads saved under temporary names."""
    return Path(path).name.lower().endswith(ARCHIVE_SUFFIXES) or tarfile.is_tarfile(path)


def _depth(path: Path, top: Path) -> int:
    return len(path.relative_to(top).parts)


def _walk(top: Path) -> list[Path]:
    """Every regular file under ``top`` (symbolic links are not followed or listed)."""
    files = []
    for folder, dirs, names in os.walk(top):
        dirs.sort()
        for name in sorted(names):
            path = Path(folder) / name
            if path.is_file() and not path.is_symlink():
                files.append(path)
    return files


def _metadata_file(files: list[Path], top: Path) -> Path:
    found = [f for f in files if f.name == METADATA_FILE]
    if not found:
        raise ModelError(f"no {METADATA_FILE} found; expected it beside {WHAT_IS_ACCEPTED}")
    shallowest = min(_depth(f, top) for f in found)
    level = [f for f in found if _depth(f, top) == shallowest]
    if len(level) > 1:
        where = ", ".join(f.relative_to(top).as_posix() for f in level)
        raise ModelError(f"more than one model found ({where}); upload one at a time")
    return level[0]


def _candidates(files: list[Path], root: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {}
    names = {f.as_posix() for f in files}
    for f in files:
        if root not in f.parents:
            continue
        for kind, suffix in MODEL_SUFFIXES.items():
            if f.suffix.lower() != suffix:
                continue
            if kind == "openvino-ir" and f.with_suffix(".bin").as_posix() not in names:
                continue  # an .xml without weights is not a network
            found.setdefault(kind, []).append(f)
    return found


def find_model(directory: Path, shown_as: str | None = None) -> ModelSource:
    """The one model under ``directory`` (an extracted upload or a folder), or why not.

    ``shown_as`` names what the user gave (a folder, an archive) at the start of every
    message; without it a message names no path, since an upload's extracted copy is a
    server path no client should see.
    """
    try:
        return _find_model(Path(directory))
    except ModelError as exc:
        empty = "the folder is empty; " if not any(Path(directory).iterdir()) else ""
        where = f"{shown_as}: " if shown_as else ""
        raise ModelError(f"{where}{empty}{exc}") from exc


def _find_model(top: Path) -> ModelSource:
    files = _walk(top)
    metadata = _metadata_file(files, top)
    root = metadata.parent
    candidates = _candidates(files, root)
    for kind, paths in candidates.items():
        if len(paths) > 1:
            where = ", ".join(sorted(p.relative_to(root).as_posix() for p in paths))
            raise ModelError(
                f"found {len(paths)} {PLURALS[kind]}: {where}; the car takes exactly one"
            )
    present = [kind for kind in MODEL_SUFFIXES if kind in candidates]
    if not present:
        raise ModelError(f"no network beside {METADATA_FILE}; expected {WHAT_IS_ACCEPTED}")
    kind = present[0]
    model = candidates[kind][0]
    ignored = tuple(
        p.relative_to(root).as_posix() for other in present[1:] for p in candidates[other]
    )
    weights = model.with_suffix(".bin") if kind == "openvino-ir" else None
    return ModelSource(kind, root, model, weights, metadata, ignored)


def model_file_source(model: Path, metadata: Path | None = None) -> ModelSource:
    """A network given as a file; its metadata given, beside it, or one folder up
    (``agent/model.pb`` in a physical-car export)."""
    model = Path(model)
    kind = next((k for k, s in MODEL_SUFFIXES.items() if model.suffix.lower() == s), None)
    if kind is None:
        raise ModelError(f"{model.name} is not a model file; expected {WHAT_IS_ACCEPTED}")
    if metadata is None:
        beside = [model.parent / METADATA_FILE, model.parent.parent / METADATA_FILE]
        metadata = next((m for m in beside if m.is_file()), None)
        if metadata is None:
            raise ModelError(f"no {METADATA_FILE} beside {model.name}")
    weights = model.with_suffix(".bin") if kind == "openvino-ir" else None
    if weights is not None and not weights.is_file():
        raise ModelError(f"{model.name} needs its weights, {weights.name}, beside it")
    return ModelSource(kind, model.parent, model, weights, Path(metadata), ())
