"""Measurement windows and floors, in-process (shapes and arithmetic, no timings checked)."""

from pathlib import Path

import pytest

from vehicle.bench.donkey import DonkeyLoop, ReproducedVehicle
from vehicle.bench.floor import measure_floor
from vehicle.bench.measure import Window, breakdown, summarize, watch
from vehicle.bench.probe import PulseProbe
from vehicle.bench.runner import over
from vehicle.bench.sources import camera_image
from vehicle.bench.stats import BenchError
from vehicle.core.pwm.mock import PulseRecord
from vehicle.model import load_bundle


def test_window_over_the_reproduced_loop_summarizes(tiny_bundle: Path) -> None:
    image = camera_image()
    paced = watch(
        DonkeyLoop(ReproducedVehicle, tiny_bundle, image, camera_hz=100.0, rate_hz=100.0),
        warmup_s=0.1,
        duration_s=0.3,
    )
    fast = watch(
        DonkeyLoop(ReproducedVehicle, tiny_bundle, image, camera_hz=2000.0, rate_hz=1e6),
        warmup_s=0.1,
        duration_s=0.3,
    )
    assert paced.steps == len(paced.latencies_s) > 1
    assert paced.frames_dropped is None and paced.steps_without_pulse == 0
    assert paced.cpu_s >= 0 and paced.rss_mb > 0
    summary = summarize(paced, fast, target_hz=100.0)
    assert summary["rate_hz"] == 100.0 and summary["steps"] == paced.steps
    assert summary["cpu_ms_per_step"] == round(paced.cpu_s * 1000 / paced.steps, 3)


@pytest.mark.parametrize(("warmup", "duration"), [(0.1, 0.0), (-1.0, 0.5)])
def test_window_rejects_bad_times_before_starting(
    tiny_bundle: Path, warmup: float, duration: float
) -> None:
    loop = DonkeyLoop(ReproducedVehicle, tiny_bundle, camera_image(), camera_hz=30, rate_hz=30)
    with pytest.raises(BenchError):
        watch(loop, warmup_s=warmup, duration_s=duration)
    assert loop.probe.pulse_times == []


def test_floor_back_to_back_and_at_a_rate(tiny_bundle: Path) -> None:
    model = load_bundle(tiny_bundle)
    for hz in (None, 200.0):
        floor = measure_floor(model, camera_image(), 0.05, hz=hz)
        assert set(floor) == {"p50", "p99"} and 0 < floor["p50"] <= floor["p99"]
    with pytest.raises(BenchError):
        measure_floor(model, camera_image(), 0.0)


def test_latency_as_multiples_of_the_floor() -> None:
    assert over({"p50": 1.3, "p99": 2.0}, 0.5) == {"p50": 2.6, "p99": 4.0}


def test_breakdown_names_each_part_and_the_rest() -> None:
    window = Window(
        latencies_s=[0.010, 0.020, 0.030],
        pulse_times=[1.0, 2.0, 3.0],
        cpu_s=0.0,
        rss_mb=1.0,
        frames_dropped=0,
        steps_without_pulse=0,
        parts_s={"wake": [0.001, 0.002, 0.003], "inference": [0.005, 0.010, 0.020]},
    )
    # the rest per step: 4, 8, 7 ms -> median 7
    assert breakdown(window) == {"wake": 2.0, "inference": 10.0, "preprocess_and_output": 7.0}
    assert breakdown(Window([0.01], [1.0], 0.0, 1.0, None, 0, {})) == {}


def test_probe_keeps_parts_only_for_steps_that_wrote() -> None:
    probe = PulseProbe()
    probe.step_done(0.0, wake=0.001)  # nothing written: not kept
    probe.on_pulse(PulseRecord(0.004, "steering", 1_450_000))
    probe.step_done(0.001, wake=0.002)
    assert probe.parts == {"wake": [0.002]} and probe.latencies_s == [0.003]
    assert probe.steps_without_pulse == 1
