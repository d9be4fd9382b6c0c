"""DeepRacer's ``calibration.json``, imported and exported without loss.

The car's servo node keeps ``{"Calibration": {"Servo": {...}, "Motor": {...}, "version": 1}}``
with ``min``/``mid``/``max`` pulse widths in ns and ``polarity``. ``Servo`` is steering,
``Motor`` is throttle. Files written before the version key existed are accepted.
"""

from __future__ import annotations

from typing import Any

from calibration.fields import read_channel, require_keys, require_object
from calibration.model import Calibration, CalibrationError, ChannelCalibration

HEADER = "Calibration"
FILE_VERSION = 1
_KEYS = ("min", "mid", "max", "polarity")
_SECTIONS = {"steering": "Servo", "throttle": "Motor"}


def is_deepracer(data: Any) -> bool:
    """Whether parsed JSON claims to be DeepRacer's format (it has the header key)."""
    return isinstance(data, dict) and HEADER in data


def from_deepracer(data: Any) -> Calibration:
    """Parsed DeepRacer JSON to a validated ``Calibration``; ``CalibrationError`` if unusable."""
    root = require_object(data, "DeepRacer calibration")
    require_keys(root, (HEADER,), "DeepRacer calibration")
    body = require_object(root[HEADER], HEADER)
    require_keys(body, tuple(_SECTIONS.values()), HEADER, optional=("version",))
    version = body.get("version", FILE_VERSION)
    if version != FILE_VERSION or isinstance(version, bool):
        raise CalibrationError(
            f"{HEADER}.version {version!r} is not supported (expected {FILE_VERSION})"
        )
    steering, throttle = (
        read_channel(body[section], _KEYS, f"{HEADER}.{section}") for section in _SECTIONS.values()
    )
    return Calibration(steering=steering, throttle=throttle)


def _section(channel: ChannelCalibration) -> dict[str, int]:
    return {
        "min": int(channel.min_ns),
        "mid": int(channel.mid_ns),
        "max": int(channel.max_ns),
        "polarity": int(channel.polarity),
    }


def to_deepracer(calibration: Calibration) -> dict[str, Any]:
    """DeepRacer's JSON for ``calibration``. It has no speed table: that is ours alone."""
    body: dict[str, Any] = {
        section: _section(calibration.channel(name)) for name, section in _SECTIONS.items()
    }
    body["version"] = FILE_VERSION
    return {HEADER: body}
