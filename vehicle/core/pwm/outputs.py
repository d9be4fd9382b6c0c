"""Which hardware output each named channel drives, validated once for every back-end."""

from __future__ import annotations

from collections.abc import Mapping

from calibration.model import CHANNELS, Channel
from vehicle.core.pwm.base import PwmError


def output_map(
    outputs: Mapping[str, int], count: int, unit: str, backend: str
) -> dict[Channel, int]:
    """``{"steering": n, "throttle": m}`` with distinct outputs in ``0..count-1``."""
    if set(outputs) != set(CHANNELS):
        raise PwmError(
            f"{backend}: outputs must name exactly steering and throttle, got {sorted(outputs)}"
        )
    for channel in CHANNELS:
        n = outputs[channel]
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < count:
            raise PwmError(f"{backend}: {channel} {unit} must be 0..{count - 1}, got {n!r}")
    if outputs["steering"] == outputs["throttle"]:
        raise PwmError(
            f"{backend}: steering and throttle cannot share {unit} {outputs['steering']}"
        )
    return {channel: outputs[channel] for channel in CHANNELS}
