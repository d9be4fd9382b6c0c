"""The car's clock and time zone, as the community car's ``get_time`` reports them.

Read from the process's own time functions and the zone files, with no command run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

ETC = Path("/etc")


def timezone_name(etc: Path = ETC, environ: dict[str, str] | None = None) -> str:
    """The zone's name ("Europe/Berlin"): TZ, /etc/timezone, or /etc/localtime's link."""
    tz = (os.environ if environ is None else environ).get("TZ", "").lstrip(":")
    if tz and "/" in tz and not tz.startswith("/"):
        return tz
    try:
        named = (etc / "timezone").read_text().strip()
    except OSError:
        named = ""
    if named:
        return named
    try:
        target = os.readlink(etc / "localtime")
    except OSError:
        target = ""
    if "zoneinfo/" in target:
        return target.split("zoneinfo/", 1)[1]
    return time.tzname[0] or "UTC"


def utc_offset(seconds: float) -> str:
    """+HHMM, as the community car formats it."""
    minutes = round(seconds / 60)
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}{rest:02d}"


def time_info(now: Callable[[], float] = time.time, etc: Path = ETC) -> dict[str, object]:
    local = time.localtime(now())
    return {
        "time": time.strftime("%Y-%m-%d %H:%M:%S", local),
        "timezone": timezone_name(etc),
        "timezone_abbr": local.tm_zone,
        "utc_offset": utc_offset(local.tm_gmtoff),
        "timezone_changed": False,  # this car never changes its zone itself
    }
