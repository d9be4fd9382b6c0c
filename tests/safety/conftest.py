"""Shared fixtures: a hand-driven clock, the mock PWM "hardware" on that clock, a governor."""

from __future__ import annotations

import pytest

from calibration.model import Calibration
from vehicle.core.pwm.mock import MockPwm
from vehicle.core.safety import GovernorLimits, SafetyGovernor
from vehicle.sim.session import SimClock


@pytest.fixture
def clock() -> SimClock:
    return SimClock(start=100.0)  # lockstep time, as the simulator's


@pytest.fixture
def pwm(clock: SimClock) -> MockPwm:
    return MockPwm(clock=clock)


@pytest.fixture
def limits() -> GovernorLimits:
    return GovernorLimits(
        throttle_limit=1.0,
        auto_stale_after_s=0.1,
        manual_deadline_s=0.5,
        calibration_preview_s=0.8,
        throttle_ramp_per_s=4.0,
        ramp_max_dt_s=0.1,
    )


@pytest.fixture
def governor(pwm: MockPwm, limits: GovernorLimits, clock: SimClock) -> SafetyGovernor:
    gov = SafetyGovernor(pwm, Calibration(), limits, clock=clock)
    yield gov
    gov.close()


@pytest.fixture
def ramp_to(governor: SafetyGovernor, clock: SimClock):
    """Send manual commands 0.05 s apart until the ramp has reached ``throttle``."""

    def ramp(steer: float, throttle: float) -> None:
        for _ in range(100):
            clock.advance(0.05)
            governor.command_manual(steer, throttle)
            if governor.status().throttle_norm == throttle:
                return
        raise AssertionError(f"throttle never reached {throttle}: {governor.status()}")

    return ramp
