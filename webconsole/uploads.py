"""Uploaded files, streamed to the data disk as they arrive (never to a RAM-backed /tmp): a
client's file name never becomes a path, and a model upload starts only if the disk can
hold it and what it may expand to. How many run at once is the front's upload lane.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from flask import Request, request
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import HTTPException

from vehicle.model.archive import MAX_TOTAL_BYTES
from webconsole.context import console
from webconsole.responses import InputError

FIELD = "file"  # DeepRacer's multipart field name
SPOOL_PREFIX = ".upload-"
DISK_RESERVE_BYTES = 64 * 1024 * 1024  # left free for calibration, settings and logs


class InsufficientStorage(HTTPException):
    code = 507
    description = "not enough free disk space for this upload"


class UploadingRequest(Request):
    """Werkzeug spools a file part to a file of our choosing: the upload directory."""

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return tempfile.NamedTemporaryFile(  # werkzeug closes it
            "wb+", dir=console().upload_dir, prefix=SPOOL_PREFIX, suffix=".part"
        )


def clear_spool(directory: Path) -> None:
    """Remove uploads a crash left behind (a finished upload never stays here)."""
    for leftover in Path(directory).glob(f"{SPOOL_PREFIX}*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def require_disk_room(expands_to: int = MAX_TOTAL_BYTES) -> None:
    """507 unless the disk takes this upload and its extraction, with a reserve to spare."""
    directory = console().upload_dir or Path(tempfile.gettempdir())
    declared = request.content_length or console().settings.max_upload_bytes
    needed = declared + expands_to + DISK_RESERVE_BYTES
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise InsufficientStorage(
            f"not enough free disk space for this upload: {free // 2**20} MiB free, "
            f"{needed // 2**20} MiB needed"
        )


def uploaded_file() -> FileStorage:
    upload = request.files.get(FIELD)
    if upload is None or not upload.filename:
        raise InputError(f"no file uploaded: send it as the multipart field {FIELD!r}")
    return upload


@contextmanager
def saved_upload(upload: FileStorage, suffix: str = "") -> Iterator[Path]:
    """The upload as ``upload<suffix>`` in a fresh directory beside the spooled file,
    removed afterwards whatever happens. ``suffix`` says what the file must be
    (``.tar.gz``), so a corrupt one is reported as such. Linked, not copied, when it can."""
    with tempfile.TemporaryDirectory(prefix=SPOOL_PREFIX, dir=console().upload_dir) as tmp:
        path = Path(tmp) / f"upload{suffix}"
        if not _link(upload.stream, path):
            upload.save(path)
        yield path


def _link(stream: Any, path: Path) -> bool:
    name = getattr(stream, "name", None)
    if not isinstance(name, str):
        return False
    try:
        stream.flush()
        os.link(name, path)
    except OSError:
        return False
    return True
