"""Pure pursuit on the centre line: the teacher for training and proof a track is drivable."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vehicle.sim.dynamics import CarState
from vehicle.sim.track import Track


@dataclass(frozen=True)
class PurePursuit:
    """Steer the rear axle onto an arc through the centre-line point ``lookahead_m`` ahead."""

    track: Track
    wheelbase_m: float = 0.164
    lookahead_m: float = 0.45
    max_steer_deg: float = 30.0

    def steering_deg(self, state: CarState) -> float:
        """Wheel angle in degrees (positive = left), clipped to the servo's range."""
        s, _ = self.track.project((state.x, state.y))
        tx, ty, _ = self.track.pose_at(float(s[0]) + self.lookahead_m)
        dx, dy = tx - state.x, ty - state.y
        alpha = math.atan2(dy, dx) - state.heading
        distance = max(math.hypot(dx, dy), 1e-3)
        angle = math.degrees(math.atan2(2.0 * self.wheelbase_m * math.sin(alpha), distance))
        return max(-self.max_steer_deg, min(self.max_steer_deg, angle))
