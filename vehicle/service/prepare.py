"""Check a model named on the command line in a worker process, before the drive opens it.

The drive process never parses an archive or runs the ONNX checker: a worker does, under a
time and a memory limit, and answers with the folder the drive may open: the bundle's files,
checked and copied into a cache keyed by their sha256 (inside the data directory, where the
drive may open models from, and where the next start finds them already checked).
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


def _digest(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _prepare(source: Path, cache_dir: Path) -> Path:
    from vehicle.model.archive import extract_archive, find_bundle_root
    from vehicle.model.bundle import is_archive, load_directory

    if not (source.is_dir() or (source.is_file() and is_archive(source))):
        raise ModelError(f"{source} is neither a model folder nor a .tar.gz archive")
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".prepare-", dir=cache_dir))
    try:
        unpacked = source if source.is_dir() else extract_archive(source, staging)
        root = find_bundle_root(unpacked, shown_as=str(source))
        files = [root / ONNX_FILE, root / METADATA_FILE]
        target = cache_dir / _digest(files)
        if not target.is_dir():
            load_directory(root, source.name)
            bundle = staging / "bundle"
            bundle.mkdir()
            for path in files:
                shutil.copyfile(path, bundle / path.name)
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
