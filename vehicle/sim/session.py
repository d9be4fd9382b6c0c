"""A simulated car driven by the whole stack: render -> drive loop -> governor -> SimPwm -> car.

The car is the same ``DriveCore`` the drive process runs, built on a ``SimPwm`` back-end. In
lockstep (headless, tests) its clock is simulated time, so every freshness check sees sim
seconds and a lap takes as long as the computer needs, not as the lap lasts. In real time the
car runs its own drive thread and watchdog on the wall clock, as on the car (and, with the
console, beside the same service process), and the simulation only supplies frames and moves
the car.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from vehicle.config import Settings
from vehicle.core.camera import Frame
from vehicle.core.car import DriveCore
from vehicle.core.model import LoadedModel, open_model
from vehicle.core.pwm.sim import SimPwm
from vehicle.model import ActionSpace, ContinuousActionSpace
from vehicle.runtime_state import load_runtime_state
from vehicle.sim.dynamics import Car, CarParams, CarState
from vehicle.sim.judge import Judge, laps_to_drive
from vehicle.sim.render import Renderer
from vehicle.sim.track import Track

MAX_STEER_DEG = 30.0  # the servo's travel; a model's widest angle maps onto at most this


class SimError(ValueError):
    """A simulation that cannot be set up or run as asked."""


class SimClock:
    """Simulated seconds: time moves only when the simulation advances it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, dt: float) -> None:
        self.now += dt


def car_params_for(space: ActionSpace) -> CarParams:
    """The car DeepRacer's mapping assumes for this model: full lock is the model's widest
    angle and full throttle its top speed, so degrees and m/s in the model mean what they say."""
    if isinstance(space, ContinuousActionSpace):
        widest = max(abs(space.steering_low), abs(space.steering_high))
        top = abs(space.speed_high)
    else:
        widest = max(abs(a.steering_angle) for a in space.actions)
        top = max(abs(a.speed) for a in space.actions)
    widest = min(MAX_STEER_DEG, widest) if widest > 0 else MAX_STEER_DEG
    return CarParams(max_steer_rad=math.radians(widest), top_speed_mps=min(4.0, top))


def build_core(
    settings: Settings,
    model: Path | LoadedModel,
    clock: Callable[[], float],
    *,
    throttle_limit: float | None = None,
    lockstep: bool = True,
) -> tuple[DriveCore, SimPwm]:
    """The car on a simulated back-end, in autonomous mode, not yet started. A path names a
    bundle already checked (the bundled model, a test's own)."""
    if not isinstance(model, LoadedModel):
        model = open_model(Path(model), Path(model).name)
    backend = SimPwm(settings.pwm.period_ns, clock=clock)
    try:
        car = DriveCore(
            settings,
            backend,
            model=model,
            throttle_limit=(
                load_runtime_state(settings.runtime_state_path).throttle_limit
                if throttle_limit is None
                else throttle_limit
            ),
            mode="autonomous",
            clock=clock,
            watchdog=not lockstep,
            shared_memory=not lockstep,
        )
    except BaseException:
        backend.close()
        raise
    return car, backend


class Simulation:
    """One car on one track under the drive core's outputs."""

    def __init__(
        self,
        track: Track,
        core: DriveCore,
        backend: SimPwm,
        clock: Callable[[], float],
        *,
        start_s: float = 0.0,
    ) -> None:
        active = core.drive.active
        if active is None:
            raise SimError("the simulation needs a loaded model")
        self.track = track
        self.core = core
        self.backend = backend
        self.clock = clock
        self.dt = core.settings.loop.period_s
        self.renderer = Renderer(track)
        x, y, heading = track.pose_at(start_s)
        self.car = Car(
            car_params_for(active.model.metadata.action_space),
            core.calibration,
            CarState(x, y, heading),
        )
        self.judge = Judge(track, self.car, clock())

    def capture(self) -> Frame:
        """Render what the camera sees now and hand it to the car's frame slot."""
        s = self.car.state
        return self.core.slot.put(self.renderer.render(s.x, s.y, s.heading), self.clock())

    def advance(self, dt: float) -> None:
        """Move the car ``dt`` seconds under the pulses on the outputs; judge; reset off-track."""
        steering = self.backend.pulse("steering")
        throttle = self.backend.pulse("throttle")
        self.car.step(dt, steering, throttle)
        if self.judge.observe(self.clock()):
            self.judge.reset_pose()

    def done(self, laps: int) -> bool:
        """``laps`` completed; a track that is not a loop is done when driven once."""
        return len(self.judge.laps) >= laps_to_drive(self.track, laps)


def run_lockstep(sim: Simulation, clock: SimClock, laps: int, max_sim_s: float) -> dict:
    """As fast as the computer goes: each frame is driven, then time moves one period."""
    drive, governor = sim.core.drive, sim.core.governor
    while not sim.done(laps) and clock() < max_sim_s:
        drive.step(sim.capture())
        clock.advance(sim.dt)
        governor.tick()
        sim.advance(sim.dt)
    return sim.judge.result(laps)


def run_realtime(
    sim: Simulation,
    laps: int,
    max_sim_s: float,
    should_stop: Callable[[], bool],
    on_tick: Callable[[Simulation], None] | None = None,
) -> dict:
    """Frames at the loop's nominal rate on the wall clock; the car's own drive thread
    answers them, as on the car."""
    started = last = time.monotonic()
    next_frame = started
    while not sim.done(laps) and last - started < max_sim_s and not should_stop():
        sim.capture()
        next_frame += sim.dt
        time.sleep(max(0.0, next_frame - time.monotonic()))
        now = time.monotonic()
        sim.advance(min(now - last, 0.5))
        last = now
        if on_tick is not None:
            on_tick(sim)
    return sim.judge.result(laps)
