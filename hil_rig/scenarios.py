"""Judging what the rig measured. Pure functions: recorded samples in, a verdict out.

Every check states its precondition: a fail-safe check only passes when the car was seen
driving first, because "neutral after the signal" proves nothing about a car that never
left neutral (or a rig whose readings are stuck).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from hil_rig.client import Received
from hil_rig.firmware.wire import SEQ_MODULO
from hil_rig.plan import Pulses
from hil_rig.protocol import Hello, LinkStats, Sample


@dataclass(frozen=True, slots=True)
class Point:
    """A sample on the host's monotonic clock."""

    t: float
    steering_ns: int | None
    throttle_ns: int | None

    def full(self) -> bool:
        return self.steering_ns is not None and self.throttle_ns is not None

    def describe(self) -> str:
        return f"steering {self.steering_ns} ns, throttle {self.throttle_ns} ns"


@dataclass
class ScenarioResult:
    name: str
    passed: bool
    detail: str
    figures: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "passed": self.passed, "detail": self.detail, **self.figures}


@dataclass(frozen=True, slots=True)
class CarFault:
    """A fault the car latched during run ``run``; ``t`` on the host's monotonic clock (None
    when its log line gave no time)."""

    run: int
    t: float | None
    reason: str

    def describe(self) -> str:
        return f"run {self.run}: {self.reason}"


_STALL = re.compile(r"camera stall: no frame for (\d+) ms")


def timeline(received: list[Received]) -> list[Point]:
    """Samples on the host clock: rig time plus the smallest host-minus-rig offset seen, which
    is the offset for the line that crossed the link fastest."""
    if not received:
        return []
    offset = min(r.t_host - r.message.t_us / 1e6 for r in received)
    return [
        Point(m.t_us / 1e6 + offset, m.steering_ns, m.throttle_ns)
        for m in (r.message for r in received)
        if isinstance(m, Sample)
    ]


def window(points: list[Point], t_from: float, t_to: float) -> list[Point]:
    return [p for p in points if t_from <= p.t < t_to]


def _differs(value: int | None, reference: int, tolerance_ns: int) -> bool:
    return value is not None and abs(value - reference) > tolerance_ns


def _driving(point: Point, neutral: Pulses, tolerance_ns: int, channels: tuple[str, ...]) -> bool:
    return any(
        _differs(getattr(point, f"{c}_ns"), getattr(neutral, f"{c}_ns"), tolerance_ns)
        for c in channels
    )


def check_link(hello: Hello | None, stats: LinkStats, read_error: str | None) -> ScenarioResult:
    """The serial link itself: a rig that identifies itself and no line lost or mangled."""
    figures: dict[str, object] = {"link": stats.as_dict()}
    if hello is None:
        return ScenarioResult("link", False, "no HELLO from the rig", figures)
    figures["firmware"] = hello.firmware
    problems = []
    if read_error:
        problems.append(read_error)
    if stats.malformed:
        reasons = ", ".join(f"{n}x {r}" for r, n in stats.reasons.most_common(3))
        problems.append(f"{stats.malformed} malformed lines ({reasons})")
    if stats.missing:
        problems.append(f"{stats.missing} lines missing from the sequence")
    if problems:
        return ScenarioResult("link", False, "; ".join(problems), figures)
    return ScenarioResult(
        "link", True, f"firmware {hello.firmware}, {stats.lines} lines, none lost", figures
    )


