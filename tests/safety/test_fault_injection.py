"""Fault injection through the whole stack: each fault must bring neutral throttle quickly.

The real ``VehicleService`` runs its real drive loop in a thread, on the mock and the
simulator's PWM back-ends, in lockstep simulated time: the test is the camera (one frame per
loop period) and the governor's watchdog (a ``tick`` every eighth of a period), and waits for
the loop to finish each frame before time moves on. Times are therefore exact and no figure
depends on how loaded the machine is. Each fault is injected at a known simulated time and
the test measures when the throttle output next reads the calibrated neutral.

Run with ``pytest -s`` to print the measured figures.
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from calibration.model import Channel
from vehicle.config import LoopSettings, Settings
from vehicle.core.camera import Frame, LatestFrameSlot
from vehicle.core.car import DriveCore
from vehicle.core.drive import ActivePolicy
from vehicle.core.model import open_model
from vehicle.core.pwm.base import PwmError
from vehicle.core.pwm.mock import MockPwm
from vehicle.core.pwm.sim import SimPwm
from vehicle.core.safety import GovernorState
from vehicle.model.synthetic import build_policy
from vehicle.sim.session import SimClock

DATA = Path(__file__).resolve().parents[1] / "data"
LOOP = LoopSettings()
PERIOD = LOOP.period_s
SUB = PERIOD / 8  # the simulated watchdog's interval (the real one runs every period / 4)
WAIT_S = 30.0  # a generous real-time bound for the loop thread; never a measured figure
RESULTS: dict[tuple[str, str], float] = {}


def recording(base: type) -> type:
    """A back-end that logs every write with its (simulated) time and can fail on demand."""

    class Recording(base):
        def __init__(self, clock: SimClock) -> None:
            super().__init__(clock=clock)
            self.log: list[tuple[float, Channel, int]] = []
            self.fail_next = 0

        def _write(self, channel: Channel, ns: int) -> None:
            if self.fail_next:
                self.fail_next -= 1
                raise PwmError(f"{self.name}: injected write failure")
            super()._write(channel, ns)
            self.log.append((self._clock(), channel, ns))

    return Recording


class TakenSlot(LatestFrameSlot):
    """Tells the test which frame the drive loop has taken."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__(clock)
        self.taken = 0

    def wait_newer(self, after_seq: int, timeout: float, *, consume: bool = True) -> Frame | None:
        frame = super().wait_newer(after_seq, timeout, consume=consume)
        if frame is not None and consume:
            with self._cond:
                self.taken = frame.seq
                self._cond.notify_all()
        return frame


class Stage:
    """Wraps one stage of the step; on demand it raises once, or stalls until released."""

    def __init__(self, fn) -> None:
        self.fn = fn
        self.fail = False
        self.stall = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def __call__(self, *args):
        if self.fail:
            self.fail = False
            raise RuntimeError("injected failure")
        if self.stall:
            self.stall = False
            self.entered.set()
            assert self.release.wait(WAIT_S)
        return self.fn(*args)


