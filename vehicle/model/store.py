"""The models directory: install, list and delete models, each change atomic.

Each installed model is a prepared bundle (``vehicle.model.prepare``), the folder the drive
process opens with ``open_prepared(store.path(name))``:

    models/<name>/prepared.json, model_metadata.json, model.xml + model.bin | model.onnx,
                  source/ (the original's files that were used)

An install prepares the upload in the worker process (``vehicle.model.worker``; bounded in
time and memory) into the store's cache, ``models/.prepared/<sha256>``, then links the
bundle into a staging folder and renames it into place. Replacing a model of the same name
exchanges the two folders in one step where the kernel allows
(``renameat2(RENAME_EXCHANGE)``), so a reader sees the old bundle or the new, and a failed
install leaves the old one and the list untouched. Uploading the same file again is a cache
hit: no conversion.
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vehicle.atomic import fsync_dir
from vehicle.config import ModelSettings
from vehicle.core.metadata import (
    METADATA_FILE,
    ModelError,
    ModelMetadata,
    load_metadata,
    one_line,
)
from vehicle.core.prepared import PREPARED_FILE, read_stamp
from vehicle.model.bundle import model_name
from vehicle.model.prepare import prune_cache
from vehicle.model.worker import PreparedModel, prepare_in_worker

# A model's name is its folder's: kept as racers name their files ("My model (1)"), but one
# path component, no hidden or staging folder, no control or shell-special characters.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9 ._()+,=@~-]{0,98}[A-Za-z0-9._()+,=@~-])?")
_STAGING_PREFIXES = (".install-", ".delete-")
CACHE_DIR = ".prepared"  # a dot: never a model name
_STALE_STAGING_S = 3600.0  # staging older than this is a crashed install's leftover


@dataclass(frozen=True)
class ModelInfo:
    name: str
    state: str  # "ready" | "error"
    format: str | None  # what was uploaded: onnx | tensorflow | tflite | openvino-ir
    engine: str | None  # what runs it: onnxruntime | openvino
    sha256: str | None  # of the original as uploaded
    action_space_type: str | None  # "discrete" | "continuous"; None when unreadable
    action_count: int | None  # discrete actions; None for continuous or unreadable
    size_bytes: int
    mtime: float
    error: str | None  # why the model cannot be used (state "error"), or None
    bundled: bool = False  # shipped or given with --model: not in the store, never deleted
    training_algorithm: str | None = None  # the metadata's, as trained (clipped_ppo | sac)
    sensors: tuple[str, ...] = ()  # the metadata's sensor list


def describe_bundle(
    name: str, path: Path, metadata: ModelMetadata | None, error: str | None = None
) -> ModelInfo:
    """A model's listing: what it was prepared from and for (when it is a prepared bundle),
    its action space, and the size and time of its folder (every file in it) or archive."""
    path = Path(path)
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    space = metadata.action_space if metadata is not None else None
    stamp, source_format, engine = None, None, None
    if path.is_dir() and (path / PREPARED_FILE).exists():
        try:
            stamp = read_stamp(path)
            source_format, engine = stamp.source.format, stamp.engine
        except ModelError as exc:
            error = error or one_line(exc)
    elif path.is_dir() and (path / "model.onnx").is_file():
        source_format, engine = "onnx", "onnxruntime"  # the shipped bundle, opened as it is
    return ModelInfo(
        name=name,
        state="error" if error else "ready",
        format=source_format,
        engine=engine,
        sha256=stamp.source.sha256 if stamp else None,
        action_space_type=space.type if space is not None else None,
        action_count=space.n_outputs if space is not None and space.type == "discrete" else None,
        size_bytes=sum(f.stat().st_size for f in files),
        mtime=path.stat().st_mtime,
        error=error,
        training_algorithm=metadata.training_algorithm if metadata is not None else None,
        sensors=metadata.sensors if metadata is not None else (),
    )


def validate_name(name: object) -> str:
    """A model name is also a folder name: one path component, never hidden, no traversal."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ModelError(
            f"invalid model name {name!r}: use up to 100 letters, digits, spaces and "
            "._()+,=@~- starting with a letter, digit or '_' and not ending with a space"
        )
    return name


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directory entries atomically; False where the kernel or libc cannot."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _link_tree(source: Path, target: Path) -> None:
    """``target`` becomes a copy of ``source`` made of hard links where the filesystem
    allows (the bundle's bytes are shared with the cache, not written twice)."""
    for path in sorted(source.rglob("*")):
        copy = target / path.relative_to(source)
        if path.is_dir():
            copy.mkdir(parents=True, exist_ok=True)
            continue
        copy.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, copy)
        except OSError:
            shutil.copy2(path, copy)
    for folder in (target, *(p for p in target.rglob("*") if p.is_dir())):
        fsync_dir(folder)


