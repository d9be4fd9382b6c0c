"""Does a cheaper form of a network drive like the original? Judged on simulator frames.

Two uses, with two bars:

- An optimised fp32 graph is the same network computed in another order: its outputs must
  stay within ``FP32_TOLERANCE`` of the original's, with the same action on every frame.
- A reduced-precision network (int8 dense weights) is a different network that may drive
  the same. It is used only if, on at least ``MIN_FRAMES`` simulator frames from several
  tracks, it picks the fp32 network's action on at least ``MIN_AGREEMENT`` of them, and never
  picks another action where fp32 was sure of its choice (top-2 margin above
  ``MAX_FLIP_MARGIN``). Close calls may flip; a clear choice may not.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Any

import numpy as np

from vehicle.core.policy import Policy
from vehicle.core.preprocess import Preprocessor

MIN_FRAMES = 10_000
MIN_AGREEMENT = 0.999
MAX_FLIP_MARGIN = 0.05
FP32_TOLERANCE = 1e-4
CHUNK_FRAMES = 250  # frames preprocessed at a time: 19 MB of float32 tensors


@dataclass(frozen=True)
class Agreement:
    """How a candidate's actions compare with the fp32 network's on the same frames."""

    frames: int
    identical: int  # frames where both chose the same action
    worst_flip_margin: float | None  # fp32's top-2 margin on the surest frame that flipped
    max_abs_diff: float  # largest output difference on any frame
    accepted: bool
    reason: str

    @property
    def fraction(self) -> float:
        return self.identical / self.frames if self.frames else 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["fraction"] = round(self.fraction, 6)
        data["max_abs_diff"] = float(f"{self.max_abs_diff:.3g}")
        if self.worst_flip_margin is not None:
            data["worst_flip_margin"] = round(self.worst_flip_margin, 6)
        return data

    def summary(self) -> str:
        flips = self.frames - self.identical
        worst = "" if not flips else f", surest flip at fp32 margin {self.worst_flip_margin:.4f}"
        return (
            f"{self.identical:,}/{self.frames:,} frames the same action "
            f"({100 * self.fraction:.2f} %){worst}"
        )


def outputs_on(
    policies: Sequence[Policy],
    frames: Iterable[np.ndarray],
    *,
    deadline: float | None = None,
    until: Callable[[list[np.ndarray]], bool] | None = None,
) -> list[np.ndarray]:
    """Each policy's outputs (frames x outputs) on the same frames, preprocessed as the car
    does. Frames go in chunks; within a chunk each policy runs in its own thread (the
    engines release the GIL), so two policies use both cores of an idle car. Stops early,
    between chunks, once ``time.monotonic()`` passes ``deadline`` or ``until`` is true of
    the outputs so far."""
    preprocessors = {p.layout: Preprocessor(p.layout) for p in policies}
    rows: list[list[np.ndarray]] = [[] for _ in policies]

    def run(index: int, tensors: dict[str, list[np.ndarray]]) -> None:
        policy = policies[index]
        rows[index].extend(policy.run(t) for t in tensors[policy.layout])

    iterator = iter(frames)
    with ThreadPoolExecutor(max_workers=len(policies)) as pool:
        while chunk := list(islice(iterator, CHUNK_FRAMES)):
            tensors = {
                layout: [pre(frame).copy() for frame in chunk]
                for layout, pre in preprocessors.items()
            }
            for future in [pool.submit(run, i, tensors) for i in range(len(policies))]:
                future.result()
            if deadline is not None and time.monotonic() > deadline:
                break
            if until is not None and until(_stacked(rows, policies)):
                break
    return _stacked(rows, policies)


def _stacked(rows: list[list[np.ndarray]], policies: Sequence[Policy]) -> list[np.ndarray]:
    return [
        np.stack(row) if row else np.empty((0, p.n_outputs))
        for row, p in zip(rows, policies, strict=True)
    ]


def _margins(outputs: np.ndarray) -> np.ndarray:
    top2 = np.sort(outputs, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def _actions_compared(reference: np.ndarray, candidate: np.ndarray) -> tuple[int, float | None]:
    """Frames with the same action, and fp32's top-2 margin on the surest frame that flipped."""
    same = reference.argmax(axis=1) == candidate.argmax(axis=1)
    worst = float(_margins(reference)[~same].max()) if not same.all() else None
    return int(same.sum()), worst


def judge_reduced(
    reference: np.ndarray, candidate: np.ndarray, *, planned: int = MIN_FRAMES
) -> Agreement:
    """The reduced-precision gate, on discrete actions (argmax of the outputs)."""
    frames = len(reference)
    identical, worst = _actions_compared(reference, candidate)
    diff = float(np.abs(reference - candidate).max()) if frames else 0.0
    refusal = _certain_refusal(frames, identical, worst, planned)
    if refusal is not None:
        accepted, reason = False, refusal
    elif frames < MIN_FRAMES:
        accepted, reason = False, f"only {frames:,} frames; the gate needs {MIN_FRAMES:,}"
    else:
        accepted, reason = True, "agrees with fp32"
    return Agreement(frames, identical, worst, diff, accepted, reason)


def _certain_refusal(frames: int, identical: int, worst: float | None, planned: int) -> str | None:
    """Why the gate refuses, if it must whatever the rest of ``planned`` frames do."""
    if worst is not None and worst > MAX_FLIP_MARGIN:
        return f"an action flipped where fp32's margin was above {MAX_FLIP_MARGIN}"
    total = max(frames, planned)
    if identical + (total - frames) < MIN_AGREEMENT * total:
        return f"the same action on fewer than {100 * MIN_AGREEMENT:g} %"
    return None


def refused_before_the_end(planned: int) -> Callable[[list[np.ndarray]], bool]:
    """An ``until`` for ``outputs_on``: true once the frames so far can only end in refusal,
    so a network that int8 breaks is turned away after a chunk, not ten thousand frames."""

    def settled(outputs: list[np.ndarray]) -> bool:
        reference, candidate = outputs
        identical, worst = _actions_compared(reference, candidate)
        return _certain_refusal(len(reference), identical, worst, planned) is not None

    return settled


def judge_equivalent(reference: np.ndarray, candidate: np.ndarray, *, discrete: bool) -> Agreement:
    """The fp32 bar: outputs within ``FP32_TOLERANCE`` and, for discrete actions, every
    action the same."""
    frames = len(reference)
    diff = float(np.abs(reference - candidate).max()) if frames else 0.0
    identical, worst = _actions_compared(reference, candidate)
    if diff > FP32_TOLERANCE:
        accepted, reason = False, f"outputs differ by {diff:.3g} (more than {FP32_TOLERANCE:g})"
    elif discrete and identical != frames:
        accepted, reason = False, "an action differs"
    else:
        accepted, reason = True, "the same network"
    return Agreement(frames, identical, worst, diff, accepted, reason)
