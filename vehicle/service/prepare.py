"""Check a model named on the command line in a worker process, before the drive opens it.

The drive process never parses an archive or runs the ONNX checker: a worker does, under a
time and a memory limit, and answers with the folder the drive may open (the bundle itself
for a folder; for an archive, its files extracted into a cache keyed by the archive's
sha256, so the next start is a cache hit).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from vehicle.core.metadata import METADATA_FILE, ModelError
from vehicle.core.model import ONNX_FILE

TIMEOUT_S = 120.0
MEMORY_BYTES = 2 * 1024**3


def prepare_in_worker(
    source: Path, cache_dir: Path, *, timeout_s: float = TIMEOUT_S, memory_bytes: int = MEMORY_BYTES
) -> Path:
    """The checked bundle folder for ``source``; ModelError with the worker's reason."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    command = [sys.executable, "-m", "vehicle.service.prepare", str(source), str(cache_dir)]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            preexec_fn=limit_memory,
        )
    except subprocess.TimeoutExpired:
        raise ModelError(f"checking {source} took longer than {timeout_s:g} s") from None
    try:
        answer = json.loads(done.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        reason = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        raise ModelError(f"checking {source} failed: {reason[0]}") from None
    if "error" in answer:
        raise ModelError(answer["error"])
    return Path(answer["path"])


def _prepare(source: Path, cache_dir: Path) -> Path:
    from vehicle.model.archive import extract_archive, find_bundle_root
    from vehicle.model.bundle import is_archive, load_directory

    if source.is_dir():
        root = find_bundle_root(source)
        load_directory(root, source.name)
        return root
    if not (source.is_file() and is_archive(source)):
        raise ModelError(f"{source} is neither a model folder nor a .tar.gz archive")
    digest = hashlib.sha256()
    with open(source, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    target = cache_dir / digest.hexdigest()
    if (target / ONNX_FILE).is_file() and (target / METADATA_FILE).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".prepare-", dir=cache_dir))
    try:
        root = find_bundle_root(extract_archive(source, staging))
        load_directory(root, source.name)
        bundle = staging / "bundle"
        bundle.mkdir()
        for name in (ONNX_FILE, METADATA_FILE):
            shutil.copyfile(root / name, bundle / name)
        os.replace(bundle, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def main(argv: list[str]) -> int:
    source, cache_dir = Path(argv[0]), Path(argv[1])
    try:
        answer = {"path": str(_prepare(source, cache_dir))}
    except (ModelError, OSError) as exc:
        answer = {"error": str(exc)}
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
