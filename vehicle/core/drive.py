"""The per-frame path, top to bottom: frame -> preprocess -> infer -> table -> governor.

Everything a step needs (session, input buffer, action table) is prepared before the step.
A model swap replaces one reference between steps, so no step ever sees a half-loaded model.
The loop itself never writes to the outputs: the safety governor does, and it also catches
what the loop cannot (a hung step leaves the command stale, and the governor's own watchdog
cuts the throttle).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vehicle.config import LoopSettings
from vehicle.core.actions import Action, ActionTable
from vehicle.core.camera import Frame, LatestFrameSlot
from vehicle.core.model import LoadedModel
from vehicle.core.safety import SafetyGovernor
from vehicle.core.telemetry import Telemetry

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ActivePolicy:
    """A validated model with its action table for the current calibration and limit."""

    model: LoadedModel
    table: ActionTable


@dataclass(frozen=True, slots=True)
class StepResult:
    seq: int
    t_capture: float
    t_done: float
    latency_s: float
    preprocess_s: float
    inference_s: float
    action: Action
    outputs: np.ndarray


class DriveLoop:
    """Frame-triggered loop with an optional rate cap and the loop-level fault checks."""

    def __init__(
        self,
        governor: SafetyGovernor,
        slot: LatestFrameSlot,
        loop: LoopSettings,
        *,
        telemetry: Telemetry | None = None,
        heartbeat: Callable[[], None] | None = None,
        after_step: Callable[[Frame, StepResult | None], None] | None = None,
    ) -> None:
        self.governor = governor
        self.slot = slot
        self.clock = slot.clock
        self.loop = loop
        self.telemetry = telemetry or Telemetry()
        self.heartbeat = heartbeat
        self.after_step = after_step  # told each finished frame, after its command: publishing
        self.active: ActivePolicy | None = None
        self.inference_bound_s = loop.inference_fault_s
        self.overrun_bound_s = loop.overrun_fault_s
        self.stall_after_s = loop.camera_stall_s
        self.stage = "idle"
        self.publish_errors = 0

    def swap_policy(self, active: ActivePolicy | None) -> None:
        """Install a fully prepared policy; the next step uses it (one reference write)."""
        self.active = active

    def step(self, frame: Frame) -> StepResult | None:
        """Run one frame through the policy and hand the command to the governor."""
        active = self.active
        if active is None:
            return None
        clock = self.clock
        self.stage = "preprocess"
        t_start = clock()
        tensor = active.model.preprocessor(frame.image)
        self.stage = "inference"
        t_infer = clock()
        outputs = active.model.policy.run(tensor)
        inference_s = clock() - t_infer
        self.stage = "action"
        action = active.table.decide(outputs)
        self.stage = "output"
        if inference_s > self.inference_bound_s and self._driving():
            self.governor.fault(
                f"inference took {inference_s * 1e3:.0f} ms, bound "
                f"{self.inference_bound_s * 1e3:.0f} ms"
            )
        else:
            self.governor.command_autonomous(
                action.steer_norm, action.throttle_norm, frame.t_capture
            )
        t_done = clock()
        latency_s = t_done - frame.t_capture
        if latency_s > self.overrun_bound_s and self._driving():
            self.governor.fault(
                f"loop overrun: frame to command {latency_s * 1e3:.0f} ms, bound "
                f"{self.overrun_bound_s * 1e3:.0f} ms"
            )
        self.stage = "telemetry"
        probabilities = outputs if action.index is not None else None
        self.telemetry.record(
            t_done,
            latency_s,
            inference_s,
            (action.index, action.steer_norm, action.throttle_norm, probabilities),
        )
        self.stage = "idle"
        return StepResult(
            frame.seq,
            frame.t_capture,
            t_done,
            latency_s,
            t_infer - t_start,
            inference_s,
            action,
            outputs,
        )

    def _after(self, frame: Frame, result: StepResult | None) -> None:
        """Publishing must never take the loop down: a failure is logged and counted."""
        try:
            self.after_step(frame, result)
        except Exception:
            self.publish_errors += 1
            if self.publish_errors == 1:
                log.exception("publishing a step failed (logged once)")

    def _driving(self) -> bool:
        return self.governor.status().state.armed

    def run(
        self,
        stop: threading.Event,
        *,
        max_frames: int | None = None,
        source_done: threading.Event | None = None,
        on_step: Callable[[StepResult], None] | None = None,
    ) -> int:
        """Process frames until ``stop``, ``max_frames`` or the source ends; returns the count.

        Any exception in a step latches a governor fault naming the stage, and the loop goes
        on (the console still sees frames; the operator re-arms).
        """
        last_seq = 0
        processed = 0
        last_frame_at = self.clock()
        min_period = 1.0 / self.loop.rate_cap_hz if self.loop.rate_cap_hz else 0.0
        poll = min(0.05, self.stall_after_s / 4)
        while not stop.is_set() and (max_frames is None or processed < max_frames):
            if self.heartbeat is not None:
                self.heartbeat()
            frame = self.slot.wait_newer(last_seq, poll)
            if frame is None:
                if source_done is not None and source_done.is_set():
                    break
                silent_s = self.clock() - last_frame_at
                if silent_s > self.stall_after_s and self._driving():
                    self.governor.fault(f"camera stall: no frame for {silent_s * 1e3:.0f} ms")
                continue
            last_seq = frame.seq
            last_frame_at = frame.t_capture
            result = None
            try:
                result = self.step(frame)
            except Exception as exc:
                log.exception("drive step failed in %s", self.stage)
                self.governor.fault(f"{self.stage} failed: {type(exc).__name__}: {exc}")
                continue
            finally:
                if self.after_step is not None:
                    self._after(frame, result)
            processed += 1
            self.telemetry.frames_dropped = self.slot.dropped
            if result is not None and on_step is not None:
                on_step(result)
            if min_period:
                stop.wait(max(0.0, frame.t_capture + min_period - self.clock()))
        return processed
