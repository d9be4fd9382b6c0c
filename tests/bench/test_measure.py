"""A measurement window over the reproduced DonkeyCar loop, in-process (no timings checked)."""

from pathlib import Path

import pytest

from vehicle.bench.donkey import DonkeyLoop, ReproducedVehicle
from vehicle.bench.measure import summarize, watch
from vehicle.bench.sources import camera_image
from vehicle.bench.stats import BenchError


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
