"""The known frames a run feeds the car, and the pulses each must produce.

Expected pulses are computed offline with the car's own code path (bundle loader,
preprocessor, policy, action table, calibration), so a mismatch at the outputs means the car
did something other than what its model and calibration say. Frames are chosen so that
consecutive segments steer visibly differently, and each is held for a few frames so the
throttle ramp can settle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from calibration.model import Calibration
from vehicle.core.actions import ActionTable
from vehicle.core.camera import IMAGE_SUFFIXES
from vehicle.model import LoadedModel

MIN_SEGMENTS = 3


class PlanError(ValueError):
    """Frames or settings from which no meaningful test run can be built."""


@dataclass(frozen=True, slots=True)
class Pulses:
    steering_ns: int
    throttle_ns: int

    def matches(self, steering_ns: int | None, throttle_ns: int | None, tolerance_ns: int) -> bool:
        return (
            steering_ns is not None
            and throttle_ns is not None
            and abs(steering_ns - self.steering_ns) <= tolerance_ns
            and abs(throttle_ns - self.throttle_ns) <= tolerance_ns
        )


@dataclass(frozen=True, slots=True)
class Segment:
    """Consecutive copies of one frame; the pulses it must produce at each throttle limit."""

    files: tuple[str, ...]
    pulses: dict[float, Pulses]


@dataclass(frozen=True)
class Plan:
    folder: Path
    fps: float
    segments: tuple[Segment, ...]
    neutral: Pulses

    @property
    def files(self) -> list[str]:
        return [name for segment in self.segments for name in segment.files]

    @property
    def duration_s(self) -> float:
        return len(self.files) / self.fps


def synthetic_frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """Road-ish shapes (a lane line at some angle, a blob): spatial structure that makes
    even an untrained network pick different actions, unlike noise or flat grey."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(count):
        gray = np.full((120, 160), 60, np.uint8)
        centre = (int(rng.integers(0, 160)), int(rng.integers(0, 120)))
        cv2.circle(gray, centre, int(rng.integers(5, 60)), 220, -1)
        angle = rng.uniform(0.0, np.pi)
        end = (int(80 + 150 * np.cos(angle)), int(120 - 150 * np.sin(angle)))
        cv2.line(gray, (80, 120), end, 200, int(rng.integers(2, 20)))
        frames.append(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
    return frames


def read_frames(folder: Path) -> list[np.ndarray]:
    """Recorded frames from a folder, in name order."""
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    frames = []
    for path in paths:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise PlanError(f"cannot decode frame {path}")
        frames.append(image)
    if not frames:
        raise PlanError(f"no frames ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return frames


def build_plan(
    model: LoadedModel,
    calibration: Calibration,
    candidates: list[np.ndarray],
    folder: Path,
    *,
    limits: tuple[float, ...],
    fps: float,
    hold: int,
    min_step_ns: int,
    max_segments: int = 6,
) -> Plan:
    """Pick frames whose steering differs from the previous pick by ``min_step_ns``, write
    ``hold`` PNG copies of each into ``folder`` (lossless: the car decodes the same pixels)."""
    if hold < 1 or fps <= 0:
        raise PlanError(f"hold must be >= 1 frame and fps positive, got {hold}, {fps}")
    tables = {
        limit: ActionTable.build(model.metadata.action_space, calibration, limit)
        for limit in limits
    }
    chosen: list[tuple[np.ndarray, dict[float, Pulses]]] = []
    for image in candidates:
        outputs = model.policy.run(model.preprocessor(image))
        pulses = {}
        for limit, table in tables.items():
            action = table.decide(outputs)
            pulses[limit] = Pulses(
                calibration.steering.to_pulse(action.steer_norm),
                calibration.throttle.to_pulse(action.throttle_norm),
            )
        step = pulses[limits[0]].steering_ns
        if not chosen or abs(step - chosen[-1][1][limits[0]].steering_ns) >= min_step_ns:
            chosen.append((image, pulses))
        if len(chosen) == max_segments:
            break
    if len(chosen) < MIN_SEGMENTS:
        raise PlanError(
            f"the frames give fewer than {MIN_SEGMENTS} visibly different steering pulses "
            f"with this model; pass recorded frames that make it steer left and right"
        )
    folder.mkdir(parents=True, exist_ok=True)
    segments = []
    for index, (image, pulses) in enumerate(chosen):
        names = tuple(f"f{index:03d}_{copy:02d}.png" for copy in range(hold))
        for name in names:
            if not cv2.imwrite(str(folder / name), image):
                raise PlanError(f"cannot write frame {folder / name}")
        segments.append(Segment(names, pulses))
    neutral = Pulses(calibration.steering.mid_ns, calibration.throttle.mid_ns)
    return Plan(folder, fps, tuple(segments), neutral)
