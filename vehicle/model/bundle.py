"""Loading any model the car accepts into everything a drive step needs.

A path given on the command line (a folder, an archive, a network file, or a bundle already
prepared) is prepared in the worker (``vehicle.model.worker``) and then opened exactly as
the drive process opens it (``vehicle.core.model.open_model``). All validation happens
before ``load_bundle`` returns: a ``LoadedModel`` that exists can drive. Loading changes
nothing but the cache it is given, so a failed load leaves the running model and the models
directory as they were.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from vehicle.config import ModelSettings
from vehicle.core.metadata import ModelError
from vehicle.core.model import LoadedModel, open_model
from vehicle.core.prepared import PREPARED_FILE
from vehicle.model.layout import is_archive, strip_archive_suffix
from vehicle.model.worker import prepare_in_worker


def model_name(path: Path) -> str:
    """The name a model gets from where it came from: its folder, or its archive's stem."""
    path = Path(path)
    if path.is_file() and not is_archive(path):
        return path.resolve().parent.name  # a loose network file: its folder's name
    return strip_archive_suffix(path.resolve().name)


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
        return open_model(path, path.resolve().name, threads=threads)
    name = model_name(path)
    if cache_dir is not None:
        prepared = prepare_in_worker(path, cache_dir, limits=limits, shown_as=str(path))
        loaded = open_model(prepared.directory, name, threads=threads)
    else:
        with tempfile.TemporaryDirectory(prefix="vehicle-prepare-") as scratch:
            prepared = prepare_in_worker(path, Path(scratch), limits=limits, shown_as=str(path))
            loaded = open_model(prepared.directory, name, threads=threads)
    return LoadedModel(loaded.name, path, loaded.metadata, loaded.policy, loaded.preprocessor)