def check_frames(received: list[Received], period_us: int, t_from: float) -> ScenarioResult:
    """Every PWM period carries a pulse on both channels once the car has started.

    A gap only counts where the link lost nothing in between (consecutive line numbers), so
    serial noise is blamed on the link, not on the car's outputs.
    """
    gaps = 0
    frames = 0
    intervals: list[int] = []
    previous: Sample | None = None
    last_seq: int | None = None
    for item in received:
        message = item.message
        continuous = last_seq is not None and (message.seq - last_seq) % SEQ_MODULO == 1
        last_seq = message.seq
        if not continuous:
            previous = None
        if item.t_host < t_from or not isinstance(message, Sample):
            continue
        if message.steering_ns is None or message.throttle_ns is None:
            previous = None
            continue
        frames += 1
        if previous is not None:
            interval = message.t_us - previous.t_us
            intervals.append(interval)
            if interval > period_us * 3 // 2:
                gaps += 1
        previous = message
    figures: dict[str, object] = {"frames": frames, "missing_frames": gaps}
    if intervals:
        figures["period_ms"] = round(float(np.median(intervals)) / 1e3, 3)
    if frames < 10:
        return ScenarioResult("pwm_frames", False, f"only {frames} full PWM frames seen", figures)
    if gaps:
        return ScenarioResult(
            "pwm_frames", False, f"{gaps} gaps in the pulse train over {frames} frames", figures
        )
    return ScenarioResult("pwm_frames", True, f"{frames} frames, no gaps", figures)


def check_sequence(
    name: str, points: list[Point], expected: list[Pulses], tolerance_ns: int
) -> ScenarioResult:
    """Each expected pulse pair is measured, in order (ramps may pass through others)."""
    index = 0
    for number, pulses in enumerate(expected, 1):
        while index < len(points) and not pulses.matches(
            points[index].steering_ns, points[index].throttle_ns, tolerance_ns
        ):
            index += 1
        if index == len(points):
            closest = min(
                (p for p in points if p.full()),
                key=lambda p: max(
                    abs(p.steering_ns - pulses.steering_ns),  # type: ignore[operator]
                    abs(p.throttle_ns - pulses.throttle_ns),  # type: ignore[operator]
                ),
                default=None,
            )
            seen = closest.describe() if closest else "no full samples"
            return ScenarioResult(
                name,
                False,
                f"frame {number} of {len(expected)}: expected steering {pulses.steering_ns} ns, "
                f"throttle {pulses.throttle_ns} ns (+-{tolerance_ns} ns) never measured; "
                f"closest: {seen}",
                {"matched": number - 1, "expected": len(expected)},
            )
    return ScenarioResult(
        name,
        True,
        f"all {len(expected)} expected pulse pairs measured in order",
        {"matched": len(expected), "expected": len(expected)},
    )


def transition_latencies(
    points: list[Point], opens: list[float], tolerance_ns: int
) -> tuple[list[float], int]:
    """For each frame that changes the action (open times, sorted), the time to the first
    sample whose steering moved off its previous value; and how many never moved in time."""
    latencies: list[float] = []
    missed = 0
    for number, t_open in enumerate(opens):
        t_next = opens[number + 1] if number + 1 < len(opens) else float("inf")
        before = [p for p in points if p.t <= t_open and p.steering_ns is not None]
        if not before:
            continue
        reference = before[-1].steering_ns
        assert reference is not None
        moved = next(
            (
                p
                for p in points
                if t_open < p.t < t_next and _differs(p.steering_ns, reference, tolerance_ns)
            ),
            None,
        )
        if moved is None:
            missed += 1
        else:
            latencies.append(moved.t - t_open)
    return latencies, missed


def check_latency(
    latencies: list[float], missed: int, max_latency_ms: float
) -> tuple[ScenarioResult, dict[str, float]]:
    """Frame read to the first PWM frame with the new pulse, p99 within the bound."""
    if not latencies:
        return ScenarioResult("latency", False, "no action change reached the outputs"), {}
    ms = np.array(latencies) * 1e3
    figures = {
        "p50": round(float(np.percentile(ms, 50)), 1),
        "p99": round(float(np.percentile(ms, 99)), 1),
        "max": round(float(ms.max()), 1),
    }
    result = ScenarioResult("latency", True, "", {"latency_ms": figures, "missed": missed})
    if missed:
        result.passed = False
        result.detail = f"{missed} of {missed + len(latencies)} action changes never reached "
    elif figures["p99"] > max_latency_ms:
        result.passed = False
        result.detail = f"p99 {figures['p99']} ms over the {max_latency_ms:g} ms bound; "
    result.detail += f"{len(latencies)} changes, p50 {figures['p50']} ms, p99 {figures['p99']} ms"
    return result, figures


