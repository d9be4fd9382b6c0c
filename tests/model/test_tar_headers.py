"""The first pass over a tar stream: real archives pass as tarfile reads them, oversized or
malformed headers are refused before tarfile sees them."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from vehicle.core.metadata import ModelError
from vehicle.model.archive import extract_archive
from vehicle.model.tar_headers import MAX_LONG_NAME_BYTES, MAX_PAX_BYTES, check_tar_headers


def entry(name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE, **pax: str):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.pax_headers = pax
    return info, io.BytesIO(data) if data else None


def archive(path: Path, entries, fmt: int = tarfile.PAX_FORMAT, mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode, format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, data)
    return path


def raw_archive(path: Path, *blocks: bytes) -> Path:
    """An uncompressed tar from hand-made blocks (each padded to 512), ended properly."""
    body = b"".join(block + b"\0" * (-len(block) % 512) for block in blocks)
    path.write_bytes(body + b"\0" * 1024)
    return path


def header(kind: bytes, size: int, name: str = "././@PaxHeader") -> bytes:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    return info.tobuf(format=tarfile.USTAR_FORMAT)


REAL = {  # fresh entries per test: their data streams are read once
    "pax, long and non-ASCII names": (
        tarfile.PAX_FORMAT,
        lambda: [
            entry("d/" + "é" * 120 + "/model.onnx", b"onnx" * 300),
            entry("dir/", kind=tarfile.DIRTYPE),
        ],
    ),
    "gnu long name and link": (
        tarfile.GNU_FORMAT,
        lambda: [entry("n" * 300, b"x" * 700), entry("l" * 10, kind=tarfile.SYMTYPE)],
    ),
    "ustar": (tarfile.USTAR_FORMAT, lambda: [entry("a/b", b"1"), entry("c", b"")]),
    "pax with xattrs": (
        tarfile.PAX_FORMAT,
        lambda: [entry("f", b"z" * 10, **{"SCHILY.xattr.user.a": "b"})],
    ),
}


@pytest.mark.parametrize("fmt, entries", REAL.values(), ids=REAL.keys())
@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz", "w"])
def test_real_archives_pass(tmp_path: Path, fmt: int, entries, mode: str) -> None:
    path = archive(tmp_path / "a.tar", entries(), fmt, mode)
    check_tar_headers(path, max_members=10, max_bytes=1 << 20)


def test_a_pax_size_record_is_followed_as_tarfile_follows_it(tmp_path: Path) -> None:
    """The header says 0 bytes, the PAX record 600: the data is 600 bytes, then 'second'."""
    pax = b"12 size=600\n"
    second = header(tarfile.REGTYPE, 3, "second")
    path = raw_archive(
        tmp_path / "s.tar",
        header(b"x", len(pax)),
        pax,
        header(b"0", 0, "first"),
        b"y" * 600,
        second,
        b"abc",
    )
    check_tar_headers(path, max_members=2, max_bytes=603)
    with pytest.raises(ModelError, match="more than 1 entries"):
        check_tar_headers(path, max_members=1, max_bytes=1 << 20)
    with pytest.raises(ModelError, match="expands to more than"):
        check_tar_headers(path, max_members=2, max_bytes=602)
    with tarfile.open(path) as tar:
        assert [(m.name, m.size) for m in tar] == [("first", 600), ("second", 3)]


def patched(block: bytes, offset: int, value: bytes) -> bytes:
    """``block`` with ``value`` written at ``offset`` and its checksum made right again."""
    block = block[:offset] + value + block[offset + len(value) :]
    unsigned = 256 + sum(block[:148]) + sum(block[156:])
    return block[:148] + b"%06o\0 " % unsigned + block[156:]


def test_a_header_tarfile_rejects_ends_the_pass_where_tarfile_ends(tmp_path: Path) -> None:
    """After a header with a wrong checksum tarfile reads no further, so a bomb beyond it
    is never parsed: the pass stops there too rather than guess at the framing."""
    broken = header(b"0", 0, "broken")[:148] + b"0000000\0" + header(b"0", 0, "broken")[156:]
    path = raw_archive(
        tmp_path / "b.tar", header(b"0", 1, "first"), b"1", broken, header(b"x", 1 << 30)
    )
    check_tar_headers(path, max_members=10, max_bytes=1 << 20)
    with tarfile.open(path) as tar:
        assert [m.name for m in tar] == ["first"]


HOSTILE = {
    "PAX over the cap": ((header(b"x", MAX_PAX_BYTES + 1), b"0" * 10), "PAX header of 8,193"),
    "long name over the cap": (
        (header(b"L", MAX_LONG_NAME_BYTES + 1, "././@LongLink"),),
        "GNU long name of 4,097",
    ),
    "long link over the cap": ((header(b"K", 1 << 30, "././@LongLink"),), "GNU long link name"),
    "digit run": ((header(b"x", 50), b"50 comment=" + b"1" * 38 + b"\n"), "run of more than"),
    "length does not match": ((header(b"x", 20), b"30 path=abcdefghijk\n"), "malformed PAX"),
    "no equals sign": ((header(b"x", 12), b"12 pathabcd\n"), "malformed PAX"),
    "no length": ((header(b"x", 12), b"abcdefghijk\n"), "malformed PAX"),
    "size in a global header": ((header(b"g", 12), b"12 size=600\n"), "PAX size record"),
    "size not a number": ((header(b"x", 12), b"12 size=abc\n"), "PAX size record"),
    "two PAX headers": (
        (header(b"x", 12), b"12 path=abc\n", header(b"x", 12), b"12 path=def\n"),
        "two PAX headers",
    ),
    "GNU sparse": ((header(b"S", 0, "sparse"),), "sparse"),
    "negative size": ((patched(header(b"0", 0, "neg"), 124, b"\xff" * 12),), "negative"),
    "size not octal": ((patched(header(b"0", 0, "bad"), 124, b"99999999999\0"),), "malformed"),
}


@pytest.mark.parametrize("blocks, reason", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_headers_are_refused(tmp_path: Path, blocks, reason: str) -> None:
    path = raw_archive(tmp_path / "h.tar", *blocks, header(b"0", 0, "after"))
    with pytest.raises(ModelError, match=reason):
        check_tar_headers(path, max_members=10, max_bytes=1 << 20)


def test_a_refused_archive_extracts_nothing_and_shows_a_short_name(tmp_path: Path) -> None:
    name = "a" * 3000 + "/../../evil"
    path = archive(tmp_path / "n.tar.gz", [entry(name, b"x")], tarfile.GNU_FORMAT)
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(ModelError) as refused:
        extract_archive(path, parent)
    assert "outside the archive" in str(refused.value)
    assert len(str(refused.value)) < 250
    assert list(parent.iterdir()) == []
