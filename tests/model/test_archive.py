"""Hostile archives are refused and leave nothing behind; DeepRacer-style ones extract."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from vehicle.core.metadata import ModelError
from vehicle.model.archive import extract_archive


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _archive(path: Path, build) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        build(tar)
    return path


def _entry(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def _leftovers(parent: Path) -> list[Path]:
    return list(parent.iterdir())


def test_deepracer_style_archive_with_a_subfolder(tmp_path, bundle, tar_bundle):
    archive = tar_bundle(tmp_path / "m.tar.gz", bundle, prefix="./my-model/")
    parent = tmp_path / "work"
    parent.mkdir()
    root = extract_archive(archive, parent)
    assert root.parent == parent.resolve()
    found = root / "my-model"
    assert (found / "model.onnx").read_bytes() == (bundle / "model.onnx").read_bytes()


HOSTILE = {
    "absolute path": (lambda t: add_bytes(t, "/etc/evil", b"x"), "absolute"),
    "dot-dot": (lambda t: add_bytes(t, "a/../../evil", b"x"), r"outside the archive \('\.\.'\)"),
    "backslash": (lambda t: add_bytes(t, "..\\evil", b"x"), "non-POSIX"),
    "symlink": (lambda t: t.addfile(_entry("link", tarfile.SYMTYPE, "/etc/passwd")), "is a link"),
    "hardlink": (lambda t: t.addfile(_entry("hard", tarfile.LNKTYPE, "/etc/passwd")), "is a link"),
    "char device": (lambda t: t.addfile(_entry("tty", tarfile.CHRTYPE)), "special file"),
    "block device": (lambda t: t.addfile(_entry("sda", tarfile.BLKTYPE)), "special file"),
    "fifo": (lambda t: t.addfile(_entry("pipe", tarfile.FIFOTYPE)), "special file"),
    "duplicate": (
        lambda t: (add_bytes(t, "model.onnx", b"a"), add_bytes(t, "./model.onnx", b"b")),
        "twice",
    ),
}


@pytest.mark.parametrize("build, reason", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_archive_is_refused_and_cleaned_up(tmp_path, build, reason):
    archive = _archive(tmp_path / "evil.tar.gz", build)
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(ModelError, match=reason):
        extract_archive(archive, parent)
    assert _leftovers(parent) == []
    assert not (tmp_path / "evil").exists()


def test_too_many_members(tmp_path):
    def build(tar):
        for i in range(6):
            add_bytes(tar, f"f{i}", b"x")

    archive = _archive(tmp_path / "many.tar.gz", build)
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(ModelError, match="more than 5 entries"):
        extract_archive(archive, parent, max_members=5)
    assert _leftovers(parent) == []
    assert extract_archive(archive, parent, max_members=6).is_dir()


def test_size_limit_counts_bytes_across_members(tmp_path):
    def build(tar):
        add_bytes(tar, "a", b"\0" * 600)
        add_bytes(tar, "b", b"\0" * 600)

    archive = _archive(tmp_path / "big.tar.gz", build)
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(ModelError, match="expands to more than"):
        extract_archive(archive, parent, max_bytes=1000)
    assert _leftovers(parent) == []


def test_sparse_member_expanding_past_the_limit(tmp_path):
    """10 stored bytes that expand to 100 MB: counting written bytes catches it."""
    archive = tmp_path / "sparse.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("sparse")
        info.size = 10
        info.pax_headers = {
            "GNU.sparse.size": str(100_000_000),
            "GNU.sparse.map": "99999990,10",
            "GNU.sparse.numblocks": "1",
            "GNU.sparse.name": "sparse",
        }
        tar.addfile(info, io.BytesIO(b"x" * 10))
    assert archive.stat().st_size < 4096
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(ModelError, match="more than 1 MiB"):
        extract_archive(archive, parent, max_bytes=1024 * 1024)
    assert _leftovers(parent) == []


def test_compression_bomb_stops_at_the_limit(tmp_path):
    def build(tar):
        add_bytes(tar, "zeros", b"\0" * (8 * 1024 * 1024))

    archive = _archive(tmp_path / "bomb.tar.gz", build)
    assert archive.stat().st_size < 64 * 1024
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(ModelError, match="more than 1 MiB"):
        extract_archive(archive, parent, max_bytes=1024 * 1024)
    assert _leftovers(parent) == []


@pytest.mark.parametrize(
    "content", [b"", b"not an archive at all", gzip.compress(b"gzip but not tar" * 40)[:-8]]
)
def test_corrupt_archive(tmp_path, content):
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(content)
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(ModelError, match=r"not a readable \.tar\.gz"):
        extract_archive(archive, parent)
    assert _leftovers(parent) == []


def test_truncated_archive(tmp_path, bundle, tar_bundle):
    good = tar_bundle(tmp_path / "m.tar.gz", bundle).read_bytes()
    archive = tmp_path / "cut.tar.gz"
    archive.write_bytes(good[: len(good) // 2])
    parent = tmp_path / "work"
    parent.mkdir()
    with pytest.raises(ModelError, match="not a readable"):
        extract_archive(archive, parent)
    assert _leftovers(parent) == []
