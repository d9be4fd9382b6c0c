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
def saved_upload(upload: FileStorage) -> Iterator[Path]:
    """The upload in a fresh temp directory, removed afterwards whatever happens."""
    with tempfile.TemporaryDirectory(prefix="vehicle-upload-") as tmp:
        path = Path(tmp) / "upload"
        upload.save(path)
        yield path
