"""The simulated car: a kinematic bicycle driven by servo and ESC pulses.

Pulses go back to normalised commands through the calibration (``from_pulse``), so the whole
stack from camera to pulse is in the loop. Steering: ``steer_norm * max_steer`` (positive =
left), reached at a bounded servo rate. Speed: DeepRacer's throttle curve
``t = -1.2 (v/vmax)^2 + 2.2 (v/vmax)`` inverted (or the calibration's speed table, when it has
one), reached through a first-order ESC lag. The curve assumes that full throttle makes the
model's top speed, so ``top_speed_mps`` is set from the model: an action's m/s is then m/s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from calibration.model import Calibration


class DynamicsError(ValueError):
    """Car parameters or a time step that the model cannot integrate."""


@dataclass(frozen=True)
class CarParams:
    wheelbase_m: float = 0.164
    half_track_m: float = 0.08  # wheel centres either side of the centre line of the car
    max_steer_rad: float = math.radians(30.0)
    top_speed_mps: float = 4.0  # speed at full throttle (see module docstring)
    servo_rate_rad_s: float = math.radians(400.0)
    esc_tau_s: float = 0.15

    def __post_init__(self) -> None:
        if not 0.05 <= self.wheelbase_m <= 1.0:
            raise DynamicsError(f"wheelbase must be 0.05..1 m, got {self.wheelbase_m}")
        if not 0.0 < self.max_steer_rad < math.radians(60):
            raise DynamicsError(f"max steering must be 0..60 deg, got {self.max_steer_rad} rad")
        if not 0.0 < self.top_speed_mps <= 4.0:
            raise DynamicsError(f"top speed must be 0..4 m/s, got {self.top_speed_mps}")
        if self.servo_rate_rad_s <= 0 or self.esc_tau_s <= 0:
            raise DynamicsError("servo rate and ESC time constant must be positive")


@dataclass
class CarState:
    """Pose of the rear-axle reference point, speed and the current front-wheel angle."""

    x: float
    y: float
    heading: float
    speed: float = 0.0
    steer: float = 0.0

    def point_ahead(self, distance_m: float) -> tuple[float, float]:
        return (
            self.x + distance_m * math.cos(self.heading),
            self.y + distance_m * math.sin(self.heading),
        )


def speed_for_throttle(throttle_norm: float, top_speed_mps: float) -> float:
    """Inverse of DeepRacer's throttle curve on its rising branch; symmetric in reverse."""
    t = min(1.0, abs(throttle_norm))
    v = 1.0 if t >= 1.0 else (2.2 - math.sqrt(4.84 - 4.8 * t)) / 2.4
    return math.copysign(v * top_speed_mps, throttle_norm)


class Car:
    """Integrates the car from the two pulses it receives."""

    def __init__(self, params: CarParams, calibration: Calibration, state: CarState) -> None:
        self.params = params
        self.calibration = calibration
        self.state = state

    def targets(self, steering_ns: int, throttle_ns: int) -> tuple[float, float]:
        """(wheel angle rad, speed m/s) that these pulses ask for."""
        steer_norm = self.calibration.steering.from_pulse(steering_ns)
        throttle_norm = self.calibration.throttle.from_pulse(throttle_ns)
        table = self.calibration.speed_table
        if table is None:
            speed = speed_for_throttle(throttle_norm, self.params.top_speed_mps)
        else:
            throttles, speeds = zip(*table.points, strict=True)
            speed = float(np.interp(throttle_norm, throttles, speeds))
        return steer_norm * self.params.max_steer_rad, speed

    def step(self, dt: float, steering_ns: int, throttle_ns: int) -> CarState:
        """Advance ``dt`` seconds under these pulses; returns the new state."""
        if not 0.0 < dt <= 0.5:
            raise DynamicsError(f"time step must be in (0, 0.5] s, got {dt}")
        p, s = self.params, self.state
        target_steer, target_speed = self.targets(steering_ns, throttle_ns)
        max_turn = p.servo_rate_rad_s * dt
        s.steer += min(max_turn, max(-max_turn, target_steer - s.steer))
        s.speed += (target_speed - s.speed) * (1.0 - math.exp(-dt / p.esc_tau_s))
        yaw_rate = s.speed * math.tan(s.steer) / p.wheelbase_m
        turn = yaw_rate * dt
        if abs(turn) < 1e-9:
            s.x += s.speed * dt * math.cos(s.heading)
            s.y += s.speed * dt * math.sin(s.heading)
        else:
            radius = s.speed / yaw_rate
            s.x += radius * (math.sin(s.heading + turn) - math.sin(s.heading))
            s.y -= radius * (math.cos(s.heading + turn) - math.cos(s.heading))
        s.heading = math.remainder(s.heading + turn, math.tau)
        return s

    def wheels(self) -> np.ndarray:
        """(4, 2) wheel contact points: rear left, rear right, front left, front right."""
        s, p = self.state, self.params
        c, n = math.cos(s.heading), math.sin(s.heading)
        local = np.array(
            [
                (0.0, p.half_track_m),
                (0.0, -p.half_track_m),
                (p.wheelbase_m, p.half_track_m),
                (p.wheelbase_m, -p.half_track_m),
            ]
        )
        return np.column_stack(
            (s.x + c * local[:, 0] - n * local[:, 1], s.y + n * local[:, 0] + c * local[:, 1])
        )
