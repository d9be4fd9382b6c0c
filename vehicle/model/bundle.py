"""Loading a model bundle (directory or ``.tar.gz``) into everything a drive step needs.

All validation happens before ``load_bundle`` returns: a ``LoadedModel`` that exists can
drive. Loading changes nothing outside the object it returns, so a failed load leaves the
running model and the models directory as they were.
"""

from __future__ import annotations

import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path

from vehicle.core.metadata import METADATA_FILE, ModelError, ModelMetadata, load_metadata
from vehicle.core.policy import Policy
from vehicle.core.preprocess import Preprocessor
from vehicle.model.archive import ONNX_FILE, extract_archive, find_bundle_root
from vehicle.model.validate import open_checked

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


@dataclass(frozen=True)
class LoadedModel:
    name: str
    directory: Path  # where the bundle was read from (the archive itself for a .tar.gz)
    metadata: ModelMetadata
    policy: Policy
    preprocessor: Preprocessor


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
    """Validate and open a bundle whose two files sit directly in ``directory``."""
    directory = Path(directory)
    for required in (METADATA_FILE, ONNX_FILE):
        if not (directory / required).is_file():
            raise ModelError(f"{directory.name or directory}: {required} is missing")
    metadata = load_metadata(directory / METADATA_FILE)
    policy = open_checked(
        directory / ONNX_FILE,
        metadata.action_space.n_outputs,
        intra_op_threads=intra_op_threads,
    )
    return LoadedModel(name, directory, metadata, policy, Preprocessor(policy.layout))


def load_bundle(path: Path, *, intra_op_threads: int = 1) -> LoadedModel:
    """A bundle directory (files directly inside or in one subfolder) or an archive of one.

    The session holds the network in memory, so an archive's extracted files are removed
    before returning.
    """
    path = Path(path)
    if path.is_dir():
        root = find_bundle_root(path)
        return load_directory(root, path.resolve().name, intra_op_threads=intra_op_threads)
    if path.is_file() and is_archive(path):
        extracted = extract_archive(path)
        try:
            root = find_bundle_root(extracted)
            loaded = load_directory(
                root, strip_archive_suffix(path.name), intra_op_threads=intra_op_threads
            )
        finally:
            shutil.rmtree(extracted, ignore_errors=True)
        return LoadedModel(loaded.name, path, loaded.metadata, loaded.policy, loaded.preprocessor)
    if path.exists():
        raise ModelError(f"{path.name} is neither a model directory nor a .tar.gz archive")
    raise ModelError(f"no such model: {path}")
