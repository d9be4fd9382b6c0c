import threading

import cv2
import numpy as np
import pytest

from vehicle.bench.probe import PulseProbe
from vehicle.bench.sources import BenchCamera, Pacer, camera_image
from vehicle.bench.stats import BenchError
from vehicle.core.camera import LatestFrameSlot
from vehicle.core.pwm.mock import MockPwm


def test_probe_pairs_a_step_with_its_own_threads_last_pulse() -> None:
    ticks = iter([1.0, 1.5, 2.0])
    backend, probe = MockPwm(clock=lambda: next(ticks)), PulseProbe()
    backend.add_listener(probe.on_pulse)
    backend.set_pulse("throttle", 1_500_000)  # t=1.0
    backend.set_pulse("steering", 1_500_000)  # t=1.5: the step's last write
    probe.step_done(0.25)
    assert probe.latencies_s == [1.25]
    assert probe.pulse_times == [1.5]


def test_probe_ignores_another_threads_writes() -> None:
    backend, probe = MockPwm(), PulseProbe()
    backend.add_listener(probe.on_pulse)
    watchdog = threading.Thread(target=backend.set_pulse, args=("throttle", 1_450_000))
    watchdog.start()
    watchdog.join()
    probe.step_done(0.0)
    assert probe.latencies_s == [] and probe.pulse_times == []
    assert probe.steps_without_pulse == 1


@pytest.mark.parametrize("hz", [0, -5, 1e9, "30", float("nan")])
def test_pacer_rejects_bad_rates(hz: object) -> None:
    with pytest.raises(BenchError):
        Pacer(hz)  # type: ignore[arg-type]


def test_pacer_sleeps_to_absolute_deadlines_and_restarts_when_late(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [10.0]
    slept: list[float] = []
    monkeypatch.setattr("vehicle.bench.sources.time.sleep", slept.append)
    pacer = Pacer(10.0, clock=lambda: now[0])
    pacer.wait()  # first tick: at once
    now[0] = 10.03  # 30 ms spent since: sleep the remaining 70 ms to the 10.1 deadline
    pacer.wait()
    now[0] = 20.0  # far behind: no sleep, and the schedule restarts from now
    pacer.wait()
    now[0] = 20.05
    pacer.wait()
    assert slept == pytest.approx([0.07, 0.05])


def test_camera_image_is_deterministic_bgr_and_compresses_like_a_camera_frame() -> None:
    image = camera_image()
    assert image.shape == (480, 640, 3) and image.dtype == np.uint8
    assert np.array_equal(image, camera_image())
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok and 5_000 < len(jpeg) < 80_000  # noise would be ~200 kB, a flat frame ~3 kB


def test_bench_camera_delivers_its_image_into_the_slot() -> None:
    image = camera_image(32, 24)
    slot = LatestFrameSlot()
    with BenchCamera(image, 500.0) as camera:
        camera.start(slot)
        first = slot.wait_newer(0, 5.0)
        second = slot.wait_newer(first.seq, 5.0) if first else None
    assert first is not None and second is not None
    assert first.image is image and second.seq > first.seq
    assert camera.error is None
