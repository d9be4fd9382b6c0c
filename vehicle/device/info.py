"""What the car is: board, CPU, operating system, memory and disk, as the community car's
``get_device_info`` reports them ("4GB", "29GB", as ``free``/``df -h`` print them).
"""

from __future__ import annotations

import math
import os
import platform
import re
from pathlib import Path

from vehicle import __version__
from vehicle.device.status import PROC, meminfo_kb

UNKNOWN = "--"  # what the community car answers for a fact it cannot read
BOARD_FILES = (
    Path("/proc/device-tree/model"),  # Raspberry Pi and other device-tree boards
    Path("/sys/class/dmi/id/product_name"),  # PCs, and DeepRacer's own board
)
OS_RELEASE = (Path("/etc/os-release"), Path("/usr/lib/os-release"))
UNITS = "KMGTP"


def human_size(n_bytes: float) -> str:
    """As ``du -h``/``df -h``: powers of 1024, rounded up, one decimal below 10 ("7.3G")."""
    value, unit = float(n_bytes), ""
    for next_unit in UNITS:
        if value < 1024:
            break
        value, unit = value / 1024, next_unit
    if not unit:
        return f"{math.ceil(value)}"
    if value < 10:
        shown = math.ceil(round(value * 10, 6)) / 10
        return f"{shown:.1f}{unit}" if shown < 10 else f"10{unit}"
    return f"{math.ceil(round(value, 6))}{unit}"


def _first_line(paths: tuple[Path, ...]) -> str:
    for path in paths:
        try:
            text = path.read_bytes().replace(b"\0", b"").decode("utf-8", "replace").strip()
        except OSError:
            continue
        if text:
            return text.splitlines()[0]
    return ""


def board_model(paths: tuple[Path, ...] = BOARD_FILES) -> str:
    return _first_line(paths) or platform.machine() or UNKNOWN


def cpu_model(proc: Path = PROC) -> str:
    """The CPU's name from /proc/cpuinfo, without (R)/(TM), as the community car shows it."""
    try:
        text = (proc / "cpuinfo").read_text()
    except OSError:
        return UNKNOWN
    for key in ("model name", "Model", "Hardware", "cpu model"):
        for line in text.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key and value.strip():
                return re.sub(r"\((R|TM)\)", "", value).strip()
    return UNKNOWN


def os_version(paths: tuple[Path, ...] = OS_RELEASE) -> str:
    for path in paths:
        try:
            text = path.read_text()
        except OSError:
            continue
        match = re.search(r'^PRETTY_NAME="?([^"\n]*)"?$', text, re.MULTILINE)
        if match:
            return match.group(1)
    return UNKNOWN


def ram_amount(proc: Path = PROC) -> str:
    total_kb = meminfo_kb(proc).get("MemTotal")
    return f"{round(total_kb / 1024 / 1024)}GB" if total_kb else UNKNOWN


def disk_amount(path: Path) -> str:
    try:
        stats = os.statvfs(path)
    except OSError:
        return UNKNOWN
    return human_size(stats.f_blocks * stats.f_frsize) + "B"


def device_info(disk: Path, proc: Path = PROC) -> dict[str, str]:
    return {
        "hardware_version": board_model(),
        "software_version": __version__,
        "cpu_model": cpu_model(proc),
        "os_version": os_version(),
        "disk_amount": disk_amount(disk),
        "ram_amount": ram_amount(proc),
        "ros_distro": UNKNOWN,  # no ROS here
    }
