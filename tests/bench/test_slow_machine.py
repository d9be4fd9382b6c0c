"""A slow or busy machine still gets every configuration measured.

On such a machine a step can miss the car's own bounds (inference two periods, capture to
command three): the governor latches a fault and writes no more pulses. The bench records
the fault, re-arms and measures on; it arms only once the processes it measures with are up;
a window that has too few steps by its end runs on (within a bound) until it has enough.
Timings are simulated or provoked, never asserted.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import pytest

from vehicle.bench import measure
from vehicle.bench.measure import MAX_EXTENSION, MIN_WINDOW_STEPS, watch
from vehicle.bench.ours import OursLoop
from vehicle.bench.probe import PulseProbe
from vehicle.bench.runner import BenchOptions, run_configuration
from vehicle.bench.sources import camera_image
from vehicle.bench.stats import BenchError
from vehicle.core.policy import Policy
from vehicle.core.pwm.mock import PulseRecord
from vehicle.core.safety import GovernorState

RATE_HZ = 30.0
INFERENCE_BOUND_S = 2.0 / RATE_HZ  # LoopSettings.inference_fault_s at the bench's rate


@pytest.fixture
def stalling_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every eighth inference takes longer than the car allows: a step starved of the CPU."""
    run = Policy.run
    calls = itertools.count(1)

    def slow_run(self: Policy, tensor):
        if next(calls) % 8 == 0:
            time.sleep(1.5 * INFERENCE_BOUND_S)
        return run(self, tensor)

    monkeypatch.setattr(Policy, "run", slow_run)


def test_a_configuration_whose_steps_miss_the_bounds_is_still_measured(
    tiny_bundle: Path, stalling_policy: None
) -> None:
    options = BenchOptions(duration_s=0.5, viewers=0, rate_hz=RATE_HZ, warmup_s=0.2)
    result = run_configuration("ours_alone", tiny_bundle, options)
    assert result["faults"] and all(f.startswith("inference took") for f in result["faults"])
    assert result["steps"] >= MIN_WINDOW_STEPS
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert result["achieved_hz"] > 0 and result["max_rate_hz"] > 0


def test_the_car_is_armed_only_once_its_service_is_up(tiny_bundle: Path) -> None:
    states: list[GovernorState] = []

    class WatchedStart(OursLoop):
        def _start_service(self, settings, car) -> None:
            states.append(car.governor.status().state)  # the console would be starting now

    loop = WatchedStart(tiny_bundle, camera_image(), camera_hz=RATE_HZ, nominal_hz=RATE_HZ)
    loop.start()
    try:
        armed = loop._car.governor.status().state
    finally:
        loop.stop()
    assert states == [GovernorState.DISARMED]
    assert armed is GovernorState.AUTONOMOUS


class SimulatedTime:
    """``time`` for ``vehicle.bench.measure``: sleeping advances the clock and the loop."""

    def __init__(self, loop: SteppingLoop) -> None:
        self.now = 0.0
        self.loop = loop

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.loop.advance(self.now)


class SteppingLoop:
    """A loop that writes one pulse every ``period_s`` of simulated time."""

    def __init__(self, period_s: float) -> None:
        self.period_s = period_s
        self.probe = PulseProbe()
        self.next_step = period_s
        self.stopped = False

    def start(self) -> None: ...

    def advance(self, now: float) -> None:
        while self.next_step <= now + 1e-9:
            self.probe.on_pulse(PulseRecord(self.next_step, "throttle", 1_500_000))
            self.probe.step_done(self.next_step - 0.001)
            self.next_step += self.period_s

    def stop(self) -> None:
        self.stopped = True

    def frames_dropped(self) -> int:
        return 0


@pytest.mark.parametrize(
    ("period_s", "steps"),
    [
        (0.01, 100),  # enough steps in the window: it lasts exactly its duration
        (0.1, MIN_WINDOW_STEPS),  # too few: it runs on until it has enough
        (0.5, int((1.0 + MAX_EXTENSION) / 0.5)),  # far too slow: up to the extension's end
    ],
)
def test_a_window_runs_on_until_it_has_enough_steps(
    monkeypatch: pytest.MonkeyPatch, period_s: float, steps: int
) -> None:
    loop = SteppingLoop(period_s)
    monkeypatch.setattr(measure, "time", SimulatedTime(loop))
    window = watch(loop, warmup_s=0.0, duration_s=1.0)
    assert window.steps == steps and loop.stopped


def test_a_loop_that_never_steps_is_an_error_not_a_summary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loop = SteppingLoop(period_s=1e9)
    monkeypatch.setattr(measure, "time", SimulatedTime(loop))
    with pytest.raises(BenchError, match="wrote 0 pulses"):
        watch(loop, warmup_s=0.0, duration_s=1.0)


def test_a_loop_that_fails_to_start_is_stopped(tiny_bundle: Path) -> None:
    """A half-started loop (viewers that never came) must not keep the worker alive."""

    class ViewersNeverCome(OursLoop):
        def _start_service(self, settings, car) -> None:
            raise BenchError("only 0 of 4 viewers got a frame")

    before = threading.active_count()
    loop = ViewersNeverCome(tiny_bundle, camera_image(), camera_hz=RATE_HZ, nominal_hz=RATE_HZ)
    with pytest.raises(BenchError, match="viewers"):
        watch(loop, warmup_s=0.0, duration_s=0.1)
    assert loop._car is not None and loop._car.governor.status().state is GovernorState.DISARMED
    assert threading.active_count() == before
