"""The safety governor: the only writer of the PWM outputs, and default-deny.

Modelled on openpilot's panda safety: small, separate, below the console and the model. The
car boots disarmed with the calibrated neutral written on both channels; only an explicit arm
and a fresh, valid command from the armed source moves it. Staleness closes the outputs
without asking anyone (a watchdog thread checks even when the drive loop hangs); throttle
grows at a bounded rate and shrinks at once; any fault latches, neutral, until an operator
re-arms. Neutral is always the calibrated mid pulse, written, never "no pulse".
"""

from __future__ import annotations

import enum
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Literal

from calibration.model import CHANNELS, PULSE_CEILING_NS, PULSE_FLOOR_NS, Calibration, Channel
from vehicle.config import LoopSettings
from vehicle.core.closeable import Closeable
from vehicle.core.pwm.base import PwmBackend

log = logging.getLogger(__name__)

Mode = Literal["manual", "autonomous"]


class SafetyError(ValueError):
    """A request the governor refuses (bad value, wrong state); nothing was changed."""


class GovernorState(enum.Enum):
    DISARMED = "disarmed"
    MANUAL = "manual"
    AUTONOMOUS = "autonomous"
    FAULT = "fault"
    CALIBRATING = "calibrating"

    @property
    def armed(self) -> bool:
        """Driving: commands from the armed source reach the outputs."""
        return self in (GovernorState.MANUAL, GovernorState.AUTONOMOUS)


GOVERNOR_STATES: tuple[GovernorState, ...] = tuple(GovernorState)  # codes in step records
_ARMED = {"manual": GovernorState.MANUAL, "autonomous": GovernorState.AUTONOMOUS}


def _number(value: object, name: str) -> float:
    """A real number (not a bool), as float; may be non-finite, the caller decides."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SafetyError(f"{name} must be a number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class GovernorLimits:
    """The numbers the governor enforces. Deadlines are in seconds of the governor's clock."""

    throttle_limit: float = 1.0  # |throttle_norm| never exceeds this (console "max speed")
    auto_stale_after_s: float = 0.1  # an inference result is stale this long after capture
    manual_deadline_s: float = 0.5  # a console drive command expires after this
    calibration_preview_s: float = 0.8  # a raw throttle preview returns to neutral after this
    throttle_ramp_per_s: float = 4.0  # growth of |throttle_norm| per second; shrinking is instant
    ramp_max_dt_s: float = 0.1  # the longest gap credited to the ramp: no jump after a pause

    def __post_init__(self) -> None:
        for f in fields(self):
            value = _number(getattr(self, f.name), f.name)
            if not math.isfinite(value) or value < 0:
                raise SafetyError(f"{f.name} must be a finite number >= 0, got {value!r}")
            if f.name != "throttle_limit" and value == 0:
                raise SafetyError(f"{f.name} must be > 0")
        if self.throttle_limit > 1:
            raise SafetyError(f"throttle_limit must be within 0..1, got {self.throttle_limit!r}")

    @classmethod
    def from_settings(cls, loop: LoopSettings, throttle_limit: float = 1.0) -> GovernorLimits:
        """The limits the configured loop implies (one place derives the deadlines)."""
        return cls(
            throttle_limit=throttle_limit,
            auto_stale_after_s=loop.stale_after_s,
            manual_deadline_s=loop.manual_deadline_s,
            calibration_preview_s=loop.calibration_preview_s,
            throttle_ramp_per_s=loop.throttle_ramp_per_s,
        )


@dataclass(frozen=True)
class GovernorStatus:
    """A snapshot for the console and telemetry; reading it never blocks the outputs long."""

    state: GovernorState
    fault_reason: str | None
    steering_ns: int
    throttle_ns: int
    steer_norm: float
    throttle_norm: float
    throttle_limit: float
    stale: bool  # armed, but the source's last command has expired: outputs held neutral
    writes: int  # pulses written so far (both channels), for telemetry and tests


