"""What the figures were measured on, and what a measured run cost the process."""

from __future__ import annotations

import os
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo`` on Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, object]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        # Other work on the machine skews every figure: record how busy it was.
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def rss_mb() -> float:
    """Resident memory of this process now (``/proc/self/statm``), else its peak."""
    try:
        resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
        return round(resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20, 1)
    except (OSError, ValueError, IndexError):
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


@dataclass
class CpuMeter:
    """CPU seconds this process (all its threads) spent between ``start`` and ``stop``."""

    started: float = 0.0
    spent_s: float = 0.0

    def start(self) -> None:
        self.started = time.process_time()

    def stop(self) -> None:
        self.spent_s = time.process_time() - self.started

    def ms_per_step(self, steps: int) -> float:
        return round(self.spent_s * 1000.0 / max(steps, 1), 3)
