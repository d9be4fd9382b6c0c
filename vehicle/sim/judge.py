"""Lap judging as DeepRacer does it: progress of the front point, laps, off-track.

Progress is the projection of the car's front point (0.14 m ahead of the rear axle) on the
centre line, accumulated from the start so laps count once each way round. The car is off
track when none of its four wheels is on the road polygon; the caller then puts it back on
the centre line (``reset_pose``), as DeepRacer's evaluation does, and the judge counts it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from vehicle.sim.dynamics import Car
from vehicle.sim.track import Track

FRONT_POINT_M = 0.14


def laps_to_drive(track: Track, laps: int) -> int:
    """Laps a run of ``laps`` asks for: a route that is not a loop is driven once (one run)."""
    return laps if track.loop else 1


@dataclass(frozen=True)
class Lap:
    lap: int
    time_s: float
    off_track: int


class Judge:
    """Watches one car on one track from ``t_start`` on."""

    def __init__(self, track: Track, car: Car, t_start: float) -> None:
        self.track = track
        self.car = car
        self.laps: list[Lap] = []
        self.off_track = 0
        self._lap_off_track = 0
        self._lap_start = t_start
        self._s_prev = self._front_s()
        self._distance = 0.0  # metres driven along the centre line since the start

    def _front_s(self) -> float:
        s, _ = self.track.project(self.car.state.point_ahead(FRONT_POINT_M))
        return float(s[0])

    @property
    def progress(self) -> float:
        """Percent of the current lap (DeepRacer's ``progress``), 0..100."""
        if not self.track.loop:  # a route from one end to the other: where along it
            return 100.0 * self._s_prev / self.track.length
        lap_distance = self._distance - len(self.laps) * self.track.length
        return max(0.0, min(100.0, 100.0 * lap_distance / self.track.length))

    def observe(self, t: float) -> bool:
        """Update progress and laps at time ``t``; True when the car has just gone off track
        (the caller resets it with ``reset_pose``)."""
        s = self._front_s()
        delta = s - self._s_prev
        if self.track.loop:
            delta = math.remainder(delta, self.track.length)
        self._distance += delta
        self._s_prev = s
        if self.track.loop:
            while self._distance >= (len(self.laps) + 1) * self.track.length:
                self._finish_lap(t)
        elif not self.laps and s >= self.track.length - 1e-6:
            self._finish_lap(t)
        if self.laps and not self.track.loop:
            return False  # past the finish line the run is over: nothing left to judge
        if self.track.on_road(self.car.wheels()).any():
            return False
        self.off_track += 1
        self._lap_off_track += 1
        return True

    def _finish_lap(self, t: float) -> None:
        self.laps.append(Lap(len(self.laps) + 1, t - self._lap_start, self._lap_off_track))
        self._lap_start = t
        self._lap_off_track = 0

    def reset_pose(self) -> None:
        """Put the car back on the centre line where it left, pointing along the track,
        stopped (DeepRacer's reset after an off-track)."""
        s = self._front_s() - FRONT_POINT_M
        state = self.car.state
        state.x, state.y, state.heading = self.track.pose_at(s)
        state.speed = 0.0
        state.steer = 0.0
        self._s_prev = self._front_s()

    def run_progress(self, laps_wanted: int) -> float:
        """Percent of the whole run (``laps_wanted`` laps; one pass of a non-loop route):
        100.0 once every lap is done, else the finished laps plus the current one's share."""
        wanted = laps_to_drive(self.track, laps_wanted)
        if len(self.laps) >= wanted:
            return 100.0
        return 100.0 * (len(self.laps) + self.progress / 100.0) / wanted

    def result(self, laps_wanted: int | None = None) -> dict:
        """JSON-safe summary (``vehicle sim --json``). ``progress`` is of the whole run when
        ``laps_wanted`` is given, else of the current lap (DeepRacer's meaning)."""
        progress = self.progress if laps_wanted is None else self.run_progress(laps_wanted)
        return {
            "track": self.track.name,
            "laps": [asdict(lap) | {"time_s": round(lap.time_s, 3)} for lap in self.laps],
            "completed_laps": len(self.laps),
            "off_track": self.off_track,
            "progress": round(progress, 2),
        }
