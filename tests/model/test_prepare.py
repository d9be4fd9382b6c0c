"""Preparation: cached by the original's checksum, built whole or not at all, and the
worker process that runs it (its answer, its limits, its death with its parent)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vehicle.core.prepared import PREPARED_FILE, read_stamp
from vehicle.model.prepare import cached, prepare, prune_cache
from vehicle.model.samples import SampleExport
from vehicle.model.worker import prepare_in_worker

TINY = "ppo_discrete_tiny_camera"


def test_the_stamp_says_what_was_prepared_from_what(tmp_path, export_archive):
    archive = export_archive(TINY)
    prepared = prepare(archive, tmp_path)
    stamp = prepared.stamp
    assert prepared.directory == tmp_path / stamp.source.sha256
    assert (stamp.engine, stamp.model_file, stamp.weights_file, stamp.layout) == (
        "openvino",
        "model.xml",
        "model.bin",
        "NHWC",
    )
    sample = SampleExport.load(TINY)
    assert (stamp.input_name, stamp.output_name, stamp.n_outputs) == (
        sample.input_name,
        sample.output_name,
        10,
    )
    assert stamp.source.format == "tensorflow"
    assert stamp.source.files == ("agent/model.pb", "model_metadata.json")
    assert set(stamp.versions) == {"vehicle", "openvino"}
    assert read_stamp(prepared.directory) == stamp
    assert (prepared.directory / "source" / "agent" / "model.pb").read_bytes() == (
        SampleExport.load(TINY).graph_bytes()
    )


def test_the_same_input_again_is_a_cache_hit(tmp_path, export_archive):
    first = prepare(export_archive(TINY), tmp_path)
    before = (first.directory / PREPARED_FILE).stat().st_mtime_ns
    again = prepare(export_archive(TINY), tmp_path)
    assert (first.cache_hit, again.cache_hit) == (False, True)
    assert again.stamp == first.stamp
    assert (first.directory / PREPARED_FILE).stat().st_mtime_ns == before


def test_a_folder_is_keyed_by_the_files_it_uses(tmp_path, write_export):
    folder = write_export(TINY, archive=False)
    first = prepare(folder, tmp_path / "cache")
    (folder / "reward_function.py").write_text("changed: not part of the model")
    assert prepare(folder, tmp_path / "cache").cache_hit
    metadata = json.loads((folder / "model_metadata.json").read_text())
    metadata["version"] = "changed"
    (folder / "model_metadata.json").write_text(json.dumps(metadata))
    changed = prepare(folder, tmp_path / "cache")
    assert not changed.cache_hit and changed.directory != first.directory


def test_a_broken_cache_entry_is_prepared_again(tmp_path, export_archive):
    first = prepare(export_archive(TINY), tmp_path)
    (first.directory / "model.bin").unlink()
    assert cached(tmp_path, first.stamp.source.sha256) is None
    again = prepare(export_archive(TINY), tmp_path)
    assert not again.cache_hit and (again.directory / "model.bin").is_file()


def test_pruning_keeps_the_most_recent_and_drops_dead_workers_leftovers(tmp_path):
    now = time.time()
    for age, name in enumerate(["newest", "middle", "oldest", "kept"]):
        (tmp_path / name).mkdir()
        os.utime(tmp_path / name, (now - age * 10, now - age * 10))
    stale, live = tmp_path / ".tmp-123-abc", tmp_path / ".tmp-456-def"
    stale.mkdir()
    live.mkdir()
    os.utime(stale, (now - 7200, now - 7200))
    prune_cache(tmp_path, 2, keep="kept")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".tmp-456-def", "kept", "newest"]


# -- the worker process ---------------------------------------------------------------------


def _worker(source: Path, cache: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "vehicle.model.worker", str(source), "--cache-root"]
    return subprocess.run([*command, str(cache)], capture_output=True, text=True)


def test_the_worker_answers_one_json_line(tmp_path, export_archive):
    run = _worker(export_archive(TINY), tmp_path)
    assert run.returncode == 0
    (line,) = run.stdout.splitlines()
    answer = json.loads(line)
    assert answer["ok"] and not answer["cache_hit"]
    assert Path(answer["directory"]).parent == tmp_path
    refused = _worker(tmp_path / "nothing", tmp_path)
    assert refused.returncode == 1
    assert json.loads(refused.stdout) == {
        "ok": False,
        "error": f"no such model: {tmp_path}/nothing",
    }


LIMITS_PROBE = """
import json, resource, os, sys
from vehicle.config import ModelSettings
from vehicle.model.worker import _apply_limits
_apply_limits(ModelSettings(prepare_memory_mb=1500, prepare_timeout_s=30), os.getppid())
limits = [resource.getrlimit(r)[0] for r in (resource.RLIMIT_AS, resource.RLIMIT_CPU)]
print(json.dumps([*limits, os.nice(0)]))
"""


def test_the_worker_limits_itself():
    run = subprocess.run(
        [sys.executable, "-c", LIMITS_PROBE], capture_output=True, text=True, check=True
    )
    memory, cpu, nice = json.loads(run.stdout)
    assert (memory, cpu) == (1500 * 2**20, 35)
    assert nice >= 10


PARENT = """
import sys
from vehicle.model.worker import prepare_in_worker
prepare_in_worker(sys.argv[1], sys.argv[2])
"""


def _workers_for(cache: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                command = (proc / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"vehicle.model.worker" in command and str(cache).encode() in command:
                found.append(int(proc.name))
    return found


def test_the_worker_dies_with_its_parent(tmp_path, export_graph):
    """A service killed mid-preparation leaves no converter running."""
    folder = tmp_path / "big"
    SampleExport.load("ppo_discrete_standard_camera").write_physical_export(folder)  # slow
    cache = tmp_path / "cache"
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(folder), str(cache)])
    deadline = time.monotonic() + 30
    while not _workers_for(cache) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _workers_for(cache), "the worker did not start"
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while _workers_for(cache) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _workers_for(cache) == []


def test_a_hit_through_the_worker_is_quick(tmp_path, export_archive):
    prepare_in_worker(export_archive(TINY), tmp_path)
    started = time.monotonic()
    assert prepare_in_worker(export_archive(TINY), tmp_path).cache_hit
    assert time.monotonic() - started < 5.0  # about 0.3 s here; generous for loaded CI


@pytest.mark.parametrize("answer", ["", "not json\n"])
def test_a_worker_that_answers_nonsense_is_a_clear_error(tmp_path, monkeypatch, answer):
    import vehicle.model.worker as worker

    class Silent:
        def __init__(self, *args, **kwargs):
            self.returncode, self.pid = 1, os.getpid()

        def communicate(self, timeout=None):
            return answer.encode(), b"Traceback ...\nSomeError: it broke\n"

    monkeypatch.setattr(worker.subprocess, "Popen", Silent)
    with pytest.raises(worker.ModelError, match=r"the preparation worker failed: .*it broke"):
        prepare_in_worker(tmp_path, tmp_path / "cache")