def check_goes_neutral(
    name: str,
    points: list[Point],
    t_event: float,
    *,
    neutral: Pulses,
    tolerance_ns: int,
    deadline_s: float,
    observe_s: float,
    channels: tuple[str, ...] = ("steering", "throttle"),
) -> ScenarioResult:
    """Driving before ``t_event``; neutral on ``channels`` from ``t_event + deadline_s`` on."""
    before = [p for p in points if p.t < t_event and p.full()]
    if not before or not _driving(before[-1], neutral, tolerance_ns, channels):
        seen = before[-1].describe() if before else "no samples"
        return ScenarioResult(
            name, False, f"the car was not seen driving before the event ({seen})"
        )
    after = window(points, t_event + deadline_s, t_event + deadline_s + observe_s)
    if len(after) < 3:
        return ScenarioResult(name, False, f"only {len(after)} samples after the event")
    wrong = [p for p in after if not p.full() or _driving(p, neutral, tolerance_ns, channels)]
    if wrong:
        return ScenarioResult(
            name,
            False,
            f"{len(wrong)} of {len(after)} samples not neutral after {deadline_s * 1e3:.0f} ms "
            f"(first: {wrong[0].describe()}; neutral is steering {neutral.steering_ns} ns, "
            f"throttle {neutral.throttle_ns} ns)",
        )
    first = next(
        (p for p in points if p.t >= t_event and not _driving(p, neutral, tolerance_ns, channels)),
        after[0],
    )
    settle_ms = round((first.t - t_event) * 1e3, 1)
    return ScenarioResult(
        name, True, f"neutral {settle_ms} ms after the event", {"settle_ms": settle_ms}
    )


def check_holds(
    points: list[Point], t_from: float, t_to: float, *, neutral: Pulses, tolerance_ns: int
) -> ScenarioResult:
    """After SIGKILL nothing writes neutral: the hardware must keep the last driving pulse
    (else the ExecStopPost check that follows proves nothing)."""
    name = "sigkill_holds_last_pulse"
    held = window(points, t_from, t_to)
    if len(held) < 3 or not all(p.full() for p in held):
        return ScenarioResult(name, False, f"{len(held)} samples while the car was dead")
    first = held[0]
    if not _driving(first, neutral, tolerance_ns, ("steering", "throttle")):
        return ScenarioResult(
            name, False, f"outputs were neutral before the kill ({first.describe()})"
        )
    changed = [
        p
        for p in held
        if _differs(p.steering_ns, first.steering_ns, tolerance_ns)  # type: ignore[arg-type]
        or _differs(p.throttle_ns, first.throttle_ns, tolerance_ns)  # type: ignore[arg-type]
    ]
    if changed:
        return ScenarioResult(
            name, False, f"outputs changed with no process running ({changed[0].describe()})"
        )
    return ScenarioResult(name, True, f"held {first.describe()} for {len(held)} frames")


def check_car_faults(
    faults: list[CarFault], *, frames_stopped: tuple[int, float], slack_s: float
) -> ScenarioResult:
    """The car's own verdict: no fault in any run but the one the plan provokes.

    Stopping the frames (run ``frames_stopped[0]``, last frame read at ``frames_stopped[1]``)
    must make the car latch a camera stall, so a stall that began then is expected. Any other
    fault (a stall while frames flowed, an overrun, an output error) means the car failed
    where it should not have, even if every pulse we measured looked right.
    """
    run, t_stop = frames_stopped
    expected, unexpected = [], []
    for fault in faults:
        stall = _STALL.search(fault.reason)
        began = None if stall is None or fault.t is None else fault.t - int(stall[1]) / 1e3
        if fault.run == run and began is not None and began >= t_stop - slack_s:
            expected.append(fault.describe())
        else:
            unexpected.append(fault.describe())
    figures: dict[str, object] = {"expected": expected, "unexpected": unexpected}
    if unexpected:
        return ScenarioResult(
            "car_faults",
            False,
            f"{len(unexpected)} fault(s) the plan does not provoke: {'; '.join(unexpected)}",
            figures,
        )
    if expected:
        detail = f"only the camera stall that stopping the frames provokes ({expected[0]})"
    else:
        detail = "no fault latched"
    return ScenarioResult("car_faults", True, detail, figures)
