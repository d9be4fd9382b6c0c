"""One test per rule of the safety governor, named after the rule."""

from __future__ import annotations

import math
import threading

import pytest

from calibration.model import Calibration, ChannelCalibration
from vehicle.config import LoopSettings
from vehicle.core.pwm.base import PwmError
from vehicle.core.pwm.mock import MockPwm, PulseRecord
from vehicle.core.safety import GovernorLimits, GovernorState, SafetyError, SafetyGovernor

CAL = Calibration()
STEER_MID = CAL.steering.mid_ns
THROTTLE_MID = CAL.throttle.mid_ns


def last(pwm: MockPwm, channel: str) -> int:
    return pwm.pulses(channel)[-1]


def is_neutral(pwm: MockPwm) -> bool:
    return pwm.current == {"throttle": THROTTLE_MID, "steering": STEER_MID}


class OneChannelFails(MockPwm):
    """Hardware whose ``channel`` output refuses writes of anything but ``allowed``."""

    def __init__(self, channel: str, allowed: int | None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.failing_channel, self.allowed = channel, allowed

    def _write(self, channel, ns):
        if channel == self.failing_channel and ns != self.allowed:
            raise PwmError(f"{channel} bus error")
        super()._write(channel, ns)


# --------------------------------------------------------------------------- boot, arming


def test_boots_disarmed_and_neutral(governor, pwm, clock):
    status = governor.status()
    assert status.state is GovernorState.DISARMED
    assert status.fault_reason is None
    # Neutral is written explicitly, throttle first, at construction.
    assert pwm.history == [
        PulseRecord(clock.now, "throttle", THROTTLE_MID),
        PulseRecord(clock.now, "steering", STEER_MID),
    ]
    assert (status.throttle_ns, status.steering_ns, status.writes) == (THROTTLE_MID, STEER_MID, 2)


def test_boot_write_failure_latches_fault(clock):
    pwm = MockPwm(clock=clock)
    pwm.fail_writes = True
    gov = SafetyGovernor(pwm, CAL, clock=clock)
    status = gov.status()
    assert status.state is GovernorState.FAULT
    assert "PWM write failed" in status.fault_reason
    assert status.writes == 0


def test_commands_ignored_while_disarmed(governor, pwm, clock):
    assert governor.command_manual(0.5, 0.5) is False
    assert governor.command_autonomous(0.5, 0.5, clock.now) is False
    assert governor.calibration_pulse("throttle", 1_500_000) is False
    assert len(pwm.history) == 2


def test_arm_accepts_only_its_own_source(governor, pwm, clock):
    governor.arm("manual")
    writes = len(pwm.history)
    assert governor.command_autonomous(0.5, 0.5, clock.now) is False
    assert governor.calibration_pulse("steering", 1_500_000) is False
    assert len(pwm.history) == writes
    governor.arm("autonomous")
    writes = len(pwm.history)
    assert governor.command_manual(0.5, 0.5) is False
    assert len(pwm.history) == writes
    clock.advance(0.05)
    assert governor.command_autonomous(0.5, 0.1, clock.now) is True


@pytest.mark.parametrize("mode", ["auto", "", None, "MANUAL", 1])
def test_arm_rejects_unknown_mode(governor, pwm, mode):
    with pytest.raises(SafetyError, match="mode must be manual or autonomous"):
        governor.arm(mode)
    assert governor.status().state is GovernorState.DISARMED
    assert len(pwm.history) == 2


def test_arm_writes_neutral(governor, pwm):
    governor.arm("manual")
    assert governor.status().state is GovernorState.MANUAL
    assert pwm.pulses("throttle")[-1] == THROTTLE_MID
    assert len(pwm.history) == 4


def test_disarm_goes_neutral_at_once(governor, pwm, ramp_to):
    governor.arm("manual")
    ramp_to(0.7, 0.6)
    assert not is_neutral(pwm)
    governor.disarm()
    assert governor.status().state is GovernorState.DISARMED
    assert is_neutral(pwm)
    assert governor.command_manual(0.7, 0.6) is False


def test_mode_switch_while_armed_goes_through_neutral(governor, pwm, clock, ramp_to):
    governor.arm("manual")
    ramp_to(0.0, 0.8)
    governor.arm("autonomous")
    assert is_neutral(pwm)
    assert governor.status().state is GovernorState.AUTONOMOUS
    # The ramp starts again from neutral: no throttle carried over from the old source.
    clock.advance(0.05)
    governor.command_autonomous(0.0, 0.8, clock.now)
    assert governor.status().throttle_norm == pytest.approx(0.2)


# ------------------------------------------------------------------------ commands, pulses


def test_manual_command_maps_through_calibration(governor, pwm, clock):
    governor.arm("manual")
    clock.advance(0.05)
    assert governor.command_manual(-0.5, 0.1) is True
    assert last(pwm, "steering") == CAL.steering.to_pulse(-0.5) == 1_325_000
    assert last(pwm, "throttle") == CAL.throttle.to_pulse(0.1)
    assert last(pwm, "throttle") < THROTTLE_MID  # polarity -1: forward is a shorter pulse
    status = governor.status()
    assert (status.steer_norm, status.throttle_norm, status.stale) == (-0.5, 0.1, False)


def test_steering_clamped_to_unit_range(governor, pwm, clock):
    governor.arm("manual")
    governor.command_manual(7.0, 0.0)
    assert last(pwm, "steering") == CAL.steering.max_ns
    governor.command_manual(-1e9, 0.0)
    assert last(pwm, "steering") == CAL.steering.min_ns
    assert governor.status().steer_norm == -1.0


def test_throttle_clamped_to_limit(pwm, clock, limits, ramp_to):
    gov = SafetyGovernor(pwm, CAL, GovernorLimits(throttle_limit=0.3), clock=clock)
    gov.arm("manual")
    for _ in range(10):
        clock.advance(0.1)
        gov.command_manual(0.0, 5.0)
    assert gov.status().throttle_norm == 0.3
    assert last(pwm, "throttle") == CAL.throttle.to_pulse(0.3)
    for _ in range(10):
        clock.advance(0.1)
        gov.command_manual(0.0, -5.0)
    assert gov.status().throttle_norm == -0.3
    assert max(pwm.pulses("throttle")) == CAL.throttle.to_pulse(-0.3)
    assert min(pwm.pulses("throttle")) == CAL.throttle.to_pulse(0.3)


def test_lower_throttle_limit_applies_at_once(governor, pwm, ramp_to):
    governor.arm("manual")
    ramp_to(0.2, 0.9)
    governor.set_throttle_limit(0.25)
    assert governor.status().throttle_norm == 0.25
    assert last(pwm, "throttle") == CAL.throttle.to_pulse(0.25)
    assert last(pwm, "steering") == CAL.steering.to_pulse(0.2)
    assert governor.limits.throttle_limit == 0.25


def test_raising_throttle_limit_does_not_move_the_outputs(governor, pwm, ramp_to):
    governor.arm("manual")
    ramp_to(0.0, 0.5)
    writes = len(pwm.history)
    governor.set_throttle_limit(0.9)
    assert len(pwm.history) == writes


@pytest.mark.parametrize("bad", [-0.1, 1.01, math.nan, math.inf, "0.5", True, None])
def test_set_throttle_limit_rejects_bad_values(governor, bad):
    with pytest.raises(SafetyError, match="throttle limit"):
        governor.set_throttle_limit(bad)
    assert governor.limits.throttle_limit == 1.0


def test_throttle_ramps_up_and_cuts_instantly(governor, pwm, clock):
    governor.arm("manual")
    norms = []
    for _ in range(6):
        clock.advance(0.05)  # 4.0/s x 0.05 s = 0.2 per command
        governor.command_manual(0.0, 1.0)
        norms.append(governor.status().throttle_norm)
    assert norms == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    clock.advance(0.001)
    governor.command_manual(0.0, 0.1)  # shrinking towards neutral: no ramp
    assert governor.status().throttle_norm == 0.1
    governor.command_manual(0.0, 0.0)
    assert last(pwm, "throttle") == THROTTLE_MID


def test_ramp_credits_at_most_ramp_max_dt_after_a_pause(governor, clock):
    governor.arm("manual")
    clock.advance(30.0)  # armed and idle for a long time: no credit saved up
    governor.command_manual(0.0, 1.0)
    assert governor.status().throttle_norm == pytest.approx(0.4)  # 4.0/s x 0.1 s


def test_throttle_sign_change_cuts_to_neutral_first(governor, pwm, clock, ramp_to):
    governor.arm("manual")
    ramp_to(0.0, 0.6)
    clock.advance(0.05)
    governor.command_manual(0.0, -0.6)
    assert governor.status().throttle_norm == 0.0
    assert last(pwm, "throttle") == THROTTLE_MID
    clock.advance(0.05)
    governor.command_manual(0.0, -0.6)
    assert governor.status().throttle_norm == pytest.approx(-0.2)


@pytest.mark.parametrize("bad", ["0.5", None, True, [0.1]])
def test_non_numeric_command_is_refused(governor, pwm, clock, bad):
    governor.arm("manual")
    writes = len(pwm.history)
    with pytest.raises(SafetyError, match="must be a number"):
        governor.command_manual(bad, 0.0)
    with pytest.raises(SafetyError, match="must be a number"):
        governor.command_manual(0.0, bad)
    with pytest.raises(SafetyError, match="must be a number"):
        governor.command_autonomous(0.0, 0.0, bad)
    assert len(pwm.history) == writes
    assert governor.status().state is GovernorState.MANUAL


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("mode", ["manual", "autonomous"])
def test_non_finite_command_latches_fault(governor, pwm, clock, bad, mode, ramp_to):
    governor.arm("manual")
    ramp_to(0.3, 0.5)
    governor.arm(mode)
    if mode == "manual":
        ramp_to(0.3, 0.5)
        assert governor.command_manual(0.1, bad) is False
    else:
        assert governor.command_autonomous(bad, 0.1, clock.now) is False
    status = governor.status()
    assert status.state is GovernorState.FAULT
    assert "not finite" in status.fault_reason
    assert is_neutral(pwm)


def test_int_commands_are_numbers(governor, pwm, clock):
    governor.arm("manual")
    clock.advance(1.0)
    assert governor.command_manual(1, 0) is True
    assert last(pwm, "steering") == CAL.steering.max_ns


# -------------------------------------------------------------------------------- freshness


def test_stale_manual_command_goes_neutral(governor, pwm, clock, ramp_to):
    governor.arm("manual")
    ramp_to(0.5, 0.4)
    clock.advance(0.5)  # exactly the deadline: still fresh
    governor.tick()
    assert last(pwm, "throttle") == CAL.throttle.to_pulse(0.4)
    assert governor.status().stale is False
    clock.advance(0.001)
    governor.tick()
    assert is_neutral(pwm)
    status = governor.status()
    assert (status.state, status.stale, status.throttle_norm) == (GovernorState.MANUAL, True, 0)


def test_stale_autonomous_command_goes_neutral(governor, pwm, clock):
    governor.arm("autonomous")
    clock.advance(0.05)
    governor.command_autonomous(-0.4, 0.2, clock.now - 0.02)
    assert last(pwm, "steering") == CAL.steering.to_pulse(-0.4)
    clock.advance(0.07)  # 0.09 s after capture: fresh
    governor.tick()
    assert not is_neutral(pwm)
    clock.advance(0.02)  # 0.11 s after capture: stale
    governor.tick()
    assert is_neutral(pwm)
    assert governor.status().state is GovernorState.AUTONOMOUS


def test_stale_tick_writes_only_once(governor, pwm, clock, ramp_to):
    governor.arm("manual")
    ramp_to(0.0, 0.2)
    clock.advance(1.0)
    governor.tick()
    writes = len(pwm.history)
    governor.tick()
    clock.advance(1.0)
    governor.tick()
    assert len(pwm.history) == writes


def test_armed_without_commands_is_stale_and_neutral(governor, pwm, clock):
    governor.arm("autonomous")
    assert governor.status().stale is True
    assert is_neutral(pwm)


def test_autonomous_command_already_stale_is_not_written(governor, pwm, clock):
    governor.arm("autonomous")
    clock.advance(0.05)
    governor.command_autonomous(0.5, 0.2, clock.now)
    held = dict(pwm.current)
    clock.advance(0.05)
    # A late result for an old frame is dropped; the fresh command before it still holds.
    assert governor.command_autonomous(0.9, 0.9, clock.now - 0.2) is False
    assert pwm.current == held
    clock.advance(0.06)
    # Once the held command is stale too, the dropped result brings neutral with it.
    assert governor.command_autonomous(0.9, 0.9, clock.now - 0.2) is False
    assert is_neutral(pwm)
    assert governor.status().state is GovernorState.AUTONOMOUS


def test_autonomous_freshness_counts_from_capture_not_arrival(governor, pwm, clock):
    governor.arm("autonomous")
    clock.advance(0.05)
    governor.command_autonomous(0.0, 0.2, clock.now - 0.09)  # inference took 90 ms
    clock.advance(0.011)
    governor.tick()
    assert is_neutral(pwm)


def test_autonomous_command_from_the_future_latches_fault(governor, pwm, clock):
    governor.arm("autonomous")
    assert governor.command_autonomous(0.0, 0.2, clock.now + 1.0) is False
    status = governor.status()
    assert status.state is GovernorState.FAULT
    assert "future" in status.fault_reason
    assert is_neutral(pwm)


# ----------------------------------------------------------------------------------- faults


def test_fault_latches_until_rearm(governor, pwm, clock, ramp_to):
    governor.arm("manual")
    ramp_to(0.3, 0.5)
    governor.fault("camera stall")
    assert is_neutral(pwm)
    assert governor.command_manual(0.3, 0.5) is False
    governor.disarm()  # stop does not clear a fault: the operator must see it and re-arm
    governor.fault("a later symptom")
    status = governor.status()
    assert (status.state, status.fault_reason) == (GovernorState.FAULT, "camera stall")
    governor.arm("manual")
    status = governor.status()
    assert (status.state, status.fault_reason) == (GovernorState.MANUAL, None)
    clock.advance(0.05)
    assert governor.command_manual(0.3, 0.1) is True


def test_pwm_error_latches_fault_and_still_attempts_neutral(clock, limits):
    pwm = OneChannelFails("steering", allowed=STEER_MID, clock=clock)
    gov = SafetyGovernor(pwm, CAL, limits, clock=clock)
    gov.arm("manual")
    clock.advance(0.05)
    assert gov.command_manual(0.5, 0.2) is False  # throttle written, steering refused
    status = gov.status()
    assert status.state is GovernorState.FAULT
    assert status.fault_reason == "PWM write failed: steering bus error"
    assert pwm.pulses("throttle")[-2:] == [CAL.throttle.to_pulse(0.2), THROTTLE_MID]
    assert pwm.current == {"throttle": THROTTLE_MID, "steering": STEER_MID}


def test_pwm_error_on_throttle_still_centres_steering(clock, limits):
    pwm = OneChannelFails("throttle", allowed=None, clock=clock)
    gov = SafetyGovernor(pwm, CAL, limits, clock=clock)
    assert gov.status().state is GovernorState.FAULT
    assert pwm.current == {"steering": STEER_MID}


def test_tick_retries_neutral_while_faulted(governor, pwm, clock, ramp_to):
    governor.arm("manual")
    ramp_to(0.5, 0.5)
    pwm.fail_writes = True
    governor.fault("bus down")
    assert not is_neutral(pwm)  # the hardware refused: it still holds the last pulse
    assert governor.status().throttle_ns == CAL.throttle.to_pulse(0.5)  # and status says so
    governor.tick()
    pwm.fail_writes = False
    governor.tick()
    assert is_neutral(pwm)
    assert governor.status().fault_reason == "bus down"


# ------------------------------------------------------------------------------ calibration


def test_calibration_pulse_only_while_calibrating(governor, pwm):
    governor.arm("manual")
    assert governor.calibration_pulse("steering", 1_600_000) is False
    governor.enter_calibration()
    assert governor.status().state is GovernorState.CALIBRATING
    assert governor.calibration_pulse("steering", 1_600_000) is True
    assert last(pwm, "steering") == 1_600_000
    assert governor.command_manual(0.0, 0.5) is False


def test_calibration_pulse_may_leave_the_calibrated_range(governor, pwm):
    governor.enter_calibration()
    assert governor.calibration_pulse("steering", 2_400_000) is True  # finding a new max
    assert last(pwm, "steering") == 2_400_000
    assert governor.status().steer_norm == 1.0


def test_calibration_throttle_preview_expires(governor, pwm, clock):
    governor.enter_calibration()
    governor.calibration_pulse("steering", 1_300_000)
    governor.calibration_pulse("throttle", 1_400_000)
    clock.advance(0.8)
    governor.tick()
    assert last(pwm, "throttle") == 1_400_000
    clock.advance(0.001)
    governor.tick()
    assert pwm.current == {"throttle": THROTTLE_MID, "steering": 1_300_000}  # steering holds
    assert governor.status().throttle_norm == 0


def test_calibration_steering_preview_holds(governor, pwm, clock):
    governor.enter_calibration()
    governor.calibration_pulse("steering", 1_300_000)
    clock.advance(60.0)
    governor.tick()
    assert pwm.current["steering"] == 1_300_000


@pytest.mark.parametrize(
    ("channel", "ns", "message"),
    [
        ("brake", 1_500_000, "unknown channel"),
        ("throttle", 1_500_000.0, "whole ns"),
        ("throttle", True, "whole ns"),
        ("throttle", "1500000", "whole ns"),
        ("steering", 499_999, "outside"),
        ("steering", 2_500_001, "outside"),
    ],
)
def test_calibration_pulse_rejects_bad_input(governor, pwm, channel, ns, message):
    governor.enter_calibration()
    writes = len(pwm.history)
    with pytest.raises(SafetyError, match=message):
        governor.calibration_pulse(channel, ns)
    assert len(pwm.history) == writes


def test_enter_calibration_stops_driving(governor, pwm, ramp_to):
    governor.arm("manual")
    ramp_to(0.4, 0.4)
    governor.enter_calibration()
    assert is_neutral(pwm)


def test_enter_calibration_is_an_operator_reset(governor, pwm):
    governor.fault("x")
    governor.enter_calibration()
    assert governor.status().state is GovernorState.CALIBRATING
    assert governor.status().fault_reason is None


def test_exit_calibration_returns_to_disarmed_neutral(governor, pwm):
    governor.enter_calibration()
    governor.calibration_pulse("steering", 1_300_000)
    governor.exit_calibration()
    assert governor.status().state is GovernorState.DISARMED
    assert is_neutral(pwm)


def test_exit_calibration_outside_calibration_does_nothing(governor, pwm):
    governor.arm("manual")
    writes = len(pwm.history)
    governor.exit_calibration()
    assert governor.status().state is GovernorState.MANUAL
    assert len(pwm.history) == writes


def test_set_calibration_writes_the_new_neutral(governor, pwm):
    new = CAL.with_channel("throttle", ChannelCalibration(1_000_000, 1_500_000, 2_000_000, 1))
    governor.set_calibration(new)
    assert pwm.current["throttle"] == 1_500_000
    governor.arm("manual")
    governor.set_throttle_limit(0.5)
    for _ in range(10):
        governor.command_manual(0.0, 1.0)
    assert max(pwm.pulses("throttle")) <= new.throttle.to_pulse(0.5)


def test_set_calibration_refused_while_driving(governor, pwm):
    governor.arm("autonomous")
    with pytest.raises(SafetyError, match="stop driving"):
        governor.set_calibration(Calibration())
    assert governor.status().state is GovernorState.AUTONOMOUS


def test_set_calibration_rejects_other_types(governor):
    with pytest.raises(SafetyError, match="expected a Calibration"):
        governor.set_calibration({"steering": {}})


# --------------------------------------------------------------------------------- watchdog


def wait_for(predicate, timeout: float = 10.0) -> None:
    """Poll until ``predicate()``; only a generous upper bound, never a timing assertion."""
    done = threading.Event()
    for _ in range(int(timeout / 0.005)):
        if predicate():
            return
        done.wait(0.005)
    raise AssertionError("condition never became true")


def test_watchdog_forces_neutral_when_drive_loop_blocked(governor, pwm, clock, ramp_to):
    governor.arm("manual")
    ramp_to(0.5, 0.5)
    governor.start_watchdog(0.002)
    clock.advance(0.6)  # the drive loop is hung: nobody calls anything
    wait_for(lambda: is_neutral(pwm))
    governor.stop_watchdog()
    assert governor.status().state is GovernorState.MANUAL


def test_watchdog_failure_latches_fault(pwm, limits):
    ticks = {"n": 0}

    def clock() -> float:
        ticks["n"] += 1
        if ticks["n"] > 50:
            raise OSError("clock source gone")
        return 1.0

    gov = SafetyGovernor(pwm, CAL, limits, clock=clock)
    gov.start_watchdog(0.001)
    wait_for(lambda: gov.status().state is GovernorState.FAULT)
    gov.stop_watchdog()
    assert "watchdog" in gov.status().fault_reason


def test_watchdog_start_twice_refused(governor):
    governor.start_watchdog(1.0)
    with pytest.raises(SafetyError, match="already running"):
        governor.start_watchdog(1.0)
    governor.stop_watchdog()
    governor.start_watchdog(1.0)  # restartable once stopped
    governor.stop_watchdog()
    governor.stop_watchdog()  # stopping a stopped watchdog is harmless


@pytest.mark.parametrize("bad", [0, -1.0, math.nan, math.inf, "1"])
def test_watchdog_rejects_bad_interval(governor, bad):
    with pytest.raises(SafetyError):
        governor.start_watchdog(bad)


# ---------------------------------------------------------------------------- close, limits


def test_close_writes_neutral_and_releases_backend(pwm, clock, limits):
    with SafetyGovernor(pwm, CAL, limits, clock=clock) as gov:
        gov.arm("manual")
        gov.start_watchdog(0.5)
        clock.advance(0.05)
        gov.command_manual(0.5, 0.1)
    assert is_neutral(pwm)
    assert pwm.closed
    assert gov.status().state is GovernorState.DISARMED
    gov.close()  # idempotent
    with pytest.raises(SafetyError, match="closed"):
        gov.arm("manual")
    with pytest.raises(SafetyError, match="closed"):
        gov.enter_calibration()
    with pytest.raises(SafetyError, match="closed"):
        gov.set_calibration(CAL)
    with pytest.raises(SafetyError, match="closed"):
        gov.start_watchdog(1.0)
    gov.disarm()
    gov.fault("after close")
    gov.tick()
    assert gov.command_manual(0.1, 0.1) is False
    assert gov.status().state is GovernorState.DISARMED


def test_close_keeps_a_latched_fault_visible(governor):
    governor.fault("overrun")
    governor.close()
    assert governor.status().fault_reason == "overrun"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"throttle_limit": 1.5},
        {"throttle_limit": -0.1},
        {"throttle_limit": math.nan},
        {"auto_stale_after_s": 0},
        {"manual_deadline_s": -0.5},
        {"calibration_preview_s": math.inf},
        {"throttle_ramp_per_s": 0.0},
        {"ramp_max_dt_s": "0.1"},
        {"auto_stale_after_s": True},
    ],
)
def test_limits_reject_bad_values(kwargs):
    with pytest.raises(SafetyError, match=next(iter(kwargs))):
        GovernorLimits(**kwargs)


def test_limits_from_loop_settings():
    loop = LoopSettings(nominal_rate_hz=20.0, manual_deadline_s=0.3, throttle_ramp_per_s=2.0)
    limits = GovernorLimits.from_settings(loop, throttle_limit=0.4)
    assert limits.auto_stale_after_s == pytest.approx(loop.stale_after_s) == pytest.approx(0.075)
    assert (limits.manual_deadline_s, limits.throttle_ramp_per_s) == (0.3, 2.0)
    assert limits.calibration_preview_s == loop.calibration_preview_s
    assert limits.throttle_limit == 0.4
