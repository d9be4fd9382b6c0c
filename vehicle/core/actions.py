"""From network outputs to a normalised (steer, throttle): DeepRacer's mapping, precomputed.

Discrete action ``i`` (steering angle ``s_i`` in degrees, speed ``v_i`` in m/s) becomes
``steer_norm = s_i / max|s|`` and ``throttle_norm = limit * clip(a v^2 + b v, -1, 1)`` with
``a = -1.2 / vmax^2`` and ``b = 2.2 / vmax``: DeepRacer's curve through (vmax/2, 0.8) and
(vmax, 1.0). A calibrated speed table, when present, replaces the curve so that m/s mean
m/s on this car. The table is built once per (model, calibration, throttle limit); a step
is an argmax and a lookup.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibration.model import Calibration, SpeedTable
from vehicle.core.metadata import ActionSpace, ContinuousActionSpace, DiscreteActionSpace

# The columns of ``ActionTable.rows()`` (the ``vehicle model check --json`` contract).
ROW_KEYS = (
    "index",
    "steering_angle",
    "speed",
    "steer_norm",
    "throttle_norm",
    "steer_ns",
    "throttle_ns",
)


class ActionError(ValueError):
    """Outputs or settings the action table cannot turn into a safe command."""


@dataclass(frozen=True, slots=True)
class Action:
    index: int | None  # the discrete action chosen; None for a continuous model
    steer_norm: float  # [-1, 1], positive = left
    throttle_norm: float  # [-1, 1] scaled by the throttle limit, positive = forward


def speed_to_throttle(
    speeds: np.ndarray, vmax: float, throttle_limit: float, speed_table: SpeedTable | None
) -> np.ndarray:
    """Speeds (m/s) to normalised throttle: the speed table if calibrated, else the curve."""
    speeds = np.asarray(speeds, dtype=np.float64)
    if speed_table is not None:
        base = speed_table.throttle_for(speeds)
    else:
        # a v^2 + b v written in v / vmax, which stays finite for any vmax > 0
        ratio = speeds / vmax
        base = np.clip(-1.2 * ratio**2 + 2.2 * ratio, -1.0, 1.0)
    return throttle_limit * base


def _row(
    index: int | None, angle: float, speed: float, steer: float, throttle: float, cal: Calibration
) -> dict[str, Any]:
    return {
        "index": index,
        "steering_angle": float(angle),
        "speed": float(speed),
        "steer_norm": float(steer),
        "throttle_norm": float(throttle),
        "steer_ns": cal.steering.to_pulse(steer),
        "throttle_ns": cal.throttle.to_pulse(throttle),
    }


class ActionTable(ABC):
    """Network outputs -> ``Action``; build with ``ActionTable.build``."""

    def __init__(self, calibration: Calibration, throttle_limit: float) -> None:
        if isinstance(throttle_limit, bool) or not isinstance(throttle_limit, int | float):
            raise ActionError(f"throttle limit must be a number in [0, 1], got {throttle_limit!r}")
        if not (math.isfinite(throttle_limit) and 0.0 <= throttle_limit <= 1.0):
            raise ActionError(f"throttle limit must be within [0, 1], got {throttle_limit}")
        self.calibration = calibration
        self.throttle_limit = float(throttle_limit)

    @staticmethod
    def build(space: ActionSpace, calibration: Calibration, throttle_limit: float) -> ActionTable:
        if isinstance(space, DiscreteActionSpace):
            return DiscreteActionTable(space, calibration, throttle_limit)
        if isinstance(space, ContinuousActionSpace):
            return ContinuousActionTable(space, calibration, throttle_limit)
        raise ActionError(f"unknown action space {space!r}")

    def _checked(self, outputs: np.ndarray, n: int) -> np.ndarray:
        """NaN would make argmax pick an arbitrary action: refuse rather than drive on it."""
        values = np.asarray(outputs)
        if values.shape != (n,):
            raise ActionError(f"expected {n} model outputs, got shape {values.shape}")
        if not np.isfinite(values).all():
            raise ActionError("the model produced non-finite outputs")
        return values

    @abstractmethod
    def decide(self, outputs: np.ndarray) -> Action: ...

    @abstractmethod
    def rows(self) -> list[dict[str, Any]]:
        """The table for people and tools (``vehicle model check --json``, the HIL rig)."""

    @abstractmethod
    def explain(self, outputs: np.ndarray) -> dict[str, Any]:
        """The row of the action ``outputs`` choose (``vehicle model predict``)."""


class DiscreteActionTable(ActionTable):
    def __init__(
        self, space: DiscreteActionSpace, calibration: Calibration, throttle_limit: float
    ) -> None:
        super().__init__(calibration, throttle_limit)
        self.space = space
        angles = np.array([a.steering_angle for a in space.actions])
        speeds = np.array([a.speed for a in space.actions])
        widest = np.abs(angles).max()
        steer = angles / widest if widest > 0 else np.zeros_like(angles)
        throttle = speed_to_throttle(
            speeds, np.abs(speeds).max(), self.throttle_limit, calibration.speed_table
        )
        self.actions = tuple(
            Action(i, float(s), float(t))
            for i, (s, t) in enumerate(zip(steer, throttle, strict=True))
        )

    def decide(self, outputs: np.ndarray) -> Action:
        return self.actions[int(self._checked(outputs, len(self.actions)).argmax())]

    def explain(self, outputs: np.ndarray) -> dict[str, Any]:
        return self.rows()[self.decide(outputs).index]  # type: ignore[index]

    def rows(self) -> list[dict[str, Any]]:
        return [
            _row(
                a.index, s.steering_angle, s.speed, a.steer_norm, a.throttle_norm, self.calibration
            )
            for a, s in zip(self.actions, self.space.actions, strict=True)
        ]


class ContinuousActionTable(ActionTable):
    """Outputs (steer, speed) clipped to [-1, 1] and mapped linearly onto the model's ranges."""

    def __init__(
        self, space: ContinuousActionSpace, calibration: Calibration, throttle_limit: float
    ) -> None:
        super().__init__(calibration, throttle_limit)
        self.space = space
        self._steer_scale = max(abs(space.steering_low), abs(space.steering_high))

    def _map(self, steer_out: float, speed_out: float) -> tuple[float, float, float, float]:
        s = self.space
        x, y = min(1.0, max(-1.0, steer_out)), min(1.0, max(-1.0, speed_out))
        angle = s.steering_low + (x + 1.0) / 2.0 * (s.steering_high - s.steering_low)
        speed = s.speed_low + (y + 1.0) / 2.0 * (s.speed_high - s.speed_low)
        throttle = speed_to_throttle(
            speed, s.speed_high, self.throttle_limit, self.calibration.speed_table
        )
        return angle, speed, angle / self._steer_scale, float(throttle)

    def decide(self, outputs: np.ndarray) -> Action:
        steer_out, speed_out = self._checked(outputs, 2)
        _, _, steer, throttle = self._map(float(steer_out), float(speed_out))
        return Action(None, steer, throttle)

    def explain(self, outputs: np.ndarray) -> dict[str, Any]:
        steer_out, speed_out = self._checked(outputs, 2)
        return _row(None, *self._map(float(steer_out), float(speed_out)), self.calibration)

    def rows(self) -> list[dict[str, Any]]:
        """The ends and middle of the ranges (outputs -1, 0, +1 on both)."""
        rows = []
        for out in (-1.0, 0.0, 1.0):
            row = _row(None, *self._map(out, out), self.calibration)
            rows.append({"outputs": [out, out], **row})
        return rows
