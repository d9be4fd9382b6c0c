"""Model uploads: one at a time, only when the disk can take it, spooled to the data disk
and gone afterwards."""

from __future__ import annotations

import shutil
import time
import uuid
from collections import namedtuple

from vehicle.config import Settings

from ..conftest import bundle_tar
from .wire import Session, Target, head_bytes, read_response, request

Usage = namedtuple("Usage", "total used free")


def multipart(data: bytes, filename: str = "m.tar.gz") -> tuple[str, bytes]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
            "\r\nContent-Type: application/gzip\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return f"multipart/form-data; boundary={boundary}", body


def test_a_second_upload_waits_its_turn(target: Target, operator: Session, service) -> None:
    kind, body = multipart(bundle_tar())
    headers = {**operator.headers(), "Content-Type": kind, "Content-Length": str(len(body))}
    with target.connect() as first:
        first.sendall(head_bytes("POST", "/api/v1/models", headers) + body[:1000])
        time.sleep(0.3)  # the first upload holds the only upload slot, mid-body
        second = request(target, "POST", "/api/uploadModels", headers, body)
        assert second.status == 503
        assert "another model upload" in second.json_reason()
        first.sendall(body[1000:])
        assert read_response(first).status == 200
    assert [m["name"] for m in service.list_models()] == ["m"]
    kind, body = multipart(bundle_tar(), "n.tar.gz")
    again = request(
        target, "POST", "/api/v1/models", {**operator.headers(), "Content-Type": kind}, body
    )
    assert again.status == 200  # the slot is free again


def test_an_upload_the_disk_cannot_hold_is_refused_unread(
    target: Target, operator: Session, settings: Settings, monkeypatch
) -> None:
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 10**6, 10**6))
    kind, body = multipart(bundle_tar())
    headers = {**operator.headers(), "Content-Type": kind}
    answer = request(target, "POST", "/api/v1/models", headers, body)
    assert answer.status == 507
    assert "not enough free disk space" in answer.json_reason()


def test_an_upload_is_spooled_to_the_data_disk_and_removed(
    target: Target, operator: Session, settings: Settings
) -> None:
    kind, body = multipart(bundle_tar())
    headers = {**operator.headers(), "Content-Type": kind, "Content-Length": str(len(body))}
    with target.connect() as sock:
        sock.sendall(head_bytes("POST", "/api/v1/models", headers) + body[:-1000])
        time.sleep(0.3)
        spooled = [p.name for p in settings.uploads_dir.iterdir()]
        sock.sendall(body[-1000:])
        assert read_response(sock).status == 200
    assert len(spooled) == 1 and spooled[0].startswith(".upload-"), spooled
    assert list(settings.uploads_dir.iterdir()) == []
