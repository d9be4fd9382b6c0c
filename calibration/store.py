"""Calibration on disk: our JSON format, DeepRacer's on import/export, atomic replacement.

Our format::

    {"version": 1,
     "steering": {"min_ns": 1200000, "mid_ns": 1450000, "max_ns": 1700000, "polarity": 1},
     "throttle": {"min_ns": 1311000, "mid_ns": 1446000, "max_ns": 1603500, "polarity": -1},
     "speed_table": [[0.3, 0.5], [0.6, 1.4], [1.0, 2.6]]}     # optional

Everything read is validated before anything is written, and files are replaced atomically,
so a rejected import or a failed save leaves the previous calibration in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from calibration.deepracer import from_deepracer, is_deepracer, to_deepracer
from calibration.fields import finite_number, read_channel, require_keys, require_object
from calibration.model import CHANNELS, Calibration, CalibrationError, SpeedTable
from vehicle.atomic import atomic_write_json

FORMAT_VERSION = 1
Format = Literal["native", "deepracer"]
FORMATS: tuple[Format, Format] = ("native", "deepracer")
_CHANNEL_KEYS = ("min_ns", "mid_ns", "max_ns", "polarity")


def to_native(calibration: Calibration) -> dict[str, Any]:
    data: dict[str, Any] = {"version": FORMAT_VERSION}
    for name in CHANNELS:
        channel = calibration.channel(name)
        data[name] = {
            "min_ns": int(channel.min_ns),
            "mid_ns": int(channel.mid_ns),
            "max_ns": int(channel.max_ns),
            "polarity": int(channel.polarity),
        }
    if calibration.speed_table is not None:
        data["speed_table"] = [[t, v] for t, v in calibration.speed_table.points]
    return data


def _speed_table(value: Any) -> SpeedTable:
    if not isinstance(value, list):
        raise CalibrationError("speed_table must be a list of [throttle_norm, m/s] pairs")
    points = []
    for i, point in enumerate(value):
        if (
            not isinstance(point, list)
            or len(point) != 2
            or not all(finite_number(x) for x in point)
        ):
            raise CalibrationError(
                f"speed_table[{i}] must be a pair of finite numbers [throttle_norm, m/s], "
                f"got {point!r}"
            )
        points.append((float(point[0]), float(point[1])))
    return SpeedTable(tuple(points))


def from_native(data: Any) -> Calibration:
    """Parsed JSON in our format to a validated ``Calibration``."""
    root = require_object(data, "calibration")
    require_keys(root, ("version", *CHANNELS), "calibration", optional=("speed_table",))
    if root["version"] != FORMAT_VERSION or isinstance(root["version"], bool):
        raise CalibrationError(
            f"calibration version {root['version']!r} is not supported (expected {FORMAT_VERSION})"
        )
    steering, throttle = (read_channel(root[name], _CHANNEL_KEYS, name) for name in CHANNELS)
    table = root.get("speed_table")
    return Calibration(
        steering=steering,
        throttle=throttle,
        speed_table=None if table is None else _speed_table(table),
    )


def to_format(calibration: Calibration, fmt: Format) -> dict[str, Any]:
    """The JSON content of ``calibration`` in our format or DeepRacer's."""
    if fmt not in FORMATS:
        raise CalibrationError(f"unknown calibration format {fmt!r}; expected one of {FORMATS}")
    return to_deepracer(calibration) if fmt == "deepracer" else to_native(calibration)


def parse_calibration(data: Any) -> Calibration:
    """Either format, told apart by DeepRacer's ``Calibration`` header key."""
    return from_deepracer(data) if is_deepracer(data) else from_native(data)


def load_calibration_file(path: Path) -> Calibration:
    """Read our file or DeepRacer's ``calibration.json``; errors name the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise CalibrationError(f"cannot read calibration {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CalibrationError(f"{path} is not valid JSON: {exc}") from exc
    try:
        return parse_calibration(data)
    except CalibrationError as exc:
        raise CalibrationError(f"{path}: {exc}") from exc


def write_calibration_file(calibration: Calibration, path: Path, fmt: Format = "native") -> None:
    """Atomically write ``calibration`` in ``fmt``; the old file survives any failure."""
    if not isinstance(calibration, Calibration):
        raise CalibrationError(f"expected a Calibration, got {type(calibration).__name__}")
    data = to_format(calibration, fmt)
    try:
        atomic_write_json(Path(path), data)
    except OSError as exc:
        raise CalibrationError(f"cannot write calibration {path}: {exc.strerror or exc}") from exc


class CalibrationStore:
    """The car's active calibration file (``settings.calibration_path``)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> Calibration:
        """The saved calibration, or DeepRacer's defaults when none has been saved yet."""
        if not self.path.exists():
            return Calibration()
        return load_calibration_file(self.path)

    def save(self, calibration: Calibration) -> None:
        write_calibration_file(calibration, self.path)

    def import_file(self, source: Path) -> Calibration:
        """Validate ``source`` (either format) completely, then make it the active one."""
        calibration = load_calibration_file(source)
        self.save(calibration)
        return calibration

    def export(self, destination: Path, fmt: Format = "native") -> Calibration:
        calibration = self.load()
        write_calibration_file(calibration, destination, fmt)
        return calibration
