"""Atomic replacement: old or new content, and no litter from writers that died."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from vehicle.atomic import atomic_write_bytes, atomic_write_json


def test_replaces_content_and_mode(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "settings.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_bytes(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert (target.stat().st_mode & 0o777) == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["settings.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "cal.json"
    atomic_write_json(target, {"ok": True})
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert json.loads(target.read_text()) == {"ok": True}
    assert [p.name for p in tmp_path.iterdir()] == ["cal.json"]


def test_stale_temps_of_killed_writers_are_removed_fresh_ones_kept(tmp_path: Path) -> None:
    target = tmp_path / "cal.json"
    stale = tmp_path / ".cal.json.abc123.tmp"
    fresh = tmp_path / ".cal.json.def456.tmp"
    other = tmp_path / ".other.json.abc.tmp"
    for leftover in (stale, fresh, other):
        leftover.write_text("{")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_write_json(target, {"v": 2})
    assert not stale.exists()
    assert fresh.exists()  # may belong to a writer still running
    assert other.exists()  # another file's business
