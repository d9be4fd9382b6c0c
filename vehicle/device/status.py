"""The machine's health as the community car's ``get_device_status`` reports it.

CPU load (from /proc/stat, between two calls), temperature, frequency, memory in use, free
disk, and the drive loop's own figures: capture-to-pulse latency (mean, 95th percentile) and
frames per second over the newest steps.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PROC = Path("/proc")
THERMAL = Path("/sys/class/thermal")
CPUS = Path("/sys/devices/system/cpu")
STEP_WINDOW = 50  # the community car's latency history


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def cpu_temperature_c(root: Path = THERMAL) -> float | None:
    """The first readable thermal zone, in degrees C; None where there is none (containers)."""
    for zone in sorted(root.glob("thermal_zone*/temp")):
        try:
            return int(zone.read_text().strip()) / 1000.0
        except (OSError, ValueError):
            continue
    return None


def cpu_frequency_mhz(cpus: Path = CPUS, proc: Path = PROC) -> tuple[float, float]:
    """(mean current, highest maximum) over the CPUs, from cpufreq; /proc/cpuinfo's "cpu MHz"
    where cpufreq is absent (virtual machines), which has no maximum (then: the current)."""
    current, maximum = [], []
    for cpufreq in sorted(cpus.glob("cpu[0-9]*/cpufreq")):
        for name, into in (("scaling_cur_freq", current), ("cpuinfo_max_freq", maximum)):
            value = _text(cpufreq / name).strip()
            if value.isdigit():
                into.append(int(value) / 1000.0)
    if not current:
        for line in _text(proc / "cpuinfo").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "cpu MHz":
                try:
                    current.append(float(value))
                except ValueError:
                    continue
    mean = sum(current) / len(current) if current else 0.0
    return mean, max(maximum) if maximum else mean


def meminfo_kb(proc: Path = PROC) -> dict[str, int]:
    found = {}
    for line in _text(proc / "meminfo").splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            found[key] = int(parts[0])
    return found


def memory_used_percent(proc: Path = PROC) -> float:
    info = meminfo_kb(proc)
    total = info.get("MemTotal", 0)
    if not total:
        return 0.0
    return 100.0 * (total - info.get("MemAvailable", info.get("MemFree", total))) / total


def disk_free_percent(path: Path) -> float:
    try:
        stats = os.statvfs(path)
    except OSError:
        return 0.0
    return 100.0 * stats.f_bavail / stats.f_blocks if stats.f_blocks else 0.0


@dataclass
class CpuLoad:
    """CPU in use (%) since the previous call; the first call covers the time since boot."""

    proc: Path = PROC
    _last: tuple[int, int] = (0, 0)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _sample(self) -> tuple[int, int]:
        """(idle, total) jiffies of all CPUs."""
        for line in _text(self.proc / "stat").splitlines():
            fields = line.split()
            if fields and fields[0] == "cpu":
                values = [int(v) for v in fields[1:] if v.isdigit()]
                idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
                return idle, sum(values[:8])  # guest time is already in user/nice
        return 0, 0

    def percent(self) -> float:
        with self._lock:
            idle, total = self._sample()
            last_idle, last_total = self._last
            self._last = (idle, total)
        elapsed = total - last_total
        if elapsed <= 0:
            return 0.0
        return max(0.0, min(100.0, 100.0 * (1.0 - (idle - last_idle) / elapsed)))


def loop_figures(steps: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Latency mean and 95th percentile (ms) and frames per second over the given steps."""
    if not steps:
        return {"latency_mean": 0.0, "latency_p95": 0.0, "fps_mean": 0.0}
    latency = np.array([s["latency_ms"] for s in steps], dtype=np.float64)
    done = np.array([s["t_done"] for s in steps], dtype=np.float64)
    span = float(done.max() - done.min())
    return {
        "latency_mean": float(latency.mean()),
        "latency_p95": float(np.percentile(latency, 95)),
        "fps_mean": (len(steps) - 1) / span if span > 0 else 0.0,
    }


@dataclass
class DeviceStatus:
    """The readers, with their roots, and the CPU sampler's state."""

    disk: Path
    proc: Path = PROC
    thermal: Path = THERMAL
    cpus: Path = CPUS
    cpu: CpuLoad = field(init=False)

    def __post_init__(self) -> None:
        self.cpu = CpuLoad(self.proc)

    def read(self, steps: Sequence[dict[str, Any]]) -> dict[str, float]:
        """The community car's fields (numbers always: its console formats each one)."""
        freq, freq_max = cpu_frequency_mhz(self.cpus, self.proc)
        return {
            "cpu_percent": self.cpu.percent(),
            "cpu_temp": cpu_temperature_c(self.thermal) or 0.0,
            "cpu_freq": freq,
            "cpu_freq_max": freq_max,
            "memory_usage": memory_used_percent(self.proc),
            "free_disk": disk_free_percent(self.disk),
            **loop_figures(steps[-STEP_WINDOW:]),
        }