class Car:
    """The service in lockstep: the test owns time, the camera and the watchdog's ticks."""

    def __init__(self, tmp_path: Path, backend: type, mode: str) -> None:
        self.clock = SimClock(1000.0)
        self.pwm = recording(backend)(self.clock)
        self.slot = TakenSlot(self.clock)
        self.beats = 0
        self.beat_cond = threading.Condition()
        self.service = DriveCore(
            Settings(data_dir=tmp_path / "data"),
            self.pwm,
            slot=self.slot,
            model=open_model(make_bundle(tmp_path / "model", seed=1), "model"),
            throttle_limit=1.0,
            mode=mode,
            clock=self.clock,
            watchdog=False,
            heartbeat=self._beat,
        )
        self.governor = self.service.governor
        self.neutral = self.service.calibration.throttle.mid_ns
        self.image = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
        self.stages = self._wrap_stages()
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self.service.run,
            args=(self.stop,),
            kwargs={"stop_when_source_ends": False},
            daemon=True,
        )
        self.thread.start()

    def _beat(self) -> None:
        with self.beat_cond:
            self.beats += 1
            self.beat_cond.notify_all()

    def _wrap_stages(self) -> dict[str, Stage]:
        active = self.service.drive.active
        stages = {
            "preprocess": Stage(active.model.preprocessor),
            "inference": Stage(active.model.policy.run),
            "action": Stage(active.table.decide),
            "telemetry": Stage(self.service.drive.telemetry.record),
        }
        model = replace(
            active.model,
            preprocessor=stages["preprocess"],
            policy=SimpleNamespace(run=stages["inference"]),
        )
        self.service.drive.swap_policy(
            ActivePolicy(model, SimpleNamespace(decide=stages["action"]))
        )
        self.service.drive.telemetry.record = stages["telemetry"]
        return stages

    def advance(self, seconds: float) -> None:
        """Let simulated time pass, the watchdog ticking as it would."""
        for _ in range(round(seconds / SUB)):
            self.clock.advance(SUB)
            self.governor.tick()

    def put_frame(self) -> Frame:
        return self.slot.put(self.image, t_capture=self.clock.now)

    def finish(self, frame: Frame) -> None:
        """Wait (real time) until the loop has taken ``frame`` and completed its iteration."""
        with self.slot._cond:
            assert self.slot._cond.wait_for(lambda: self.slot.taken >= frame.seq, WAIT_S)
        with self.beat_cond:
            beats = self.beats
            assert self.beat_cond.wait_for(lambda: self.beats > beats, WAIT_S)

    def frame(self) -> Frame:
        """One loop period: time passes, the camera captures, the loop processes it."""
        self.advance(PERIOD)
        frame = self.put_frame()
        self.finish(frame)
        return frame

    def drive(self, periods: int = 6) -> None:
        self.service.start()
        for _ in range(periods):
            self.frame()
        assert self.throttle() != self.neutral, "the car never drove: the test proves nothing"

    def throttle(self) -> int:
        return [ns for _, channel, ns in self.pwm.log if channel == "throttle"][-1]

    def neutral_after(self, t: float) -> float:
        """Simulated seconds from ``t`` to the first neutral throttle written at or after it."""
        for when, channel, ns in self.pwm.log:
            if when >= t and channel == "throttle" and ns == self.neutral:
                return when - t
        raise AssertionError(f"throttle never went neutral after t={t}")

    def wait_fault(self, word: str) -> str:
        """The latched reason, once the loop has noticed (it may need more loop iterations)."""
        for _ in range(int(WAIT_S / 0.01)):
            status = self.governor.status()
            if status.state is GovernorState.FAULT:
                assert word in status.fault_reason, status.fault_reason
                return status.fault_reason
            self.advance(SUB)
            self.stop.wait(0.01)
        raise AssertionError(f"no fault latched; expected one about {word!r}")

    def close(self) -> None:
        self.stop.set()
        self.thread.join(WAIT_S)
        self.service.close()


def make_bundle(folder: Path, seed: int) -> Path:
    """A seeded policy with DeepRacer's metadata; every action drives forward."""
    folder.mkdir(parents=True, exist_ok=True)
    metadata = (DATA / "sample_single_cam.model_metadata.json").read_text()
    (folder / "model_metadata.json").write_text(metadata)
    n = len(json.loads(metadata)["action_space"])
    (folder / "model.onnx").write_bytes(build_policy(n, seed=seed).SerializeToString())
    return folder


BACKENDS = {"mock": MockPwm, "sim": SimPwm}


@pytest.fixture(scope="module", autouse=True)
def print_the_maxima():
    """After the file: one line per fault, the worst over the back-ends (pytest -s)."""
    yield
    print(f"\nfault -> neutral throttle (loop period {PERIOD * 1e3:.1f} ms, lockstep time):")
    for fault in sorted({fault for fault, _ in RESULTS}):
        worst = max(s for (f, _), s in RESULTS.items() if f == fault)
        print(f"  {fault:<34} {worst * 1e3:6.1f} ms = {worst / PERIOD:.2f} periods")


@pytest.fixture(params=sorted(BACKENDS))
def make_car(request, tmp_path):
    """A car on each back-end, in the mode the test asks for; closed afterwards."""
    cars = []

    def make(mode: str) -> Car:
        car = Car(tmp_path, BACKENDS[request.param], mode)
        car.name = request.param
        cars.append(car)
        return car

    yield make
    for car in cars:
        car.close()


@pytest.fixture
def car(make_car) -> Car:
    return make_car("autonomous")


def record(car: Car, fault: str, seconds: float) -> None:
    RESULTS[(fault, car.name)] = seconds
    print(
        f"\n{fault} ({car.name}): neutral {seconds * 1e3:.1f} ms after the fault, "
        f"{seconds / PERIOD:.2f} loop periods"
    )


