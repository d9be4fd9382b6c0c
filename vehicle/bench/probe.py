"""Capture-to-pulse timing taken where the pulse is written: a listener on the mock PWM.

Pulses are keyed by the writing thread, so a watchdog's write (another thread) is never taken
for the drive loop's. The loop thread calls ``step_done`` after each step; the newest pulse
that thread wrote during the step is paired with the frame's capture time.
"""

from __future__ import annotations

import threading

from vehicle.core.pwm.mock import PulseRecord


class PulseProbe:
    """Latencies and pulse times of one run; the MockPwm's clock must be the frames' clock."""

    def __init__(self) -> None:
        self._written: dict[int, float] = {}
        self.latencies_s: list[float] = []
        self.pulse_times: list[float] = []
        self.steps_without_pulse = 0
        # Optional per-step components (seconds), aligned with ``latencies_s``.
        self.parts: dict[str, list[float]] = {}

    def on_pulse(self, record: PulseRecord) -> None:
        """MockPwm listener (runs in the writing thread): note when that thread wrote."""
        self._written[threading.get_ident()] = record.t

    def step_done(self, t_capture: float, **parts_s: float) -> None:
        """Called from the loop thread once its step is done, with what the step took in
        each component it can name (kept only for steps that wrote a pulse)."""
        t_pulse = self._written.pop(threading.get_ident(), None)
        if t_pulse is None:
            self.steps_without_pulse += 1
            return
        for name, seconds in parts_s.items():
            self.parts.setdefault(name, []).append(seconds)
        self.latencies_s.append(t_pulse - t_capture)
        self.pulse_times.append(t_pulse)
