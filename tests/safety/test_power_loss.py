"""Killed mid-save, the car's files are the old content or the new, never a mix or a stub.

A clean "zygote" process imports everything once, then forks one writer at a time; the
writer saves alternating versions in a loop and is SIGKILLed after a random delay. After each
kill the file (or model folder) must parse and equal one of the versions. SIGKILL is the
process half of a power cut; the fsyncs in ``vehicle.atomic`` are the kernel half, which no
test in a running kernel can cut.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from calibration.model import Calibration, ChannelCalibration
from calibration.store import CalibrationStore
from vehicle.core.metadata import METADATA_FILE
from vehicle.core.prepared import read_stamp
from vehicle.model.store import ModelStore
from vehicle.model.synthetic import build_policy

DATA = Path(__file__).resolve().parents[1] / "data"

# Reads "<kind> <path> [<bundles>]" lines; forks a writer for each, reports its pid, reaps it.
ZYGOTE = textwrap.dedent(
    """
    import itertools, json, os, sys
    from calibration.model import Calibration, ChannelCalibration
    from calibration.store import CalibrationStore
    from vehicle.atomic import atomic_write_json
    from vehicle.model.store import ModelStore

    VERSIONS = [
        Calibration(),
        Calibration(throttle=ChannelCalibration(1_000_000, 1_500_000, 2_000_000, 1)),
    ]

    def write_forever(kind, path, bundles=None):
        for i in itertools.count():
            if kind == "atomic":
                atomic_write_json(path, {"seq": i, "payload": [i] * (i % 3000)})
            elif kind == "calibration":
                CalibrationStore(path).save(VERSIONS[i % 2])
            else:
                ModelStore(path).install(os.path.join(bundles, "v%d" % (i % 2)), name="racer")
            if i == 0:
                print("ready", os.getpid(), flush=True)

    for line in sys.stdin:
        words = line.split()
        pid = os.fork()
        if pid == 0:
            try:
                write_forever(*words)
            finally:
                os._exit(1)
        _, status = os.waitpid(pid, 0)
        print("reaped", status, flush=True)
    """
)


class Zygote:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def kill_writer(self, delay_s: float, *command: str | Path) -> None:
        """Start a writer (``kind path [bundles]``), let it write for ``delay_s`` beyond its
        first save, then SIGKILL it."""
        self.proc.stdin.write(" ".join(map(str, command)) + "\n")
        self.proc.stdin.flush()
        word, pid = self.proc.stdout.readline().split()
        assert word == "ready", word
        time.sleep(delay_s)
        os.kill(int(pid), signal.SIGKILL)
        word, status = self.proc.stdout.readline().split()
        assert word == "reaped"
        assert os.WIFSIGNALED(int(status)) and os.WTERMSIG(int(status)) == signal.SIGKILL

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def zygote():
    z = Zygote()
    yield z
    z.close()


def kills(n: int, max_delay_s: float, seed: int):
    rng = random.Random(seed)
    return [rng.uniform(0.0, max_delay_s) for _ in range(n)]


def test_atomic_json_survives_sigkill(zygote, tmp_path):
    path = tmp_path / "settings.json"
    seen = set()
    for delay in kills(40, 0.03, seed=1):
        zygote.kill_writer(delay, "atomic", path)
        value = json.loads(path.read_text())  # parses: never empty, never half-written
        assert value["payload"] == [value["seq"]] * (value["seq"] % 3000)
        seen.add(value["seq"])
    assert len(seen) > 1, "the writer never got past its first save: the test proves nothing"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "settings.json"]
    print(f"\natomic: {len(seen)} distinct saves survived; {len(leftovers)} temp files left")


def test_calibration_store_survives_sigkill(zygote, tmp_path):
    path = tmp_path / "calibration.json"
    versions = [
        Calibration(),
        Calibration(throttle=ChannelCalibration(1_000_000, 1_500_000, 2_000_000, 1)),
    ]
    seen = set()
    for delay in kills(40, 0.03, seed=2):
        zygote.kill_writer(delay, "calibration", path)
        loaded = CalibrationStore(path).load()
        assert loaded in versions
        seen.add(versions.index(loaded))
    assert seen == {0, 1}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory) -> Path:
    """Two valid bundles whose files differ, so a mix of the two would be caught."""
    root = tmp_path_factory.mktemp("bundles")
    metadata = json.loads((DATA / "discrete_10.model_metadata.json").read_text())
    for version in (0, 1):
        folder = root / f"v{version}"
        folder.mkdir()
        model = build_policy(len(metadata["action_space"]), seed=version)
        (folder / "model.onnx").write_bytes(model.SerializeToString())
        (folder / METADATA_FILE).write_text(json.dumps({**metadata, "version": str(version)}))
    return root


def test_model_install_survives_sigkill(zygote, tmp_path, bundles):
    models = tmp_path / "models"
    sources = [
        {name: (bundles / f"v{v}" / name).read_bytes() for name in ("model.onnx", METADATA_FILE)}
        for v in (0, 1)
    ]
    seen = set()
    for delay in kills(12, 0.4, seed=3):  # installs are slower: each validates the model
        zygote.kill_writer(delay, "model", models, bundles)
        racer = models / "racer"
        installed = {
            "model.onnx": (racer / "source" / "model.onnx").read_bytes(),  # the original's copy
            METADATA_FILE: (racer / METADATA_FILE).read_bytes(),
        }
        assert installed in sources, "the model folder mixes two versions or is incomplete"
        assert (racer / read_stamp(racer).model_file).is_file()  # and its prepared network
        seen.add(sources.index(installed))
        infos = ModelStore(models).list()
        assert [(i.name, i.error) for i in infos] == [("racer", None)]
    print(f"\nmodel installs: versions seen after kills {sorted(seen)}")
