"""The preparation worker: one model prepared in a process of its own, with limits.

Parsing archives and graphs and converting networks is the riskiest work the car does with
what clients send: a hostile archive, a graph that makes a converter allocate without end,
a bug in a native library. So it runs in a child process:

- with an address-space limit (``RLIMIT_AS``) and a CPU-time limit it sets on itself before
  importing anything heavy, and a lower scheduling priority than the drive process;
- in its own session, so on a wall-time timeout the parent kills it and everything it
  started, then removes its partial output; and it dies with its parent (a service killed
  mid-preparation leaves no converter running);
- answering with one line of JSON on stdout (anything else it prints goes to stderr).

Parent side: ``prepare_in_worker(source, cache_root, metadata=..., limits=...)`` returns a
``PreparedModel`` or raises ``ModelError`` with the reason. Child side:
``python -m vehicle.model.worker SOURCE --cache-root DIR [--metadata FILE] [--limits JSON]
[--parent PID] [--shown-as NAME]``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vehicle.config import ModelSettings
from vehicle.core.metadata import ModelError, one_line
from vehicle.core.prepared import PreparedStamp, parse_stamp

TEMP_PREFIX = ".tmp-"  # + the worker's pid: what a killed worker left can be found
WORKER_NICE = 10  # below the drive process and the console
CPU_GRACE_S = 5.0  # the CPU limit backs up the parent's wall-time kill
STDERR_TAIL_CHARS = 500
# How an allocation that hit RLIMIT_AS shows up: Python, C++, mmap, the dynamic loader.
MEMORY_MARKERS = (
    "MemoryError",
    "bad_alloc",
    "Cannot allocate memory",
    "failed to map segment",
    "Resource temporarily unavailable",  # no address space left for a thread's stack
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreparedModel:
    """A prepared bundle, as ``prepare`` (in the worker) and ``prepare_in_worker`` return it."""

    directory: Path  # what open_prepared / open_model opens
    stamp: PreparedStamp
    cache_hit: bool


def _limits_argument(limits: ModelSettings) -> str:
    return json.dumps(asdict(limits))


def _remove_leftovers(cache_root: Path, pid: int) -> None:
    """A killed worker's temporary folders (its pid is in their names)."""
    for entry in Path(cache_root).glob(f"{TEMP_PREFIX}{pid}-*"):
        shutil.rmtree(entry, ignore_errors=True)


def _signal_reason(returncode: int, limits: ModelSettings) -> str:
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    return (
        f"the preparation worker was stopped by {name}; the model may need more than "
        f"{limits.prepare_memory_mb} MB or {limits.prepare_timeout_s:g} s to prepare"
    )


def prepare_in_worker(
    source: Path,
    cache_root: Path,
    *,
    metadata: Path | None = None,
    limits: ModelSettings | None = None,
    shown_as: str | None = None,
) -> PreparedModel:
    """Prepare ``source`` into ``cache_root`` in a worker process; see ``vehicle.model.prepare``
    (``shown_as``: how messages name the source; None for an upload, whose path is ours).

    On any failure raises ``ModelError`` with one line of reason, and nothing is left in
    ``cache_root`` but what was there before. Imports nothing heavy: a process that only
    starts workers (the drive process given ``--model``) stays light.
    """
    limits = limits or ModelSettings()
    cache_root = Path(cache_root)
    cache_root.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        "vehicle.model.worker",
        str(Path(source).absolute()),
        "--cache-root",
        str(cache_root.absolute()),
        "--limits",
        _limits_argument(limits),
        "--parent",
        str(os.getpid()),
    ]
    if metadata is not None:
        command += ["--metadata", str(Path(metadata).absolute())]
    if shown_as is not None:
        command += ["--shown-as", shown_as]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=limits.prepare_timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        _remove_leftovers(cache_root, process.pid)
        raise ModelError(
            f"preparing the model took longer than {limits.prepare_timeout_s:g} s; stopped"
        ) from None
    if err:
        log.debug(
            "preparation worker stderr: %s", err.decode(errors="replace")[-STDERR_TAIL_CHARS:]
        )
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        _remove_leftovers(cache_root, process.pid)
        if process.returncode < 0:
            raise ModelError(_signal_reason(process.returncode, limits)) from None
        tail = one_line(Exception(err.decode(errors="replace")[-STDERR_TAIL_CHARS:]))
        raise ModelError(f"the preparation worker failed: {tail}") from None
    if not result.get("ok"):
        raise ModelError(str(result.get("error")))
    return PreparedModel(
        Path(result["directory"]), parse_stamp(result["stamp"]), bool(result["cache_hit"])
    )


def _die_with_parent(parent: int | None) -> None:
    """Linux: be killed when the process that started us dies (a crashed or killed service
    must not leave a converter running); if it is already gone, stop now."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    if hasattr(libc, "prctl"):
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _apply_limits(limits: ModelSettings, parent: int | None) -> None:
    _die_with_parent(parent)
    memory = limits.prepare_memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(limits.prepare_timeout_s + CPU_GRACE_S)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    os.nice(WORKER_NICE)


def _failure(reason: str, limits: ModelSettings) -> dict[str, Any]:
    """An error answer; running out of the address space is said plainly, whoever hit it."""
    if any(marker in reason for marker in MEMORY_MARKERS):
        reason = (
            f"preparing the model needs more memory than its limit "
            f"({limits.prepare_memory_mb} MB): {reason}"
        )
    return {"ok": False, "error": reason}


def _run(args: argparse.Namespace, limits: ModelSettings) -> dict[str, Any]:
    from vehicle.model.prepare import prepare

    try:
        prepared = prepare(
            args.source,
            args.cache_root,
            metadata=args.metadata,
            limits=limits,
            shown_as=args.shown_as,
        )
    except ModelError as exc:
        return _failure(one_line(exc), limits)
    except Exception as exc:  # a converter's own error types: report, never crash silently
        log.exception("preparation failed")
        return _failure(f"cannot prepare the model: {type(exc).__name__}: {one_line(exc)}", limits)
    return {
        "ok": True,
        "directory": str(prepared.directory),
        "cache_hit": prepared.cache_hit,
        "stamp": prepared.stamp.to_json(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vehicle.model.worker")
    parser.add_argument("source", type=Path)
    parser.add_argument("--cache-root", type=Path, required=True)
    parser.add_argument("--metadata", type=Path)
    parser.add_argument("--limits", default="{}", help="ModelSettings fields as JSON")
    parser.add_argument("--parent", type=int, help="the pid to die with")
    parser.add_argument("--shown-as", help="how messages name the source")
    args = parser.parse_args(argv)
    limits = ModelSettings(**json.loads(args.limits))
    _apply_limits(limits, args.parent)
    answer = os.dup(1)
    os.dup2(2, 1)  # whatever a library prints must not corrupt the answer
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = _run(args, limits)
    os.write(answer, (json.dumps(result) + "\n").encode())
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
