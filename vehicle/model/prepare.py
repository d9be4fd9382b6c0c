"""Preparing a model once: find it, validate it, convert it, stamp it, cache it.

Whatever the car accepts (our ONNX bundle, DeepRacer's exports, TFLite, OpenVINO IR; as a
folder, a file or a ``.tar.gz``) becomes a *prepared bundle* the drive process can open with
``vehicle.core.policy.open_prepared``:

    <cache_root>/<sha256 of the original>/
        prepared.json          the stamp (vehicle.core.prepared)
        model_metadata.json
        model.onnx             (onnxruntime)   or   model.xml + model.bin (OpenVINO)
        source/                the original's files that were used, to prepare again later

The bundle is keyed by the checksum of the original as received (an archive's bytes; for a
folder or a loose file, the files used), so preparing the same upload again is a cache hit
that reads nothing but the checksum and the stamp. A bundle is built in a temporary folder
and renamed into place only once it has been opened with the drive process's own code, so a
failure leaves nothing behind and a reader never sees half a bundle.

This runs in the preparation worker (``vehicle.model.worker``), never in the drive process.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from vehicle import __version__
from vehicle.atomic import atomic_write_json, fsync_dir
from vehicle.config import ModelSettings
from vehicle.core.metadata import METADATA_FILE, ModelError, load_metadata
from vehicle.core.prepared import (
    PREPARED_FILE,
    PREPARED_FORMAT,
    PreparedStamp,
    SourceInfo,
    read_stamp,
)
from vehicle.model.archive import extract_archive
from vehicle.model.layout import ModelSource, find_model, is_archive, model_file_source
from vehicle.model.worker import TEMP_PREFIX, PreparedModel

SOURCE_DIR = "source"
ONNX_MODEL = "model.onnx"
STALE_TEMP_S = 3600.0
MAX_METADATA_BYTES = 1024 * 1024
_CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_files(source: ModelSource) -> str:
    """A folder's or loose file's checksum: the files used, by name and content."""
    digest = hashlib.sha256()
    for path in source.files:
        digest.update(f"{source.relative(path)}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def cached(cache_root: Path, key: str) -> PreparedModel | None:
    """The prepared bundle for ``key`` if it is complete and current, else None."""
    directory = Path(cache_root) / key
    try:
        stamp = read_stamp(directory)
    except ModelError:
        return None
    if stamp.source.sha256 != key:
        return None
    with contextlib.suppress(OSError):
        os.utime(directory)  # recently used: pruning keeps it
    return PreparedModel(directory, stamp, cache_hit=True)


def _check_size(path: Path, limit: int, what: str) -> None:
    size = path.stat().st_size
    if size > limit:
        raise ModelError(f"{what} {path.name} has {size:,} bytes; the limit is {limit:,}")


def _copy_into(source: ModelSource, target: Path) -> ModelSource:
    """Copy the files used into ``target`` (only they: converters look beside a model for
    more files), and describe the copy."""
    copies = {}
    for path in source.files:
        copy = target / source.relative(path)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        copies[path] = copy
    return ModelSource(
        source.format,
        target,
        copies[source.model],
        copies[source.weights] if source.weights else None,
        copies[source.metadata],
        source.ignored,
    )


@dataclass(frozen=True)
class Network:
    """The network as prepared for its engine, before it is stamped."""

    engine: str
    model_file: str
    weights_file: str | None
    layout: str
    input_name: str
    output_name: str
    versions: dict[str, str]  # of what checked, converted and runs it


def _onnx_network(source: ModelSource, staging: Path) -> Network:
    """Our own format: checked (no external data, the ONNX checker), run by onnxruntime."""
    import onnx
    import onnxruntime

    from vehicle.core.policy import layout_of
    from vehicle.model.validate import check_onnx

    facts = check_onnx(source.model)
    shutil.copyfile(source.model, staging / ONNX_MODEL)
    versions = {"onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__}
    return Network(
        "onnxruntime",
        ONNX_MODEL,
        None,
        layout_of(list(facts.input_shape)),
        facts.input_name,
        facts.output_name,
        versions,
    )


def _converted_network(source: ModelSource, staging: Path, limits: ModelSettings) -> Network:
    """DeepRacer's formats: converted to IR, run by OpenVINO's runtime."""
    from vehicle.core.openvino_policy import import_runtime
    from vehicle.model.convert import IR_MODEL, IR_WEIGHTS, convert_to_ir

    converted = convert_to_ir(source, staging, max_nodes=limits.max_graph_nodes)
    versions = {"openvino": import_runtime().get_version()}
    return Network(
        "openvino",
        IR_MODEL,
        IR_WEIGHTS,
        converted.layout,
        converted.input_name,
        converted.output_name,
        versions,
    )


def _check_sizes(source: ModelSource, limits: ModelSettings) -> ModelSource:
    for path in (source.model, *((source.weights,) if source.weights else ())):
        _check_size(path, limits.max_model_bytes, "the network file")
    _check_size(source.metadata, MAX_METADATA_BYTES, "the metadata file")
    return source


def _build(source: ModelSource, key: str, staging: Path, limits: ModelSettings) -> PreparedStamp:
    """Validate and convert ``source`` into ``staging``; returns the stamp written there."""
    metadata = load_metadata(source.metadata)  # stereo and LIDAR models stop here
    copy = _copy_into(source, staging / SOURCE_DIR)
    shutil.copyfile(copy.metadata, staging / METADATA_FILE)
    if source.format == "onnx":
        network = _onnx_network(copy, staging)
    else:
        network = _converted_network(copy, staging, limits)
    weights = [network.weights_file] if network.weights_file else []
    stamp = PreparedStamp(
        format=PREPARED_FORMAT,
        engine=network.engine,
        model_file=network.model_file,
        weights_file=network.weights_file,
        layout=network.layout,
        input_name=network.input_name,
        output_name=network.output_name,
        n_outputs=metadata.action_space.n_outputs,
        file_sizes={
            name: (staging / name).stat().st_size
            for name in (network.model_file, *weights, METADATA_FILE)
        },
        source=SourceInfo(source.format, key, tuple(source.relative(p) for p in source.files)),
        versions={"vehicle": __version__, **network.versions},
    )
    atomic_write_json(staging / PREPARED_FILE, stamp.to_json())
    from vehicle.core.policy import open_prepared  # numpy and an engine: not for cache hits

    open_prepared(staging)  # exactly what the drive process will do, or refuse now
    for path in staging.rglob("*"):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    return stamp


def _install(staging: Path, cache_root: Path, key: str, stamp: PreparedStamp) -> PreparedModel:
    target = cache_root / key
    if target.exists():  # an outdated or broken entry: cached() refused it
        shutil.rmtree(target)
    try:
        os.rename(staging, target)
    except OSError:
        raced = cached(cache_root, key)  # another worker prepared the same model meanwhile
        if raced is None:
            raise
        return raced
    fsync_dir(cache_root)
    return PreparedModel(target, stamp, cache_hit=False)


def prune_cache(cache_root: Path, keep_entries: int, *, keep: str | None = None) -> None:
    """Keep the ``keep_entries`` most recently used bundles; drop dead workers' leftovers."""
    entries = []
    cutoff = time.time() - STALE_TEMP_S
    for entry in Path(cache_root).iterdir():
        with contextlib.suppress(OSError):
            if entry.name.startswith("."):
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry, ignore_errors=True)
            elif entry.name != keep:
                entries.append((entry.stat().st_mtime, entry))
    entries.sort(reverse=True)
    for _, entry in entries[max(0, keep_entries - (keep is not None)) :]:
        shutil.rmtree(entry, ignore_errors=True)


