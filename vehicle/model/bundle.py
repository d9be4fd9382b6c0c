"""Loading any model the car accepts into everything a drive step needs.

A path given on the command line or to the service (a folder, an archive, a network file,
or a bundle the store already prepared) is prepared in the worker (``vehicle.model.worker``)
and then opened exactly as the drive process opens it (``open_prepared``). All validation
happens before ``load_bundle`` returns: a ``LoadedModel`` that exists can drive. Loading
changes nothing but the cache it is given, so a failed load leaves the running model and
the models directory as they were.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from vehicle.config import ModelSettings
from vehicle.core.metadata import ModelError, ModelMetadata
from vehicle.core.policy import Policy, open_prepared
from vehicle.core.prepared import PREPARED_FILE
from vehicle.core.preprocess import Preprocessor
from vehicle.model.layout import ARCHIVE_SUFFIXES, is_archive, strip_archive_suffix
from vehicle.model.worker import prepare_in_worker

__all__ = [
    "ARCHIVE_SUFFIXES",
    "LoadedModel",
    "is_archive",
    "load_bundle",
    "load_prepared",
    "model_name",
    "strip_archive_suffix",
]


@dataclass(frozen=True)
class LoadedModel:
    name: str
    directory: Path  # what was loaded: the folder, archive or file given
    metadata: ModelMetadata
    policy: Policy
    preprocessor: Preprocessor


def model_name(path: Path) -> str:
    """The name a model gets from where it came from: its folder, or its archive's stem."""
    path = Path(path)
    if path.is_file() and not is_archive(path):
        return path.resolve().parent.name  # a loose network file: its folder's name
    return strip_archive_suffix(path.resolve().name)


def load_prepared(directory: Path, name: str, *, threads: int = 1) -> LoadedModel:
    """Open a prepared bundle (the drive process's way in)."""
    metadata, policy = open_prepared(directory, threads=threads)
    return LoadedModel(name, Path(directory), metadata, policy, Preprocessor(policy.layout))


def load_bundle(
    path: Path,
    *,
    threads: int = 1,
    cache_dir: Path | None = None,
    limits: ModelSettings | None = None,
) -> LoadedModel:
    """Prepare (once per checksum when ``cache_dir`` is given) and open any accepted model.

    Without a cache the preparation goes to a temporary folder, removed once the session
    holds the network.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"no such model: {path}")
    if path.is_dir() and (path / PREPARED_FILE).is_file():
        return load_prepared(path, path.resolve().name, threads=threads)
    if cache_dir is not None:
        prepared = prepare_in_worker(path, cache_dir, limits=limits)
        loaded = load_prepared(prepared.directory, model_name(path), threads=threads)
    else:
        with tempfile.TemporaryDirectory(prefix="vehicle-prepare-") as scratch:
            prepared = prepare_in_worker(path, Path(scratch), limits=limits)
            loaded = load_prepared(prepared.directory, model_name(path), threads=threads)
    return LoadedModel(loaded.name, path, loaded.metadata, loaded.policy, loaded.preprocessor)