class SafetyGovernor(Closeable):
    """Owns the outputs. Thread-safe: one lock, held only to decide and write two pulses."""

    def __init__(
        self,
        backend: PwmBackend,
        calibration: Calibration,
        limits: GovernorLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backend = backend
        self._cal = calibration
        self._limits = limits or GovernorLimits()
        self._clock = clock
        self._lock = threading.Lock()
        self._state = GovernorState.DISARMED
        self._fault_reason: str | None = None
        self._closed = False
        self._steering_ns = calibration.steering.mid_ns
        self._throttle_ns = calibration.throttle.mid_ns
        self._steer_norm = 0.0
        self._throttle_norm = 0.0
        self._t_throttle = clock()  # when the throttle last changed: the ramp's reference
        self._fresh_until = -math.inf  # the armed source's outputs expire after this time
        self._writes = 0
        self._watchdog: threading.Thread | None = None
        self._watchdog_stop = threading.Event()
        with self._lock:
            self._neutral()

    # ----------------------------------------------------------------- operator actions

    def arm(self, mode: Mode) -> None:
        """Operator start: clears a latched fault, goes through neutral, accepts ``mode``."""
        if mode not in _ARMED:
            raise SafetyError(f"mode must be manual or autonomous, got {mode!r}")
        with self._lock:
            self._reset(_ARMED[mode])  # a mode switch never carries a command or a ramp over

    def disarm(self) -> None:
        """Operator stop: neutral. A latched fault stays latched (and visible) until re-arm."""
        with self._lock:
            self._stop()

    def fault(self, reason: str) -> None:
        """Latch a fault (the first reason is kept: it is the root cause) and go neutral."""
        with self._lock:
            if not self._closed:
                self._latch(reason)

    def enter_calibration(self) -> None:
        """Operator action: stop driving, neutral, then accept raw pulses."""
        with self._lock:
            self._reset(GovernorState.CALIBRATING)

    def exit_calibration(self) -> None:
        with self._lock:
            if self._state is GovernorState.CALIBRATING and not self._closed:
                self._state = GovernorState.DISARMED
                self._neutral()

    def set_throttle_limit(self, fraction: float) -> None:
        """Change the throttle clamp; a lower limit takes effect on the outputs at once."""
        value = _number(fraction, "throttle limit")
        if not 0.0 <= value <= 1.0:
            raise SafetyError(f"throttle limit must be within 0..1, got {fraction!r}")
        with self._lock:
            self._limits = replace(self._limits, throttle_limit=value)
            if abs(self._throttle_norm) > value and self._state.armed:
                self._write(self._steer_norm, math.copysign(value, self._throttle_norm))

    def set_calibration(self, calibration: Calibration) -> None:
        """New pulse mapping; refused while driving. Writes the new neutral."""
        if not isinstance(calibration, Calibration):
            raise SafetyError(f"expected a Calibration, got {type(calibration).__name__}")
        with self._lock:
            self._check_open()
            if self._state.armed:
                raise SafetyError("stop driving before changing the calibration")
            self._cal = calibration
            self._neutral()

    # ------------------------------------------------------------------------ commands

    def command_autonomous(self, steer_norm: float, throttle_norm: float, t_capture: float) -> bool:
        """An inference result for the frame captured at ``t_capture``. True when written."""
        steer, throttle = _number(steer_norm, "steer_norm"), _number(throttle_norm, "throttle_norm")
        captured = _number(t_capture, "t_capture")
        with self._lock:
            if self._state is not GovernorState.AUTONOMOUS:
                return False
            now = self._clock()
            if not (math.isfinite(steer) and math.isfinite(throttle) and math.isfinite(captured)):
                self._latch(f"autonomous command not finite: {steer}, {throttle}, t={captured}")
                return False
            if captured > now:
                self._latch(f"frame captured in the future ({captured} > {now}): clock mix-up")
                return False
            return self._accept(steer, throttle, captured + self._limits.auto_stale_after_s, now)

    def command_manual(self, steer_norm: float, throttle_norm: float) -> bool:
        """A console drive command, fresh for ``manual_deadline_s``. True when written."""
        steer, throttle = _number(steer_norm, "steer_norm"), _number(throttle_norm, "throttle_norm")
        with self._lock:
            if self._state is not GovernorState.MANUAL:
                return False
            if not (math.isfinite(steer) and math.isfinite(throttle)):
                self._latch(f"manual command not finite: {steer}, {throttle}")
                return False
            now = self._clock()
            return self._accept(steer, throttle, now + self._limits.manual_deadline_s, now)

    def calibration_pulse(self, channel: Channel, ns: int) -> bool:
        """A raw pulse while calibrating (on a stand); a throttle preview expires by itself."""
        if channel not in CHANNELS:
            raise SafetyError(f"unknown channel {channel!r}; expected steering or throttle")
        if isinstance(ns, bool) or not isinstance(ns, int):
            raise SafetyError(f"pulse must be whole ns, got {ns!r}")
        if not PULSE_FLOOR_NS <= ns <= PULSE_CEILING_NS:
            raise SafetyError(f"pulse {ns} ns outside {PULSE_FLOOR_NS}..{PULSE_CEILING_NS} ns")
        with self._lock:
            if self._state is not GovernorState.CALIBRATING:
                return False
            norm = self._cal.channel(channel).from_pulse(ns)
            if channel == "throttle":
                self._fresh_until = self._clock() + self._limits.calibration_preview_s
                self._output(self._steering_ns, ns, self._steer_norm, norm)
            else:
                self._output(ns, self._throttle_ns, norm, self._throttle_norm)
            return self._state is GovernorState.CALIBRATING

    # ------------------------------------------------------------------------ watchdog

    def tick(self) -> None:
        """Freshness check: an expired source means neutral throttle (and steering at mid)."""
        with self._lock:
            if not self._closed and self._stale_output(self._clock()):
                if self._state is GovernorState.CALIBRATING:
                    self._output(self._steering_ns, self._cal.throttle.mid_ns, self._steer_norm, 0)
                else:
                    self._neutral()

    def start_watchdog(self, interval_s: float) -> None:
        """A thread calling ``tick`` every ``interval_s``, independent of the drive loop."""
        interval = _number(interval_s, "watchdog interval")
        if not (math.isfinite(interval) and interval > 0):
            raise SafetyError(f"watchdog interval must be > 0 s, got {interval_s!r}")
        with self._lock:
            self._check_open()
            if self._watchdog is not None:
                raise SafetyError("the watchdog is already running")
            self._watchdog_stop.clear()
            self._watchdog = threading.Thread(
                target=self._watch, args=(interval,), name="safety-watchdog", daemon=True
            )
            self._watchdog.start()

    def stop_watchdog(self) -> None:
        with self._lock:
            thread, self._watchdog = self._watchdog, None
        if thread is not None:
            self._watchdog_stop.set()
            thread.join()

    def _watch(self, interval: float) -> None:
        while not self._watchdog_stop.wait(interval):
            try:
                self.tick()
            except Exception as exc:  # the watchdog must never die silently
                self.fault(f"watchdog: {exc!r}")

    # ------------------------------------------------------------------- status, close

    def status(self) -> GovernorStatus:
        with self._lock:
            return GovernorStatus(
                state=self._state,
                fault_reason=self._fault_reason,
                steering_ns=self._steering_ns,
                throttle_ns=self._throttle_ns,
                steer_norm=self._steer_norm,
                throttle_norm=self._throttle_norm,
                throttle_limit=self._limits.throttle_limit,
                stale=self._state.armed and self._clock() > self._fresh_until,
                writes=self._writes,
            )

    def outputs(self) -> tuple[int, int, GovernorState]:
        """What the outputs hold now, cheaply (one lock, no allocation beyond the tuple)."""
        with self._lock:
            return self._steering_ns, self._throttle_ns, self._state

    @property
    def limits(self) -> GovernorLimits:
        return self._limits

    def close(self) -> None:
        """Neutral, stop the watchdog, release the back-end. Idempotent.

        Call it from the thread that drives (e.g. in a ``finally``), not from a signal
        handler: a handler that interrupts a write in progress would wait on the lock forever.
        A SIGTERM handler should set the drive loop's stop event instead.
        """
        self.stop_watchdog()
        with self._lock:
            if self._stop():
                self._closed = True
                self._backend.close()

    # --------------------------------------------------- internals (lock already held)

    def _check_open(self) -> None:
        if self._closed:
            raise SafetyError("the safety governor is closed")

    def _reset(self, state: GovernorState) -> None:
        """An operator's deliberate start: clears a latched fault, through neutral."""
        self._check_open()
        self._fault_reason = None
        self._state = state
        self._neutral()

    def _stop(self) -> bool:
        """Disarmed (a fault stays latched) and neutral; False if already closed."""
        if self._closed:
            return False
        if self._state is not GovernorState.FAULT:
            self._state = GovernorState.DISARMED
        self._neutral()
        return True

    def _stale_output(self, now: float) -> bool:
        """True when the outputs hold a command whose freshness has run out."""
        if now <= self._fresh_until:
            return False
        if self._state is GovernorState.CALIBRATING:
            return self._throttle_ns != self._cal.throttle.mid_ns
        return (self._steering_ns, self._throttle_ns) != self._neutral_pulses()

    def _accept(self, steer: float, throttle: float, fresh_until: float, now: float) -> bool:
        """Write a finite command from the armed source, unless it is already stale."""
        if now > fresh_until:
            if self._stale_output(now):
                self._neutral()
            return False
        self._fresh_until = fresh_until
        limit = self._limits.throttle_limit
        self._write(max(-1.0, min(1.0, steer)), self._ramp(max(-limit, min(limit, throttle)), now))
        return self._state is not GovernorState.FAULT

    def _ramp(self, target: float, now: float) -> float:
        """Slow up, fast down; a change of direction passes through neutral first."""
        current = self._throttle_norm
        if current * target < 0:
            return 0.0
        if abs(target) <= abs(current):
            return target
        dt = min(max(now - self._t_throttle, 0.0), self._limits.ramp_max_dt_s)
        grown = abs(current) + self._limits.throttle_ramp_per_s * dt
        return math.copysign(min(abs(target), grown), target)

    def _neutral_pulses(self) -> tuple[int, int]:
        return self._cal.steering.mid_ns, self._cal.throttle.mid_ns

    def _neutral(self) -> None:
        """Write the calibrated mid on both channels, explicitly; forget the last command."""
        self._fresh_until = -math.inf
        steering_ns, throttle_ns = self._neutral_pulses()
        self._output(steering_ns, throttle_ns, 0.0, 0.0)

    def _write(self, steer: float, throttle: float) -> None:
        """Normalised commands (already clamped and ramped) to calibrated pulses."""
        self._output(
            self._cal.steering.to_pulse(steer),
            self._cal.throttle.to_pulse(throttle),
            steer,
            throttle,
        )

    def _output(self, steering_ns: int, throttle_ns: int, steer: float, throttle: float) -> None:
        """Throttle first (the channel that can run away), then steering. Errors latch."""
        try:
            self._backend.set_pulse("throttle", throttle_ns)
            self._record("throttle", throttle_ns, throttle)
            self._backend.set_pulse("steering", steering_ns)
            self._record("steering", steering_ns, steer)
        except Exception as exc:  # any back-end failure is a fault, never carried on from
            self._latch(f"PWM write failed: {exc}")

    def _record(self, channel: Channel, ns: int, norm: float) -> None:
        """Remember what the hardware now holds; a throttle write restarts the ramp's clock."""
        self._writes += 1
        if channel == "throttle":
            self._throttle_ns, self._throttle_norm, self._t_throttle = ns, norm, self._clock()
        else:
            self._steering_ns, self._steer_norm = ns, norm

    def _latch(self, reason: str) -> None:
        """Fault state with the first reason; neutral attempted on each channel on its own."""
        if self._state is not GovernorState.FAULT:
            log.error("safety fault: %s", reason)
            self._state = GovernorState.FAULT
            self._fault_reason = reason
        self._fresh_until = -math.inf
        neutral = (("throttle", self._cal.throttle.mid_ns), ("steering", self._cal.steering.mid_ns))
        for channel, ns in neutral:
            try:
                self._backend.set_pulse(channel, ns)
                self._record(channel, ns, 0.0)
            except Exception as exc:  # keep trying the other channel; tick() retries later
                log.debug("neutral on %s failed: %s", channel, exc)
