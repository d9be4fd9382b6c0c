"""Which hardware output each named channel drives, validated once for every back-end."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from calibration.model import CHANNELS, Channel
from vehicle.core.pwm.base import LED_COLOURS, PwmError

log = logging.getLogger(__name__)


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


def led_outputs(
    led: Sequence[int] | None, count: int, taken: Mapping[Channel, int], backend: str
) -> tuple[int, int, int] | None:
    """The tail light's three outputs, or None when this hardware has no room for them (a
    chip with fewer outputs, or the outputs already drive steering or throttle)."""
    if led is None:
        return None
    outputs = tuple(led)
    if len(outputs) != len(LED_COLOURS) or any(
        isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in outputs
    ):
        raise PwmError(f"{backend}: the tail light needs three output numbers, got {outputs!r}")
    if len(set(outputs)) != len(outputs):
        raise PwmError(f"{backend}: the tail light's outputs must differ, got {outputs}")
    if max(outputs) >= count:
        log.info("%s: no tail light (outputs %s, the chip has %d)", backend, outputs, count)
        return None
    shared = sorted(set(outputs) & set(taken.values()))
    if shared:
        log.warning("%s: no tail light: outputs %s drive steering or throttle", backend, shared)
        return None
    return outputs  # type: ignore[return-value]
