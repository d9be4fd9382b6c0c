"""SimPwm: the simulated car reads exactly the pulses that were written, with their time."""

from __future__ import annotations

import pytest

from vehicle.core.pwm.base import PwmError
from vehicle.core.pwm.sim import SimPwm


class Clock:
    def __init__(self) -> None:
        self.now = 5.0

    def __call__(self) -> float:
        return self.now


def test_latest_pulse_and_time_per_channel() -> None:
    clock = Clock()
    pwm = SimPwm(clock=clock)
    pwm.set_pulse("steering", 1_450_000)
    clock.now = 6.0
    pwm.set_pulse("throttle", 1_446_000)
    pwm.set_pulse("steering", 1_500_000)
    assert pwm.pulse("steering") == 1_500_000
    assert pwm.pulse("throttle") == 1_446_000
    assert pwm.written_at("steering") == 6.0


def test_no_pulse_written_is_an_error_not_neutral() -> None:
    pwm = SimPwm()
    assert pwm.written_at("throttle") is None
    with pytest.raises(PwmError, match="neutral must be explicit"):
        pwm.pulse("throttle")


@pytest.mark.parametrize(
    ("channel", "ns"), [("steering", 100), ("throttle", 3_000_000), ("brake", 1_500_000)]
)
def test_bad_pulse_is_rejected_and_nothing_changes(channel, ns) -> None:
    pwm = SimPwm()
    pwm.set_pulse("steering", 1_450_000)
    with pytest.raises(PwmError):
        pwm.set_pulse(channel, ns)
    assert pwm.pulse("steering") == 1_450_000


def test_closed_backend_keeps_the_last_pulse_like_real_pwm() -> None:
    pwm = SimPwm()
    pwm.set_pulse("throttle", 1_446_000)
    pwm.close()
    pwm.close()
    with pytest.raises(PwmError, match="closed"):
        pwm.set_pulse("throttle", 1_500_000)
    assert pwm.pulse("throttle") == 1_446_000
