"""Typed reads from parsed JSON, shared by our calibration format and DeepRacer's.

JSON gives ``1450000.0``, ``true`` and ``"1"`` as readily as ``1450000``; each of these is a
mistake in a calibration file, so every value is checked here with the field's full name.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from typing import Any

from calibration.model import CalibrationError, ChannelCalibration


def finite_number(value: Any) -> bool:
    """An int or float that converts to a finite float; not a bool. Never raises: JSON
    gives ints of any size, and ``math.isfinite(10**400)`` raises OverflowError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, int):
        return abs(value) <= sys.float_info.max
    return math.isfinite(value)


def require_object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise CalibrationError(f"{where} must be a JSON object, got {type(value).__name__}")
    return value


def require_keys(
    obj: Mapping[str, Any], required: tuple[str, ...], where: str, optional: tuple[str, ...] = ()
) -> None:
    """All of ``required`` present and nothing unknown: a typo is an error, not a default."""
    missing = [key for key in required if key not in obj]
    if missing:
        raise CalibrationError(f"{where} is missing {', '.join(missing)}")
    unknown = sorted(set(obj) - set(required) - set(optional))
    if unknown:
        raise CalibrationError(f"{where} has unknown key(s) {', '.join(unknown)}")


def whole_number(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise CalibrationError(f"{where}.{key} must be a whole number, got {value!r}")
    return value


def read_channel(value: Any, keys: tuple[str, str, str, str], where: str) -> ChannelCalibration:
    """A channel from an object whose min, mid, max and polarity fields are named ``keys``."""
    obj = require_object(value, where)
    require_keys(obj, keys, where)
    numbers = [whole_number(obj, key, where) for key in keys]
    try:
        return ChannelCalibration(*numbers)
    except CalibrationError as exc:
        raise CalibrationError(f"{where}: {exc}") from exc
