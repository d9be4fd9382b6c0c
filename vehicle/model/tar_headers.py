"""A first pass over an uploaded tar stream that reads every header before tarfile does.

tarfile reads a PAX header or a GNU long name whole into memory, whatever size its header
claims (a 1.7 MB upload held a 1 GiB PAX header), and before Python 3.11.10 / 3.12.6 it
parses PAX headers with a regex that is quadratic in their length (CVE-2024-6232: 64 KiB
takes 9 s of CPU on 3.11.7). This pass walks the same 512-byte blocks tarfile would, with
the same framing rules, and refuses before tarfile sees them: headers larger than a real
archive ever needs, malformed PAX records, long runs of digits (what the regex chokes on),
too many entries and more file data than allowed. Memory stays at one header.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import struct
from pathlib import Path
from typing import BinaryIO

from vehicle.core.metadata import ModelError

BLOCK = 512
MAX_PAX_BYTES = 8 * 1024  # path, mtime, uid... a real one is under 1 KiB
MAX_LONG_NAME_BYTES = 4096  # PATH_MAX
MAX_DIGIT_RUN = 32  # mtime with nanoseconds is 20 digits
MAX_HEADERS_PER_ENTRY = 4  # e.g. PAX + GNU long name + GNU long link + the entry
REGULAR = (b"0", b"\0", b"7")
KNOWN = (*REGULAR, b"1", b"2", b"3", b"4", b"5", b"6")  # tarfile's SUPPORTED_TYPES
PAX = {b"x": "PAX header", b"X": "PAX header", b"g": "global PAX header"}
LONG_NAMES = {b"L": "GNU long name", b"K": "GNU long link name"}
_SKIP_CHUNK = 1024 * 1024
_DIGIT_RUN = re.compile(rb"\d{%d}" % (MAX_DIGIT_RUN + 1))
_MAGIC = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))


def check_tar_headers(archive: Path, max_members: int, max_bytes: int) -> None:
    """Raise ``ModelError`` unless every header of ``archive`` (.tar, .tar.gz, .tar.bz2,
    .tar.xz, as tarfile's ``r|*`` reads them) is within the limits."""
    with _open_decompressed(Path(archive)) as stream:
        _walk(stream, max_members, max_bytes)


def _open_decompressed(archive: Path) -> BinaryIO:
    with archive.open("rb") as probe:
        magic = probe.read(6)
    for prefix, opener in _MAGIC:
        if magic.startswith(prefix):
            return opener(archive, "rb")  # type: ignore[return-value]
    return archive.open("rb")


def _walk(stream: BinaryIO, max_members: int, max_bytes: int) -> None:
    members = headers = data_bytes = 0
    size_override: int | None = None
    pax_seen = False
    while True:
        block = stream.read(BLOCK)
        if len(block) < BLOCK or block.count(0) == BLOCK or not _checksum_ok(block):
            return  # where tarfile stops too (end, truncation or a header it rejects)
        headers += 1
        if headers > MAX_HEADERS_PER_ENTRY * max_members:
            raise ModelError(f"archive has more than {max_members} entries")
        kind = block[156:157]
        size = _number(block[124:136])
        if kind in PAX or kind in LONG_NAMES:
            payload = _read_meta(stream, kind, size)
            if kind in PAX:
                if pax_seen:
                    raise ModelError("archive has two PAX headers for one entry")
                pax_seen = pax_seen or kind != b"g"
                found = _pax_size(payload, global_header=kind == b"g")
                size_override = size_override if found is None else found
            continue
        if kind not in KNOWN:
            raise ModelError(
                f"archive has an entry of type {kind!r} (sparse, multi-volume or unknown); "
                "only plain files and folders are allowed"
            )
        members += 1
        if members > max_members:
            raise ModelError(f"archive has more than {max_members} entries")
        if size_override is not None:
            size, size_override = size_override, None
        pax_seen = False
        if kind in REGULAR and not (kind == b"\0" and _name_field(block).endswith(b"/")):
            data_bytes += size
            if data_bytes > max_bytes:
                raise ModelError(f"archive expands to more than {max_bytes // 2**20} MiB")
            _skip(stream, _padded(size))


def _read_meta(stream: BinaryIO, kind: bytes, size: int) -> bytes:
    what, limit = (
        (PAX[kind], MAX_PAX_BYTES) if kind in PAX else (LONG_NAMES[kind], MAX_LONG_NAME_BYTES)
    )
    if size > limit:
        raise ModelError(f"archive has a {what} of {size:,} bytes; at most {limit:,} allowed")
    payload = stream.read(_padded(size))[:size]
    if len(payload) < size:
        raise ModelError(f"archive ends inside a {what}")
    if _DIGIT_RUN.search(payload):
        raise ModelError(f"archive has a {what} with a run of more than {MAX_DIGIT_RUN} digits")
    return payload


def _pax_size(payload: bytes, *, global_header: bool) -> int | None:
    """Check the records (``"<length> <keyword>=<value>\\n"``, lengths exact) and return
    the ``size`` one, which replaces the next entry's size as tarfile applies it."""
    size = None
    pos = 0
    while pos < len(payload) and payload[pos] != 0:
        space = payload.find(b" ", pos, pos + MAX_DIGIT_RUN + 1)
        digits = payload[pos:space] if space > pos else b""
        if not digits.isdigit():
            raise ModelError("archive has a malformed PAX header")
        end = pos + int(digits)
        if end > len(payload) or end <= space + 1 or payload[end - 1 : end] != b"\n":
            raise ModelError("archive has a malformed PAX header")
        keyword, equals, value = payload[space + 1 : end - 1].partition(b"=")
        if not equals or not keyword:
            raise ModelError("archive has a malformed PAX header")
        if keyword == b"size":
            if global_header or not value.isdigit():
                raise ModelError("archive has a PAX size record that tarfile would misread")
            size = int(value)
        pos = end
    return size


def _checksum_ok(block: bytes) -> bool:
    try:
        stored = _number(block[148:156])
    except ModelError:
        return False
    unsigned = 256 + sum(struct.unpack_from("148B8x356B", block))
    signed = 256 + sum(struct.unpack_from("148b8x356b", block))
    return stored in (unsigned, signed)


def _number(field: bytes) -> int:
    """A numeric header field: octal text, or base-256 with the top bit set."""
    if field[0] == 0o200:
        return int.from_bytes(field[1:], "big")
    if field[0] == 0o377:
        raise ModelError("archive has a header with a negative number")
    text = field.split(b"\0", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise ModelError("archive has a header with a malformed number") from None


def _name_field(block: bytes) -> bytes:
    return block[:100].split(b"\0", 1)[0]


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK


def _skip(stream: BinaryIO, count: int) -> None:
    while count > 0:
        chunk = stream.read(min(count, _SKIP_CHUNK))
        if not chunk:
            return  # truncated: tarfile reports it
        count -= len(chunk)