def _prepare_source(
    source: ModelSource, key: str, cache_root: Path, scratch: Path, limits: ModelSettings
) -> PreparedModel:
    staging = scratch / "bundle"
    staging.mkdir()
    stamp = _build(source, key, staging, limits)
    prepared = _install(staging, cache_root, key, stamp)
    prune_cache(cache_root, limits.cache_entries, keep=key)
    return prepared


def _prepare(
    source: Path,
    cache_root: Path,
    metadata: Path | None,
    limits: ModelSettings,
    scratch: Path,
    shown_as: str | None,
) -> PreparedModel:
    if source.is_file() and metadata is None and is_archive(source):
        _check_size(source, limits.max_archive_bytes, "the archive")
        key = sha256_file(source)
        if hit := cached(cache_root, key):
            return hit
        extracted = extract_archive(
            source,
            scratch,
            max_members=limits.max_archive_members,
            max_bytes=limits.max_extracted_bytes,
        )
        found = _check_sizes(find_model(extracted, shown_as), limits)
        return _prepare_source(found, key, cache_root, scratch, limits)
    is_folder = source.is_dir()
    found = find_model(source, shown_as) if is_folder else model_file_source(source, metadata)
    key = _sha256_files(_check_sizes(found, limits))
    return cached(cache_root, key) or _prepare_source(found, key, cache_root, scratch, limits)


def prepare(
    source: Path,
    cache_root: Path,
    *,
    metadata: Path | None = None,
    limits: ModelSettings | None = None,
    shown_as: str | None = None,
) -> PreparedModel:
    """Prepare ``source`` (folder, archive, or network file with ``metadata`` beside it or
    given) into ``cache_root``; ``ModelError`` says why not, with nothing left behind.
    ``shown_as``: how messages name the source (the user's path; None for an upload).

    All temporary files go to one folder named after this process, so whoever kills a
    worker can remove what it left (``TEMP_PREFIX`` + pid).
    """
    source, cache_root = Path(source), Path(cache_root)
    limits = limits or ModelSettings()
    if not source.exists():
        raise ModelError(f"no such model: {source}")
    if metadata is not None and not source.is_file():
        raise ModelError("a metadata file can be given only with a network file")
    cache_root.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=cache_root))
    try:
        return _prepare(source, cache_root, metadata, limits, scratch, shown_as)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