def test_camera_stall_goes_neutral_within_two_periods(car):
    car.drive()
    t_fault = car.clock.now  # the last frame's capture: the camera goes silent from here
    car.advance(LOOP.camera_stall_s + PERIOD)  # past the stall bound, when the fault latches
    seconds = car.neutral_after(t_fault)
    record(car, "camera stall", seconds)
    assert seconds <= 2 * PERIOD
    car.wait_fault("camera stall")


@pytest.mark.parametrize(
    ("fault", "stage", "periods", "word"),
    [
        ("inference slower than the bound", "inference", 2.5, "inference took"),
        ("inference hung", "inference", 10, "inference took"),
        ("loop overrun", "preprocess", 3.5, "loop overrun"),
    ],
)
def test_slow_stage_goes_neutral_within_two_periods(car, fault, stage, periods, word):
    car.drive()
    car.advance(PERIOD)
    wrapped = car.stages[stage]
    wrapped.stall = True
    frame = car.put_frame()
    t_fault = frame.t_capture
    assert wrapped.entered.wait(WAIT_S)
    car.advance(periods * PERIOD)  # the stage takes this long; the watchdog keeps ticking
    wrapped.release.set()
    car.finish(frame)
    seconds = car.neutral_after(t_fault)
    record(car, fault, seconds)
    assert seconds <= 2 * PERIOD
    car.wait_fault(word)


@pytest.mark.parametrize("stage", ["preprocess", "inference", "action", "telemetry"])
def test_exception_in_a_stage_goes_neutral_within_two_periods(car, stage):
    car.drive()
    car.stages[stage].fail = True
    t_fault = car.frame().t_capture
    seconds = car.neutral_after(t_fault)
    record(car, f"exception in {stage}", seconds)
    assert seconds <= 2 * PERIOD
    car.wait_fault(f"{stage} failed")
    car.frame()
    assert car.throttle() == car.neutral  # latched: later frames do not drive


def test_pwm_error_goes_neutral_within_two_periods(car):
    car.drive()
    car.pwm.fail_next = 1  # the next write fails; the governor's neutral attempt gets through
    t_fault = car.frame().t_capture
    seconds = car.neutral_after(t_fault)
    record(car, "PWM write error", seconds)
    assert seconds <= 2 * PERIOD
    car.wait_fault("PWM write failed")


def test_model_swap_while_driving_keeps_fresh_commands_from_one_table(car, tmp_path):
    car.drive()
    old = car.service.drive.active
    car.service.load_model(make_bundle(tmp_path / "b", seed=2), "b")
    frames = 0
    while car.service.model_loading or car.service.drive.active is old:
        car.frame()
        frames += 1
        assert frames < 1000
    new_table = car.service.drive.active.table
    t_swap = car.clock.now
    for _ in range(4):
        car.frame()
    status = car.governor.status()
    assert status.state is GovernorState.AUTONOMOUS and not status.stale
    steer_after = {ns for t, ch, ns in car.pwm.log if ch == "steering" and t > t_swap}
    assert steer_after <= {row["steer_ns"] for row in new_table.rows()}
    print(
        f"\nmodel swap ({car.name}): no neutral gap, no fault; {frames} frames on the old "
        "model while the new one loaded"
    )


def test_model_swap_while_stopped_takes_the_new_table(car, tmp_path):
    car.drive()
    car.service.stop()
    car.service.load_model(make_bundle(tmp_path / "b", seed=2), "b", wait=True)
    new_table = car.service.drive.active.table
    assert car.service.model.name == "b" and car.service.model_error is None
    car.service.start()
    t_start = car.clock.now
    for _ in range(4):
        car.frame()
    status = car.governor.status()
    assert status.state is GovernorState.AUTONOMOUS and not status.stale
    steer_after = {ns for t, ch, ns in car.pwm.log if ch == "steering" and t > t_start}
    assert steer_after <= {row["steer_ns"] for row in new_table.rows()}


def test_manual_dead_man_expiry_goes_neutral_at_the_deadline(make_car):
    car = make_car("manual")
    car.service.start()
    for _ in range(8):
        car.service.manual_drive(0.3, 0.6)
        car.advance(PERIOD)
    t_last = car.clock.now - PERIOD  # the console's last command; then the browser goes away
    car.advance(LOOP.manual_deadline_s + 2 * PERIOD)
    seconds = car.neutral_after(t_last)
    late = seconds - LOOP.manual_deadline_s
    print(
        f"\nmanual dead-man ({car.name}): neutral {seconds * 1e3:.1f} ms after the last "
        f"command, {late * 1e3:.1f} ms after the {LOOP.manual_deadline_s} s deadline"
    )
    assert 0 < late <= SUB + 1e-9
