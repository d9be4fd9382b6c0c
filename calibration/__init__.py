"""Calibration: per-channel pulse ranges, validation, persistence, DeepRacer import/export."""

from calibration.deepracer import from_deepracer, to_deepracer
from calibration.model import (
    CHANNELS,
    Calibration,
    CalibrationError,
    Channel,
    ChannelCalibration,
    SpeedTable,
)
from calibration.store import (
    FORMATS,
    CalibrationStore,
    load_calibration_file,
    parse_calibration,
    to_format,
    write_calibration_file,
)

__all__ = [
    "CHANNELS",
    "FORMATS",
    "Calibration",
    "CalibrationError",
    "CalibrationStore",
    "Channel",
    "ChannelCalibration",
    "SpeedTable",
    "from_deepracer",
    "load_calibration_file",
    "parse_calibration",
    "to_deepracer",
    "to_format",
    "write_calibration_file",
]
