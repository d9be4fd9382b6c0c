"""The drive's step records, in the service: read from shared memory a few times a second.

One record per drive step (capture time, action, outputs, pulses, timings, governor state)
arrives through the step ring; this keeps the newest few hundred for the console's figures,
and is where run recording attaches. Reading never touches the drive: a reader that falls
behind misses records (counted), it never slows the writer.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import numpy as np

from vehicle.core.safety import GOVERNOR_STATES
from vehicle.core.shm import NO_ACTION, StepReader

KEEP = 600  # forty seconds at 15 Hz
INTERVAL_S = 0.2


class StepFeed:
    def __init__(self, reader: StepReader | None, *, keep: int = KEEP) -> None:
        self._reader = reader
        self._records: deque[np.void] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="step-feed", daemon=True)

    def start(self) -> None:
        if self._reader is not None:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    @property
    def missed(self) -> int:
        return 0 if self._reader is None else self._reader.missed

    def poll(self) -> None:
        """Take what the drive wrote since the last poll."""
        if self._reader is None:
            return
        records = self._reader.read_new()
        with self._lock:
            self._records.extend(records)

    def recent(self, n: int) -> list[dict[str, Any]]:
        """The newest ``n`` records, oldest first, as JSON-ready dicts."""
        with self._lock:
            records = list(self._records)[-n:] if n > 0 else []
        return [_as_dict(record) for record in records]

    def _run(self) -> None:
        while not self._stop.wait(INTERVAL_S):
            self.poll()


def _as_dict(record: np.void) -> dict[str, Any]:
    n = int(record["n_outputs"])
    action = int(record["action"])
    return {
        "seq": int(record["seq"]),
        "t_capture": float(record["t_capture"]),
        "t_done": float(record["t_done"]),
        "preprocess_ms": round(float(record["preprocess_ms"]), 3),
        "inference_ms": round(float(record["inference_ms"]), 3),
        "latency_ms": round(float(record["latency_ms"]), 3),
        "action": None if action == NO_ACTION else action,
        "steer_norm": float(record["steer_norm"]),
        "throttle_norm": float(record["throttle_norm"]),
        "pulses": {"steering": int(record["steering_ns"]), "throttle": int(record["throttle_ns"])},
        "state": GOVERNOR_STATES[int(record["state"])].value,
        "outputs": [float(x) for x in record["outputs"][:n]],
    }
