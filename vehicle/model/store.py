"""The models directory: install, list and delete bundles, each change atomic.

An install is validated completely (metadata, ONNX checker, an onnxruntime session, a test
frame) in a staging folder inside the models directory, then renamed into place. Replacing
a model of the same name exchanges the two folders in one step where the kernel allows
(``renameat2(RENAME_EXCHANGE)``), so a reader sees the old bundle or the new, and a failed
install leaves the old one untouched.
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
from dataclasses import dataclass
from pathlib import Path

from vehicle.atomic import fsync_dir
from vehicle.core.metadata import (
    METADATA_FILE,
    ActionSpace,
    ModelError,
    load_metadata,
    one_line,
)
from vehicle.model.archive import ONNX_FILE, extract_archive, find_bundle_root
from vehicle.model.bundle import is_archive, load_directory, strip_archive_suffix

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_STAGING_PREFIXES = (".install-", ".delete-")
_STALE_STAGING_S = 3600.0  # staging older than this is a crashed install's leftover


@dataclass(frozen=True)
class ModelInfo:
    name: str
    action_space_type: str | None  # "discrete" | "continuous"; None when unreadable
    action_count: int | None  # discrete actions; None for continuous or unreadable
    size_bytes: int
    mtime: float
    error: str | None  # why the bundle cannot be used, or None
    bundled: bool = False  # shipped or given with --model: not in the store, never deleted


def describe_bundle(
    name: str, path: Path, space: ActionSpace | None, error: str | None = None
) -> ModelInfo:
    """A bundle's listing: its action space, and the size and time of its folder (every file
    in it) or of its archive."""
    path = Path(path)
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    size = sum(f.stat().st_size for f in files)
    count = space.n_outputs if space is not None and space.type == "discrete" else None
    kind = space.type if space is not None else None
    return ModelInfo(name, kind, count, size, path.stat().st_mtime, error)


def validate_name(name: object) -> str:
    """A model name is also a folder name: letters, digits, '.', '_', '-', no traversal."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ModelError(
            f"invalid model name {name!r}: use up to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
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


def _copy_durably(source: Path, target: Path) -> None:
    try:
        shutil.copyfile(source, target)
    except OSError as exc:
        raise ModelError(f"cannot read {source.name}: {one_line(exc)}") from exc
    with open(target, "rb") as f:
        os.fsync(f.fileno())


class ModelStore:
    """Bundles under ``models_dir/<name>/{model.onnx, model_metadata.json}``."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = Path(models_dir)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()  # one rename sequence at a time per store
        self._remove_stale_staging()

    def path(self, name: str) -> Path:
        """The folder of an installed model."""
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
        """Install from a bundle folder, an archive, or a model.onnx (metadata beside it or
        given). Returns the model's name; raises ``ModelError`` with nothing changed."""
        source = Path(source)
        name = validate_name(name if name is not None else self._default_name(source))
        staging = Path(tempfile.mkdtemp(prefix=_STAGING_PREFIXES[0], dir=self.models_dir))
        try:
            bundle = staging / "bundle"
            bundle.mkdir()
            for source_file, name_in_bundle in zip(
                self._source_files(source, metadata, staging),
                (ONNX_FILE, METADATA_FILE),
                strict=True,
            ):
                _copy_durably(source_file, bundle / name_in_bundle)
            fsync_dir(bundle)
            load_directory(bundle, name)  # the full validation; the session is dropped
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

    @staticmethod
    def _default_name(source: Path) -> str:
        if source.is_file() and not is_archive(source):
            return source.resolve().parent.name  # a loose model.onnx: its folder's name
        return strip_archive_suffix(source.resolve().name)

    @staticmethod
    def _source_files(source: Path, metadata: Path | None, staging: Path) -> tuple[Path, Path]:
        if source.is_dir():
            root = find_bundle_root(source)
        elif source.is_file() and is_archive(source):
            root = find_bundle_root(extract_archive(source, staging))
        elif source.is_file():
            return source, Path(metadata) if metadata else source.parent / METADATA_FILE
        else:
            raise ModelError(f"no such model file or folder: {source}")
        return root / ONNX_FILE, root / METADATA_FILE

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
        try:
            space = load_metadata(folder / METADATA_FILE).action_space
        except ModelError as exc:
            return describe_bundle(folder.name, folder, None, one_line(exc))
        error = None if (folder / ONNX_FILE).is_file() else f"{ONNX_FILE} is missing"
        return describe_bundle(folder.name, folder, space, error)

    def _remove_stale_staging(self) -> None:
        cutoff = time.time() - _STALE_STAGING_S
        for entry in self.models_dir.iterdir():
            if entry.name.startswith(_STAGING_PREFIXES) and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
