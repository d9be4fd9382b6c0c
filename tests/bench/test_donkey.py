import importlib.metadata
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from calibration.model import Calibration
from vehicle.bench.donkey import (
    CachedFrameCamera,
    OnnxPilot,
    PulseOutput,
    ReproducedVehicle,
    donkeycar_vehicle,
)
from vehicle.bench.probe import PulseProbe
from vehicle.bench.sources import camera_image
from vehicle.core.actions import ActionTable
from vehicle.core.pwm.mock import MockPwm
from vehicle.model import load_bundle


class Trace:
    """Parts that record what the loop handed them, DonkeyCar-style."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.updating = threading.Event()
        self.shut: list[str] = []


class Counter:
    def __init__(self, trace: Trace) -> None:
        self.trace, self.n = trace, 0

    def run(self) -> int:
        self.n += 1
        self.trace.calls.append(("counter", ()))
        return self.n

    def shutdown(self) -> None:
        self.trace.shut.append("counter")


class Threaded:
    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def update(self) -> None:
        self.trace.updating.set()

    def run_threaded(self, n: int) -> tuple[int, int]:
        self.trace.calls.append(("threaded", (n,)))
        return n, n * 10


class Sink:
    def __init__(self, trace: Trace) -> None:
        self.trace = trace

    def run(self, a: int, b: int, missing: object) -> None:
        self.trace.calls.append(("sink", (a, b, missing)))


def _loops() -> list[Any]:
    real, implementation = donkeycar_vehicle()
    return [ReproducedVehicle] + ([real] if implementation != "reproduced" else [])


@pytest.mark.parametrize("vehicle_class", _loops())
def test_loop_runs_parts_in_order_through_memory(vehicle_class: Any) -> None:
    trace = Trace()
    car = vehicle_class()
    car.add(Counter(trace), outputs=["n"])
    car.add(Threaded(trace), inputs=["n"], outputs=["a", "b"], threaded=True)
    car.add(Sink(trace), inputs=["a", "b", "never/written"])
    car.start(rate_hz=1000, max_loop_count=3)
    assert trace.calls == [
        call
        for n in (1, 2, 3)
        for call in (("counter", ()), ("threaded", (n,)), ("sink", (n, n * 10, None)))
    ]
    assert trace.updating.wait(5.0)
    assert trace.shut == ["counter"]


def test_real_donkeycar_or_the_reproduction_is_named() -> None:
    vehicle_class, implementation = donkeycar_vehicle()
    if vehicle_class is ReproducedVehicle:
        assert implementation == "reproduced"
    else:
        assert implementation.startswith("donkeycar ")


def test_importing_donkeycar_leaves_the_recursion_limit_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DonkeyCar 5.3 sets it to 100,000 when imported: deeply nested JSON then overflows the
    C stack (a segfault) where it raised RecursionError. A stand-in package does the same."""
    package = tmp_path / "donkeycar"
    package.mkdir()
    (package / "__init__.py").write_text("import sys\nsys.setrecursionlimit(10**5)\n")
    (package / "vehicle.py").write_text("class Vehicle:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("donkeycar", "donkeycar.vehicle"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(importlib.metadata, "version", lambda _name: "5.3.0")
    before = sys.getrecursionlimit()
    sys.setrecursionlimit(1234)
    try:
        vehicle_class, implementation = donkeycar_vehicle()
        assert sys.getrecursionlimit() == 1234
    finally:  # the stand-in goes; monkeypatch puts back a real donkeycar if one was imported
        sys.setrecursionlimit(before)
        for name in ("donkeycar", "donkeycar.vehicle"):
            sys.modules.pop(name, None)
    assert (vehicle_class.__module__, implementation) == ("donkeycar.vehicle", "donkeycar 5.3.0")


def test_pilot_and_output_drive_the_mock_pwm(tiny_bundle: Path) -> None:
    model = load_bundle(tiny_bundle)
    calibration = Calibration()
    table = ActionTable.build(model.metadata.action_space, calibration, 1.0)
    pilot = OnnxPilot(model.preprocessor, model.policy, table)
    backend, probe = MockPwm(), PulseProbe()
    backend.add_listener(probe.on_pulse)
    output = PulseOutput(backend, calibration, probe)

    assert pilot.run(None, None) == (0.0, 0.0, None)
    output.run(0.0, 0.0, None)  # warm-up loops write nothing
    assert backend.history == []

    image = camera_image()
    steer, throttle, t_capture = pilot.run(image, 0.0)
    expected = table.decide(model.policy.run(model.preprocessor(image)))
    assert (steer, throttle, t_capture) == (expected.steer_norm, expected.throttle_norm, 0.0)
    output.run(steer, throttle, t_capture)
    assert backend.current == {
        "steering": calibration.steering.to_pulse(steer),
        "throttle": calibration.throttle.to_pulse(throttle),
    }
    assert probe.pulse_times == [backend.history[-1].t]
    assert probe.latencies_s == [backend.history[-1].t - 0.0]


def test_camera_part_caches_what_it_captured() -> None:
    image = np.zeros((4, 4, 3), np.uint8)
    camera = CachedFrameCamera(image, 200.0)
    assert camera.run_threaded() == (None, None)
    thread = threading.Thread(target=camera.update)
    thread.start()
    try:
        while camera.run_threaded()[0] is None:
            thread.join(0.001)
    finally:
        camera.shutdown()
        thread.join(5.0)
    frame, t_capture = camera.run_threaded()
    assert frame is image and isinstance(t_capture, float)
    assert not thread.is_alive()
