"""Safe extraction of uploaded model archives (``.tar.gz``).

An upload comes from the network, so the archive is hostile until proven otherwise:
only plain files and directories, only relative paths that stay inside the target, a
bounded number of members and a bounded number of bytes, counted as they are written (a
header's size field is not trusted). DeepRacer's console had tar-slip here; we do not.
"""

from __future__ import annotations

import lzma
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from vehicle.core.metadata import ModelError, one_line
from vehicle.model.tar_headers import check_tar_headers

MAX_MEMBERS = 1000
MAX_TOTAL_BYTES = 512 * 1024 * 1024  # a DeepRacer "deep" network is ~100 MB of weights
_CHUNK = 1024 * 1024
_SHOWN_CHARS = 100  # of an entry's name in a message (a name can be 4 KiB)


def _shown(name: str) -> str:
    """An entry's name for an error message: never the whole of a hostile one."""
    text = repr(name)
    return text if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]}... ({len(name)} chars)"


def _member_path(name: str) -> PurePosixPath | None:
    """The member's relative path, or None for the archive's root entry ('.', './')."""
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("\\") or "\\" in name:
        raise ModelError(f"archive entry {_shown(name)} has an absolute or non-POSIX path")
    if ".." in path.parts:
        raise ModelError(f"archive entry {_shown(name)} points outside the archive ('..')")
    parts = [p for p in path.parts if p != "."]
    return PurePosixPath(*parts) if parts else None


def _write_member(source, target: Path, written: int, max_bytes: int) -> int:
    """Copy one file's data, counting real bytes against the archive's total."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        fd = os.open(target, flags, 0o644)
    except FileExistsError as exc:
        raise ModelError(f"archive has the entry {_shown(target.name)} twice") from exc
    with os.fdopen(fd, "wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise ModelError(f"archive expands to more than {max_bytes // 2**20} MiB")
            out.write(chunk)
    return written


def _extract_into(archive: Path, root: Path, max_members: int, max_bytes: int) -> None:
    written = 0
    # Stream mode reads member by member, so limits apply before the whole index is read.
    with tarfile.open(archive, mode="r|*") as tar:
        for count, member in enumerate(tar, start=1):
            if count > max_members:
                raise ModelError(f"archive has more than {max_members} entries")
            relative = _member_path(member.name)
            if not (member.isfile() or member.isdir()):
                kind = "link" if member.issym() or member.islnk() else "special file"
                raise ModelError(
                    f"archive entry {_shown(member.name)} is a {kind}; only files allowed"
                )
            if relative is None:
                continue
            target = root.joinpath(*relative.parts)
            if os.path.commonpath([root, os.path.abspath(target)]) != str(root):
                raise ModelError(f"archive entry {_shown(member.name)} points outside the archive")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:  # pragma: no cover - isfile() members always have data
                raise ModelError(f"archive entry {_shown(member.name)} has no data")
            written = _write_member(source, target, written, max_bytes)


def extract_archive(
    archive: Path,
    parent: Path | None = None,
    *,
    max_members: int = MAX_MEMBERS,
    max_bytes: int = MAX_TOTAL_BYTES,
) -> Path:
    """Extract ``archive`` into a fresh temporary directory (under ``parent``) and return it.

    Every header is checked first (tar_headers), so tarfile never parses an oversized one.
    The caller owns the returned directory. On any failure it is removed and ``ModelError``
    says why.
    """
    root = Path(tempfile.mkdtemp(prefix=".extract-", dir=parent)).resolve()
    try:
        check_tar_headers(Path(archive), max_members, max_bytes)
        _extract_into(Path(archive), root, max_members, max_bytes)
    except BaseException as exc:
        shutil.rmtree(root, ignore_errors=True)
        if isinstance(exc, tarfile.TarError | EOFError | zlib.error | lzma.LZMAError | OSError):
            reason = one_line(exc)[:200]
            raise ModelError(f"not a readable .tar.gz model archive: {reason}") from exc
        raise
    return root
