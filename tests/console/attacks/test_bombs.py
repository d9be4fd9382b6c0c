"""Tar header bombs uploaded by a logged-in operator: refused before tarfile reads the
header, in bounded memory, with a message that does not echo the name."""

from __future__ import annotations

import gzip
import io
import tarfile
import uuid
from collections.abc import Iterable
from pathlib import Path

import pytest

from vehicle.model.tar_headers import MAX_LONG_NAME_BYTES, MAX_PAX_BYTES

from ..conftest import bundle_tar
from .wire import Session, Target, peak_growth_mib, request

MiB = 1024 * 1024


def pax_record(keyword: bytes, size: int, fill: bytes = b"a") -> Iterable[bytes]:
    """One PAX record of exactly ``size`` bytes, streamed: ``"<size> <keyword>=<fill...>\\n"``."""
    head = b"%d %s=" % (size, keyword)
    remaining = size - len(head) - 1
    yield head
    block = fill * MiB
    while remaining > 0:
        yield block[: min(MiB, remaining)]
        remaining -= MiB
    yield b"\n"


def long_name(size: int) -> Iterable[bytes]:
    remaining = size - 1
    while remaining > 0:
        yield b"a" * min(MiB, remaining)
        remaining -= MiB
    yield b"\0"


def bomb(path: Path, kind: bytes, size: int, payload: Iterable[bytes]) -> Path:
    """A real bundle whose first entry is preceded by a ``kind`` header of ``size`` bytes."""
    header = tarfile.TarInfo("././@PaxHeader" if kind in b"xg" else "././@LongLink")
    header.type = kind
    header.size = size
    with gzip.open(path, "wb", compresslevel=6) as out:
        out.write(header.tobuf(format=tarfile.USTAR_FORMAT))
        for part in payload:
            out.write(part)
        out.write(b"\0" * (-size % 512))
        with tarfile.open(fileobj=io.BytesIO(gzip.decompress(bundle_tar()))) as bundle:
            for member in bundle:
                data = bundle.extractfile(member).read()
                out.write(member.tobuf(format=tarfile.USTAR_FORMAT))
                out.write(data + b"\0" * (-len(data) % 512))
        out.write(b"\0" * 1024)
    return path


def upload(target: Target, session: Session, archive: Path, filename: str = "bomb.tar.gz"):
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="{filename}"\r\nContent-Type: application/gzip\r\n\r\n'
        ).encode()
        + archive.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    headers = {**session.headers(), "Content-Type": f"multipart/form-data; boundary={boundary}"}
    return request(target, "POST", "/api/v1/models", headers, body)


BOMBS = {
    "PAX header 64 MiB": (b"x", 64 * MiB, lambda n: pax_record(b"path", n), "PAX header"),
    "global PAX 64 MiB": (b"g", 64 * MiB, lambda n: pax_record(b"comment", n), "PAX header"),
    "GNU long name 64 MiB": (b"L", 64 * MiB, long_name, "GNU long name"),
    "CVE-2024-6232 digits 64 KiB": (
        b"x",
        64 * 1024,
        lambda n: pax_record(b"comment", n, b"1"),
        "PAX header",
    ),
}


@pytest.mark.parametrize("kind, size, payload, what", BOMBS.values(), ids=BOMBS.keys())
def test_a_header_bomb_is_refused_in_bounded_memory(
    tmp_path: Path, target: Target, operator: Session, service, kind, size, payload, what
) -> None:
    archive = bomb(tmp_path / "bomb.tar.gz", kind, size, payload(size))
    assert archive.stat().st_size < 2 * MiB
    answer, growth = peak_growth_mib(lambda: upload(target, operator, archive))
    assert answer.status == 400, answer
    reason = answer.json_reason()
    assert what in reason and f"{size:,} bytes" in reason
    assert len(reason) < 200
    assert growth < 20, f"peak RSS grew {growth:.1f} MiB"
    assert service.list_models() == []


def test_digits_under_the_size_cap_are_refused_too(
    tmp_path: Path, target: Target, operator: Session, service
) -> None:
    """The quadratic regex needs a long run of digits, not a large header."""
    size = MAX_PAX_BYTES - 512
    archive = bomb(tmp_path / "digits.tar.gz", b"x", size, pax_record(b"comment", size, b"7"))
    answer = upload(target, operator, archive)
    assert answer.status == 400
    assert "run of more than" in answer.json_reason()
    assert service.list_models() == []


def test_a_long_name_within_the_cap_installs(tmp_path: Path, target, operator, service) -> None:
    """The caps leave room for real archives: a 4 KiB name (PATH_MAX) is fine."""
    archive = tmp_path / "ok.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        folder = "d" * 200 + "/" + "e" * 200 + "/"
        assert len(folder) + len("model_metadata.json") < MAX_LONG_NAME_BYTES
        with tarfile.open(fileobj=io.BytesIO(bundle_tar())) as bundle:
            for member in bundle:
                data = bundle.extractfile(member).read()
                member.name = folder + member.name
                tar.addfile(member, io.BytesIO(data))
    answer = upload(target, operator, archive, "ok.tar.gz")
    assert answer.status == 200, answer
    assert [m["name"] for m in service.list_models()] == ["ok"]
