"""Does opening a model while driving stall the drive loop? Measured, not assumed.

The car drives autonomously at the bench's rate; partway through, a second session of the
same (DeepRacer-sized) model is opened in another thread of the drive process, as a switch
while driving would do. The figure is the worst interval between pulses during the open,
against the worst interval while nothing opens. The car switches models while driving
(``DriveCore.load_model``) because this stays well under one period; were it longer, a
switch would have to wait until the car is stopped, as on DeepRacer's car.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from vehicle.bench.ours import OursLoop
from vehicle.bench.sources import camera_image
from vehicle.core.model import open_model

QUIET_S = 3.0  # driving before and after the open


def measure_model_open(bundle: Path, *, rate_hz: float, warmup_s: float) -> dict[str, Any]:
    loop = OursLoop(bundle, camera_image(), camera_hz=rate_hz, nominal_hz=rate_hz, service=False)
    probe = loop.probe
    loop.start()
    try:
        time.sleep(warmup_s + QUIET_S)
        opened: list[float] = []

        def open_once() -> None:
            started = time.monotonic()
            open_model(bundle, bundle.name)
            opened.append(time.monotonic())
            opened.insert(0, started)

        opener = threading.Thread(target=open_once)
        opener.start()
        opener.join()
        time.sleep(QUIET_S)
        pulses = np.array(probe.pulse_times)
    finally:
        loop.stop()
    start, end = opened
    intervals = np.diff(pulses)
    ends = pulses[1:]
    during = intervals[(ends > start) & (ends <= end + 1.0 / rate_hz)]
    quiet = intervals[(ends > pulses[0] + warmup_s) & (ends <= start)]
    period_ms = 1000.0 / rate_hz
    worst = float(during.max()) * 1e3 if during.size else float("nan")
    return {
        "rate_hz": rate_hz,
        "open_ms": round((end - start) * 1e3, 1),
        "worst_interval_while_opening_ms": round(worst, 1),
        "worst_interval_quiet_ms": round(float(quiet.max()) * 1e3, 1),
        "stall_periods": round((worst - period_ms) / period_ms, 2),
    }
