"""Uploaded files, written to a private temp file: a client's file name never becomes a path."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import request
from werkzeug.datastructures import FileStorage

from webconsole.responses import InputError

FIELD = "file"  # DeepRacer's multipart field name


def uploaded_file() -> FileStorage:
    upload = request.files.get(FIELD)
    if upload is None or not upload.filename:
        raise InputError(f"no file uploaded: send it as the multipart field {FIELD!r}")
    return upload


@contextmanager
def saved_upload(upload: FileStorage, suffix: str = "") -> Iterator[Path]:
    """The upload in a fresh temp directory, removed afterwards whatever happens. ``suffix``
    says what the file must be (``.tar.gz``), so a corrupt one is reported as such."""
    with tempfile.TemporaryDirectory(prefix="vehicle-upload-") as tmp:
        path = Path(tmp) / f"upload{suffix}"
        upload.save(path)
        yield path
