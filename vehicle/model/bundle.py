"""Loading a model bundle (directory or ``.tar.gz``) into everything a drive step needs.

All validation happens before ``load_bundle`` returns: a ``LoadedModel`` that exists can
drive. Loading changes nothing outside the object it returns, so a failed load leaves the
running model and the models directory as they were.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

from vehicle.core.metadata import ModelError
from vehicle.core.model import ONNX_FILE, LoadedModel, open_model
from vehicle.model.archive import extract_archive, find_bundle_root
from vehicle.model.validate import check_onnx

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def strip_archive_suffix(filename: str) -> str:
    """``my-model.tar.gz`` -> ``my-model``: the name a bundle gets from its file."""
    for suffix in ARCHIVE_SUFFIXES:
        if filename.lower().endswith(suffix):
            return filename[: -len(suffix)]
    return filename


def is_archive(path: Path) -> bool:
    """By name, or by content for uploads saved under temporary names."""
    return Path(path).name.lower().endswith(ARCHIVE_SUFFIXES) or tarfile.is_tarfile(path)


def load_directory(directory: Path, name: str, *, intra_op_threads: int = 1) -> LoadedModel:
    """Check and open a bundle whose two files sit directly in ``directory``."""
    onnx_file = Path(directory) / ONNX_FILE
    if onnx_file.is_file():
        check_onnx(onnx_file)
    return open_model(directory, name, intra_op_threads=intra_op_threads)


def load_bundle(path: Path, *, intra_op_threads: int = 1) -> LoadedModel:
    """A bundle directory (files directly inside or in one subfolder) or an archive of one.

    The session holds the network in memory, so an archive's extracted files are removed
    before returning.
    """
    path = Path(path)
    if path.is_dir():
        root = find_bundle_root(path, shown_as=str(path))
        return load_directory(root, path.resolve().name, intra_op_threads=intra_op_threads)
    if path.is_file() and is_archive(path):
        extracted = extract_archive(path)
        try:
            root = find_bundle_root(extracted, shown_as=str(path))
            loaded = load_directory(
                root, strip_archive_suffix(path.name), intra_op_threads=intra_op_threads
            )
        finally:
            shutil.rmtree(extracted, ignore_errors=True)
        return LoadedModel(loaded.name, path, loaded.metadata, loaded.policy, loaded.preprocessor)
    if path.exists():
        raise ModelError(f"{path.name} is neither a model directory nor a .tar.gz archive")
    raise ModelError(f"no such model: {path}")
