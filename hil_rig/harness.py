"""Scenarios against a car and a rig: known frames in, measured pulses checked.

Three car runs and one ``vehicle neutral``:

1. play the frames once at one throttle limit, then stay running with no frames: the
   pulses must follow the action table in order (``actions``), every action change must
   reach the outputs quickly (``latency``), and a car whose frames stop must go to neutral
   throttle (``frames_stop``);
2. loop the frames at a second throttle limit: the pulses follow the new table
   (``throttle_limit``); SIGTERM must leave both outputs neutral (``sigterm_neutral``);
3. loop again and SIGKILL: the hardware keeps the last pulse (``sigkill_holds_last_pulse``)
   until ``vehicle neutral`` runs, as systemd's ExecStopPost does (``neutral_after_kill``).

The whole session is also checked for link errors (``link``), missing PWM frames
(``pwm_frames``) and faults the car latched that the plan does not provoke (``car_faults``:
the only one expected is the camera stall after run 1's frames stop).
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from calibration.store import CalibrationStore
from hil_rig.car import CarError, CarProcess
from hil_rig.client import RigClient
from hil_rig.frame_watch import FrameWatch
from hil_rig.plan import Plan, build_plan, read_frames, synthetic_frames
from hil_rig.scenarios import (
    CarFault,
    ScenarioResult,
    check_car_faults,
    check_frames,
    check_goes_neutral,
    check_holds,
    check_latency,
    check_link,
    check_sequence,
    timeline,
    transition_latencies,
)
from vehicle.model import load_bundle

STARTUP_TIMEOUT_S = 30.0  # model load on a car's CPU


@dataclass(frozen=True)
class HarnessOptions:
    model: Path
    data_dir: Path  # the car's state: its calibration is the one the pulses are checked against
    workdir: Path  # frames, logs
    pwm_args: tuple[str, ...]  # how the car reaches its outputs, e.g. ("--pwm", "mock", ...)
    frames: Path | None = None  # recorded frames; None: synthetic road-like shapes
    fps: float = 15.0  # DeepRacer's camera rate; the car's overrun bound is two frames
    hold_s: float = 0.27  # each frame's time on screen: the throttle ramp must settle
    limits: tuple[float, float] = (0.6, 0.3)  # throttle limits of runs 1 and 2 (fractions)
    tolerance_ns: int = 10_000
    max_latency_ms: float = 150.0
    neutral_deadline_s: float = 0.3
    observe_s: float = 0.3


@dataclass
class Report:
    scenarios: list[ScenarioResult]
    latency_ms: dict[str, float] = field(default_factory=dict)
    car_faults: list[str] = field(default_factory=list)  # faults the car itself latched

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.scenarios)

    def as_dict(self) -> dict[str, object]:
        return {
            "scenarios": [s.as_dict() for s in self.scenarios],
            "passed": self.passed,
            "latency_ms": self.latency_ms,
            "car_faults": self.car_faults,
        }


class Harness:
    def __init__(self, client: RigClient, options: HarnessOptions) -> None:
        self.client = client
        self.options = options
        self.calibration = CalibrationStore(options.data_dir / "calibration.json").load()
        self._runs = 0
        self._cars: list[CarProcess] = []

    def _plan(self) -> Plan:
        o = self.options
        model = load_bundle(o.model)
        candidates = read_frames(o.frames) if o.frames else synthetic_frames(200)
        return build_plan(
            model,
            self.calibration,
            candidates,
            o.workdir / "frames",
            limits=o.limits,
            fps=o.fps,
            hold=max(1, round(o.hold_s * o.fps)),
            min_step_ns=4 * o.tolerance_ns,
        )

    def _car(self, plan: Plan, limit: float, *extra: str) -> CarProcess:
        self._runs += 1
        o = self.options
        args = [
            "--data-dir", str(o.data_dir), "drive",
            "--model", str(o.model), "--source", str(plan.folder), "--fps", f"{plan.fps:g}",
            "--mode", "auto", "--start", "--throttle-limit", f"{limit * 100:g}",
            *o.pwm_args, *extra,
        ]  # fmt: skip
        car = CarProcess(args, o.workdir / f"car-{self._runs}.log")
        self._cars.append(car)
        return car

    def _wait_open(self, watch: FrameWatch, name: str, after: float, car: CarProcess) -> float:
        t = watch.wait_open(name, after, STARTUP_TIMEOUT_S + 10 * self.options.hold_s)
        if t is None:
            raise CarError(f"the car never read frame {name}: {car.tail()}")
        return t

    def _changes(
        self, watch: FrameWatch, plan: Plan, limit: float, span: tuple[float, float]
    ) -> list[float]:
        """When the car read each frame that should move the steering (a segment's first
        frame whose steering differs from what the car was doing: neutral, or the segment
        before it in playback order, wrapping around when looping)."""
        opened = sorted(
            (t, index)
            for index, segment in enumerate(plan.segments)
            for t in watch.opens(segment.files[0], span[0])
            if t <= span[1]
        )
        changes = []
        before = plan.neutral.steering_ns
        for t, index in opened:
            steering = plan.segments[index].pulses[limit].steering_ns
            if abs(steering - before) > 2 * self.options.tolerance_ns:
                changes.append(t)
            before = steering
        return changes

    def run(self) -> Report:
        o = self.options
        hello = self.client.wait_hello()
        plan = self._plan()
        first = [s.files[0] for s in plan.segments]
        hold_s = o.hold_s
        results: list[ScenarioResult] = []
        events: dict[str, float] = {}
        with FrameWatch(plan.folder) as watch:
            t_session = time.monotonic()
            # Run 1: once through, then no more frames.
            with self._car(plan, o.limits[0], "--stay") as car:
                t_last = self._wait_open(watch, plan.files[-1], car.started, car)
                wall_offset = time.time() - time.monotonic()  # the car logs wall-clock times
                events["frames_stop"] = t_last + 1.0 / plan.fps
                time.sleep(o.neutral_deadline_s + o.observe_s + 0.1)
                car.signal(signal.SIGTERM)
                run1 = (car.started, t_last)
            # Run 2: the second throttle limit, looping; then SIGTERM.
            with self._car(plan, o.limits[1], "--loop") as car:
                self._wait_open(watch, plan.files[-1], car.started, car)
                time.sleep(hold_s)
                run2 = (car.started, time.monotonic())
                sigterm_code = car.signal(signal.SIGTERM)
                events["sigterm"], events["sigterm_exit"] = car.span()
            time.sleep(o.neutral_deadline_s + o.observe_s)
            # Run 3: SIGKILL, then what systemd's ExecStopPost runs.
            with self._car(plan, o.limits[0], "--loop") as car:
                self._wait_open(watch, first[1], car.started, car)
                time.sleep(hold_s)
                car.signal(signal.SIGKILL)
                events["sigkill"] = car.span()[1]
            time.sleep(o.observe_s + 0.1)
            with CarProcess(
                ["--data-dir", str(o.data_dir), "neutral", *o.pwm_args],
                o.workdir / "neutral.log",
            ) as neutral:
                neutral_code = neutral.wait(STARTUP_TIMEOUT_S)
                events["neutral"], events["neutral_exit"] = neutral.span()
                neutral_tail = neutral.tail()
            time.sleep(o.neutral_deadline_s + o.observe_s)
            changes = [
                *self._changes(watch, plan, o.limits[0], run1),
                *self._changes(watch, plan, o.limits[1], run2),
            ]
        received = list(self.client.received)
        points = timeline(received)
        results.append(check_link(hello, self.client.stats, self.client.read_error))
        results.append(check_frames(received, hello.period_us, t_session))
        results.append(
            check_sequence(
                "actions",
                [p for p in points if run1[0] <= p.t <= events["frames_stop"] + 0.1],
                [s.pulses[o.limits[0]] for s in plan.segments],
                o.tolerance_ns,
            )
        )
        latencies, missed = transition_latencies(points, changes, o.tolerance_ns)
        latency, latency_ms = check_latency(latencies, missed, o.max_latency_ms)
        results.append(latency)
        neutral_checks = {
            "neutral": plan.neutral,
            "tolerance_ns": o.tolerance_ns,
            "observe_s": o.observe_s,
        }

        def deadline(start: str, end: str | None = None) -> float:
            """The neutral deadline, counted from when the process had exited."""
            return (events[end] - events[start] if end else 0.0) + o.neutral_deadline_s

        results.append(
            check_goes_neutral(
                "frames_stop", points, events["frames_stop"], channels=("throttle",),
                deadline_s=deadline("frames_stop"), **neutral_checks,
            )
        )  # fmt: skip
        results.append(
            check_sequence(
                "throttle_limit",
                [p for p in points if run2[0] <= p.t <= run2[1]],
                [s.pulses[o.limits[1]] for s in plan.segments],
                o.tolerance_ns,
            )
        )

        def neutral_then_clean_exit(name: str, event: str, code: int | None, why: str):
            """Neutral after ``event`` by the deadline, and the process behind it exited 0."""
            result = check_goes_neutral(
                name, points, events[event],
                deadline_s=deadline(event, f"{event}_exit"), **neutral_checks,
            )  # fmt: skip
            if code != 0:
                result.passed = False
                result.detail = f"{why} ({code}); {result.detail}"
            return result

        results.append(
            neutral_then_clean_exit(
                "sigterm_neutral", "sigterm", sigterm_code, "exit status after SIGTERM"
            )
        )
        results.append(
            check_holds(
                points,
                events["sigkill"] + 0.05,
                events["sigkill"] + o.observe_s,
                neutral=plan.neutral,
                tolerance_ns=o.tolerance_ns,
            )
        )
        results.append(
            neutral_then_clean_exit(
                "neutral_after_kill",
                "neutral",
                neutral_code,
                f"vehicle neutral exit status, {neutral_tail}",
            )
        )
        faults = [
            CarFault(n, None if f.t_wall is None else f.t_wall - wall_offset, f.reason)
            for n, car in enumerate(self._cars, 1)
            for f in car.faults()
        ]
        results.append(check_car_faults(faults, frames_stopped=(1, t_last), slack_s=0.5 / plan.fps))
        return Report(results, latency_ms, [f.describe() for f in faults])
