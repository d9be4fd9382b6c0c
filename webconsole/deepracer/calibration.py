"""Calibration in the car's console units: steering ``(ns - 1500000) / 10000``, throttle
``(ns - 1500000) / 4500``, whole units as the car's ``int()`` makes them.

As on the car, a wheel adjustment outside calibration mode is answered and ignored (its
console's recalibrate pages send one as they close, after calibration mode has ended).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from calibration.model import Channel, ChannelCalibration
from webconsole import calibration
from webconsole.context import console
from webconsole.deepracer.fields import body, whole
from webconsole.policy import changes_state
from webconsole.responses import InputError, ok, shown

bp = Blueprint("calibration", __name__)

BOTH = ["PUT", "POST"]
PWM_OFFSET_NS = 1_500_000
CONVERSION: dict[Channel, int] = {"steering": 10_000, "throttle": 4_500}  # ns per console unit
KINDS: dict[str, Channel] = {"angle": "steering", "throttle": "throttle"}
CONSOLE_RANGE = 100  # console units either side of 1.5 ms, wider than any pulse allowed


def to_console_units(ns: int, channel: Channel) -> float:
    return (ns - PWM_OFFSET_NS) / CONVERSION[channel]


def from_console_units(value: int, channel: Channel) -> int:
    return value * CONVERSION[channel] + PWM_OFFSET_NS


def _channel(kind: str) -> Channel:
    if kind not in KINDS:
        raise InputError(f"calibration type must be angle or throttle, got {shown(kind)}")
    return KINDS[kind]


@bp.route("/api/set_calibration_mode")
@changes_state
def set_calibration_mode() -> Any:
    """A GET, as DeepRacer defines it, that stops the car: it needs the CSRF token."""
    console().service.enter_calibration()
    return ok()


@bp.route("/api/get_calibration/<cali_type>")
def get_calibration(cali_type: str) -> Any:
    channel = _channel(cali_type)
    cal = console().service.calibration().channel(channel)
    return ok(
        mid=to_console_units(cal.mid_ns, channel),
        min=to_console_units(cal.min_ns, channel),
        max=to_console_units(cal.max_ns, channel),
        polarity=cal.polarity,
    )


@bp.route("/api/set_calibration/<cali_type>", methods=BOTH)
def set_calibration(cali_type: str) -> Any:
    channel = _channel(cali_type)
    data = body()
    pulses = [
        from_console_units(whole(data, key, -CONSOLE_RANGE, CONSOLE_RANGE), channel)
        for key in ("min", "mid", "max")
    ]
    polarity = whole(data, "polarity", -1, 1)
    if polarity == 0:
        raise InputError(f"polarity must be 1 or -1, got {shown(data['polarity'])}")
    service = console().service
    updated = ChannelCalibration(*pulses, polarity=polarity)
    service.save_calibration(service.calibration().with_channel(channel, updated))
    return ok()


@bp.route("/api/adjust_calibrating_wheels/<cali_type>", methods=BOTH)
def adjust_calibrating_wheels(cali_type: str) -> Any:
    channel = _channel(cali_type)
    ns = from_console_units(whole(body(), "pwm", -CONSOLE_RANGE, CONSOLE_RANGE), channel)
    if console().service.status()["state"] == "calibrating":
        calibration.preview_pulse(channel, ns)
    return ok()