class ModelStore:
    """Prepared bundles under ``models_dir/<name>/``, and the preparation cache beside them."""

    def __init__(
        self,
        models_dir: Path,
        limits: ModelSettings | None = None,
        *,
        prepare: Callable[..., PreparedModel] = prepare_in_worker,
    ) -> None:
        """``prepare`` is the worker; tests of the store's own logic may pass
        ``vehicle.model.prepare.prepare`` (the same work, in their process)."""
        self.models_dir = Path(models_dir)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self.limits = limits or ModelSettings()
        self._prepare = prepare
        self.cache_dir = self.models_dir / CACHE_DIR
        self._lock = threading.Lock()  # one rename sequence at a time per store
        self._remove_stale_staging()

    def path(self, name: str) -> Path:
        """The prepared bundle of an installed model: what ``open_prepared`` opens."""
        target = self.models_dir / validate_name(name)
        if not target.is_dir():
            raise ModelError(f"no model named {name!r}")
        return target

    def list(self) -> list[ModelInfo]:
        """Every installed model, with a reason instead of an exception for broken ones."""
        infos = []
        for entry in sorted(self.models_dir.iterdir()):
            if entry.is_dir() and NAME_PATTERN.fullmatch(entry.name):
                try:
                    infos.append(self._info(entry))
                except FileNotFoundError:
                    continue  # deleted while we looked
        return infos

    def install(
        self, source: Path, name: str | None = None, *, metadata: Path | None = None
    ) -> str:
        """Install anything the car accepts (folder, archive, or network file with its
        metadata beside it or given). Returns the model's name; raises ``ModelError`` with
        nothing changed."""
        source = Path(source)
        if not source.exists():
            raise ModelError(f"no such model file or folder: {source}")
        name = validate_name(name if name is not None else model_name(source))
        prepared = self._prepare(source, self.cache_dir, metadata=metadata, limits=self.limits)
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIXES[0], dir=self.models_dir))
        try:
            bundle = staging / "bundle"
            _link_tree(prepared.directory, bundle)
            read_stamp(bundle)  # the copy is complete (every file at its recorded size)
            with self._lock:
                self._put_in_place(bundle, self.models_dir / name, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return name

    def delete(self, name: str) -> None:
        target = self.path(name)
        trash = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIXES[1], dir=self.models_dir))
        try:
            with self._lock:
                os.rename(target, trash / "bundle")
                fsync_dir(self.models_dir)
        finally:
            shutil.rmtree(trash, ignore_errors=True)

    def _put_in_place(self, bundle: Path, target: Path, staging: Path) -> None:
        if not target.exists():
            os.rename(bundle, target)
        elif not _exchange(bundle, target):
            # No atomic exchange here: move the old one aside, and back if the new one fails.
            old = staging / "old"
            os.rename(target, old)
            try:
                os.rename(bundle, target)
            except OSError:
                os.rename(old, target)
                raise
        fsync_dir(self.models_dir)

    def _info(self, folder: Path) -> ModelInfo:
        problem = None
        if not (folder / PREPARED_FILE).exists():
            problem = f"not a prepared model (no {PREPARED_FILE})"
            if (folder / "model.onnx").is_file():
                problem = "installed by an older version (not prepared); install it again"
        try:
            metadata = load_metadata(folder / METADATA_FILE)
        except ModelError as exc:
            metadata, problem = None, problem or one_line(exc)
        return describe_bundle(folder.name, folder, metadata, problem)

    def _remove_stale_staging(self) -> None:
        cutoff = time.time() - _STALE_STAGING_S
        for entry in self.models_dir.iterdir():
            if entry.name.startswith(_STAGING_PREFIXES) and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        if self.cache_dir.is_dir():
            prune_cache(self.cache_dir, self.limits.cache_entries)
