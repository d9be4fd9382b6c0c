"""The emulator reports what the mock "hardware" outputs, and each fault does what it says."""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

import pytest

from hil_rig.client import RigClient, RigError
from hil_rig.emulator import OFFSET_NS, Emulator, EmulatorError
from hil_rig.firmware.wire import format_line
from hil_rig.protocol import Sample
from vehicle.core.pwm.mock import MockPwm

STEER, THROTTLE = 1_500_000, 1_446_000


def samples_after(client: RigClient, count: int, start: int) -> list[Sample]:
    """Wait for ``count`` full samples after message index ``start``."""
    seen: list[Sample] = []

    def enough(item) -> bool:
        m = item.message
        if isinstance(m, Sample) and m.steering_ns is not None and m.throttle_ns is not None:
            seen.append(m)
        return len(seen) >= count

    assert client.wait_for(enough, timeout=10.0, start=start) is not None
    return seen


def run(tmp_path: Path, fault: str | None, count: int = 15) -> tuple[list[Sample], RigClient]:
    state = tmp_path / "pwm.json"
    with Emulator(state, fault=fault) as emulator, RigClient(emulator.path) as client:
        client.wait_hello()
        with MockPwm(state_file=state) as pwm:
            pwm.set_pulse("steering", STEER)
            pwm.set_pulse("throttle", THROTTLE)
            first = samples_after(client, 2, 0)
            pwm.set_pulse("steering", STEER + 100_000)
            later = samples_after(client, count, len(client.received))
        return first + later, client


def test_clean_emulator_reports_the_pulses(tmp_path):
    samples, client = run(tmp_path, None)
    assert {(s.steering_ns, s.throttle_ns) for s in samples[-5:]} == {(STEER + 100_000, THROTTLE)}
    assert client.stats.malformed == client.stats.missing == 0


def test_offset_widens_every_pulse(tmp_path):
    samples, _ = run(tmp_path, "offset")
    assert (samples[-1].steering_ns, samples[-1].throttle_ns) == (
        STEER + 100_000 + OFFSET_NS,
        THROTTLE + OFFSET_NS,
    )


def test_freeze_keeps_the_first_pulses(tmp_path):
    samples, _ = run(tmp_path, "freeze")
    assert {(s.steering_ns, s.throttle_ns) for s in samples} == {(STEER, THROTTLE)}


def test_drop_leaves_gaps_in_the_pulse_train(tmp_path):
    samples, client = run(tmp_path, "drop", count=20)
    intervals = [b.t_us - a.t_us for a, b in itertools.pairwise(samples[2:])]
    assert max(intervals) >= 35_000
    assert client.stats.missing == client.stats.malformed == 0  # the link itself is fine


def test_garbage_mangles_lines(tmp_path):
    _, client = run(tmp_path, "garbage", count=30)
    assert client.stats.malformed > 0


def test_silence_is_reported_as_lost(tmp_path):
    with Emulator(tmp_path / "none.json") as emulator, RigClient(emulator.path) as client:
        client.wait_hello()
        lost = client.wait_for(lambda r: type(r.message).__name__ == "Lost", timeout=5.0)
        assert lost is not None


def test_unknown_fault_is_refused(tmp_path):
    with pytest.raises(EmulatorError, match="unknown fault 'smoke'"):
        Emulator(tmp_path / "s.json", fault="smoke")


def test_unopenable_port_is_a_rig_error(tmp_path):
    with pytest.raises(RigError, match="cannot open rig"):
        RigClient(str(tmp_path / "no-such-tty"))


def test_silent_port_is_a_rig_error():
    with RigClient("loop://") as client, pytest.raises(RigError, match="no HELLO"):
        client.wait_hello(timeout=0.3)


def test_other_protocol_version_is_refused():
    master, slave = os.openpty()
    try:
        hello = format_line(["HELLO", "0", "0", "2", "9.0", "16", "20000", "60000"]).encode()
        with RigClient(os.ttyname(slave)) as client:
            # The rig answers the request wait_hello sends, so the HELLO comes after it.
            answer = threading.Timer(0.2, os.write, args=(master, hello))
            answer.start()
            try:
                with pytest.raises(RigError, match="rig speaks protocol 2"):
                    client.wait_hello(timeout=10.0)
            finally:
                answer.cancel()
    finally:
        os.close(master)
        os.close(slave)
