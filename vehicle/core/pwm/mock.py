"""A PWM back-end with no hardware: it records every pulse with a timestamp.

Like gpiozero's mock pins, tests assert on ``history``. With a ``state_file`` the current
pulses are mirrored to JSON so that another process (the HIL emulator, ``vehicle neutral``)
sees the same "hardware", which keeps its last pulse after this process ends, as real PWM does.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calibration.model import CHANNELS, Channel
from vehicle.config import PWM_PERIOD_NS
from vehicle.core.pwm.base import PwmBackend, PwmError


@dataclass(frozen=True, slots=True)
class PulseRecord:
    """One write: when (``clock`` seconds), which channel, how wide (ns)."""

    t: float
    channel: Channel
    ns: int


@dataclass(frozen=True, slots=True)
class MockState:
    """What the mock "hardware" outputs, as read from its state file."""

    period_ns: int
    pulses: dict[Channel, int]
    t: float  # ``clock`` time of the last write


Listener = Callable[[PulseRecord], None]


def read_mock_state(path: Path) -> MockState | None:
    """The state another process's ``MockPwm`` mirrored; None if it never wrote a pulse."""
    path = Path(path)
    try:
        data: Any = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise PwmError(f"mock: cannot read state file {path}: {exc}") from exc
    try:
        pulses = {channel: int(ns) for channel, ns in data["pulses"].items()}
        if not set(pulses) <= set(CHANNELS):
            raise ValueError(f"unknown channel in {sorted(pulses)}")
        return MockState(int(data["period_ns"]), pulses, float(data["t"]))  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise PwmError(f"mock: state file {path} is malformed: {exc!r}") from exc


HISTORY_LIMIT = 100_000  # about half an hour of driving at 30 Hz; older records are dropped


class MockPwm(PwmBackend):
    """Records pulses; ``fail_writes = True`` makes every write raise (fault injection).

    ``history`` keeps the newest ``HISTORY_LIMIT`` records, so a long simulator session on
    the mock outputs does not grow without bound. Tail-light colours go to ``led_history``
    as (time, (red, green, blue) duty in ns).
    """

    name = "mock"
    led_outputs = (2, 3, 4)  # DeepRacer's wiring, recorded rather than driven

    def __init__(
        self,
        period_ns: int = PWM_PERIOD_NS,
        state_file: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(period_ns)
        self._clock = clock
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self.history: list[PulseRecord] = []
        self.led_history: list[tuple[float, tuple[int, int, int]]] = []
        self.fail_writes = False
        self.state_file = None if state_file is None else Path(state_file)
        previous = None if self.state_file is None else read_mock_state(self.state_file)
        # The "hardware" still outputs what the last process wrote.
        self.current: dict[Channel, int] = {} if previous is None else dict(previous.pulses)

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(record)`` after every successful write (in the writer's thread)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        self._listeners.remove(listener)

    def pulses(self, channel: Channel) -> list[int]:
        """The widths written to ``channel``, oldest first."""
        with self._lock:
            return [record.ns for record in self.history if record.channel == channel]

    def _write(self, channel: Channel, ns: int) -> None:
        if self.fail_writes:
            raise PwmError(f"mock: write of {ns} ns to {channel} failed (injected fault)")
        with self._lock:
            record = PulseRecord(self._clock(), channel, ns)
            if self.state_file is not None:
                _mirror(self.state_file, self.period_ns, {**self.current, channel: ns}, record.t)
            self.current[channel] = ns
            self.history.append(record)
            if len(self.history) > HISTORY_LIMIT:
                del self.history[: HISTORY_LIMIT // 2]  # trimmed in chunks: amortised O(1)
        for listener in list(self._listeners):
            listener(record)

    def _write_led(self, duties_ns: tuple[int, int, int]) -> None:
        if self.fail_writes:
            raise PwmError(f"mock: tail light write of {duties_ns} failed (injected fault)")
        with self._lock:
            self.led_history.append((self._clock(), duties_ns))
            del self.led_history[:-HISTORY_LIMIT]

    @property
    def led(self) -> tuple[int, int, int] | None:
        """The tail light's duties now (ns), None if never set."""
        with self._lock:
            return self.led_history[-1][1] if self.led_history else None


def _mirror(path: Path, period_ns: int, pulses: dict[Channel, int], t: float) -> None:
    """Replace the state file atomically (a reader sees old or new, never half)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps({"period_ns": period_ns, "pulses": pulses, "t": t}))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PwmError(f"mock: cannot update state file {path}: {exc}") from exc
