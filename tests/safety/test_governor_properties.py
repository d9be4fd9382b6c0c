"""Property: whatever arrives, in whatever order, the throttle cannot run away.

A hypothesis state machine throws commands, modes, faults, limit changes, calibration
previews, hardware failures and clock steps at the governor and checks, after every step:
- a throttle pulse written while driving lies within the limit-scaled calibrated range;
- throttle magnitude never grows faster than the ramp allows, and never flips sign directly;
- whenever the governor is disarmed, faulted, or its armed source is stale, the hardware
  holds exactly the calibrated neutral (once the watchdog has had its tick).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from calibration.model import Calibration, ChannelCalibration
from vehicle.core.pwm.mock import MockPwm, PulseRecord
from vehicle.core.safety import GovernorLimits, GovernorState, SafetyGovernor
from vehicle.sim.session import SimClock

DRIVING = (GovernorState.MANUAL, GovernorState.AUTONOMOUS)
CALIBRATIONS = [
    Calibration(),
    Calibration(
        steering=ChannelCalibration(1_000_000, 1_500_000, 2_000_000, -1),
        throttle=ChannelCalibration(1_100_000, 1_520_000, 1_900_000, 1),
    ),
]
command = st.one_of(st.sampled_from([-1.0, -0.5, 0.0, 0.5, 1.0]), st.floats(-3.0, 3.0))
limit = st.floats(min_value=0.0, max_value=1.0)
EPS = 1e-9


@dataclass(frozen=True)
class Write:
    """One throttle write and what was in force when it happened."""

    t: float
    state: GovernorState
    limit: float
    cal: Calibration
    ns: int
    norm: float


class GovernorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = SimClock(start=1000.0)
        self.pwm = MockPwm(clock=self.clock)
        self.limits = GovernorLimits(throttle_limit=0.8)
        self.cal = CALIBRATIONS[0]
        self.gov = SafetyGovernor(self.pwm, self.cal, self.limits, clock=self.clock)
        self.writes: list[Write] = []
        self.pwm.add_listener(self._record)
        self.fresh_until = -math.inf  # our own model of the armed source's deadline

    def _manual(self, steer: float, throttle: float) -> None:
        if self.gov.status().state is GovernorState.MANUAL:
            self.fresh_until = self.clock.now + self.limits.manual_deadline_s
        self.gov.command_manual(steer, throttle)

    def _autonomous(self, steer: float, throttle: float, age: float) -> None:
        expires = self.clock.now - age + self.limits.auto_stale_after_s
        if self.gov.status().state is GovernorState.AUTONOMOUS and expires >= self.clock.now:
            self.fresh_until = expires
        self.gov.command_autonomous(steer, throttle, self.clock.now - age)

    def _operator(self, action, *args) -> None:
        """Arm, disarm, fault, calibration: each drops whatever command was held."""
        self.fresh_until = -math.inf
        action(*args)

    def _record(self, record: PulseRecord) -> None:
        # The listener runs inside the governor's lock: read its fields, not status().
        if record.channel == "throttle":
            gov = self.gov
            limit = gov.limits.throttle_limit
            norm = gov._cal.throttle.from_pulse(record.ns)
            self.writes.append(Write(record.t, gov._state, limit, gov._cal, record.ns, norm))

    # ------------------------------------------------------------------------------ rules

    @rule(mode=st.sampled_from(["manual", "autonomous"]))
    def arm(self, mode):
        self._operator(self.gov.arm, mode)

    @rule()
    def disarm(self):
        self._operator(self.gov.disarm)

    @rule()
    def fault(self):
        self._operator(self.gov.fault, "injected")

    @rule(steer=command, throttle=command)
    def manual(self, steer, throttle):
        self._manual(steer, throttle)

    @rule(steer=command, throttle=command, age=st.floats(min_value=0.0, max_value=0.3))
    def autonomous(self, steer, throttle, age):
        self._autonomous(steer, throttle, age)

    @rule(
        steer=command,
        throttles=st.one_of(
            st.lists(command, min_size=1, max_size=12),  # changes of mind, reversals
            st.tuples(command, st.integers(1, 12)).map(lambda held: [held[0]] * held[1]),
        ),
        dt=st.floats(min_value=0.0, max_value=0.12),
        age=st.floats(min_value=0.0, max_value=0.12),
    )
    def drive(self, steer, throttles, dt, age):
        """A stream of commands, as the drive loop or a held joystick sends them."""
        for throttle in throttles:
            self.clock.now += dt
            self._manual(steer, throttle)
            self._autonomous(steer, throttle, age)

    @rule(
        dt=st.one_of(
            st.sampled_from([0.001, 0.02, 0.05, 0.099, 0.101, 0.2, 0.499, 0.501, 0.81]),
            st.floats(min_value=0.0, max_value=1.0),
        )
    )
    def advance(self, dt):
        self.clock.now += dt

    @rule(fraction=limit)
    def set_limit(self, fraction):
        self.gov.set_throttle_limit(fraction)

    @rule()
    def enter_calibration(self):
        self._operator(self.gov.enter_calibration)

    @rule()
    def exit_calibration(self):
        if self.gov.status().state is GovernorState.CALIBRATING:
            self._operator(self.gov.exit_calibration)
        else:
            self.gov.exit_calibration()  # outside calibration it changes nothing

    @rule(
        channel=st.sampled_from(["steering", "throttle"]),
        ns=st.integers(min_value=500_000, max_value=2_500_000),
    )
    def calibration_pulse(self, channel, ns):
        self.gov.calibration_pulse(channel, ns)

    @precondition(lambda self: self.gov.status().state not in DRIVING)
    @rule(index=st.integers(min_value=0, max_value=len(CALIBRATIONS) - 1))
    def set_calibration(self, index):
        self.cal = CALIBRATIONS[index]
        self._operator(self.gov.set_calibration, self.cal)

    @rule(steer=command, throttle=command)
    def hardware_glitch(self, steer, throttle):
        """The outputs refuse writes for one command (an I2C or sysfs error), then recover."""
        self.pwm.fail_writes = True
        self._manual(steer, throttle)
        self._autonomous(steer, throttle, 0.0)
        self.gov.tick()
        self.pwm.fail_writes = False

    @rule()
    def tick(self):
        self.gov.tick()

    # ------------------------------------------------------------------------- invariants

    @invariant()
    def driving_pulses_stay_within_the_limit_scaled_range(self):
        for w in self.writes:
            if w.state in DRIVING:
                ends = sorted((w.cal.throttle.to_pulse(-w.limit), w.cal.throttle.to_pulse(w.limit)))
                assert ends[0] <= w.ns <= ends[1], w

    @invariant()
    def throttle_ramps_up_slowly_and_never_flips(self):
        ramp, cap = self.limits.throttle_ramp_per_s, self.limits.ramp_max_dt_s
        for before, w in pairwise(self.writes):
            if w.state not in DRIVING:
                continue
            a, b = before.norm, w.norm
            assert a * b >= -EPS, f"direction flipped without neutral: {a} -> {b}"
            # pulses are whole ns, so allow one ns of rounding on each side
            t = w.cal.throttle
            slack = 2.0 / min(t.mid_ns - t.min_ns, t.max_ns - t.mid_ns)
            assert abs(b) - abs(a) <= ramp * min(w.t - before.t, cap) + slack, (before, w)
        self.writes[:-1] = []

    @invariant()
    def neutral_whenever_disarmed_faulted_or_stale(self):
        self.gov.tick()  # the watchdog's job, which runs independently on the car
        status = self.gov.status()
        stale = self.clock.now > self.fresh_until
        if status.state in (GovernorState.DISARMED, GovernorState.FAULT) or (
            status.state in DRIVING and stale
        ):
            neutral = {"throttle": self.cal.throttle.mid_ns, "steering": self.cal.steering.mid_ns}
            assert self.pwm.current == neutral, (status, self.pwm.current)
        if status.state in DRIVING:
            assert status.stale == stale
            lim = status.throttle_limit
            ends = sorted((self.cal.throttle.to_pulse(-lim), self.cal.throttle.to_pulse(lim)))
            assert ends[0] <= self.pwm.current["throttle"] <= ends[1], (status, ends)
        assert status.throttle_ns == self.pwm.current["throttle"]

    def teardown(self):
        self.gov.close()


GovernorMachine.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None
)
TestGovernorProperties = GovernorMachine.TestCase
