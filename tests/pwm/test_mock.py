"""The mock back-end: timestamped history, listeners, fault injection, shared state file."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import count
from pathlib import Path

import pytest

from vehicle.core.pwm.base import PwmError
from vehicle.core.pwm.mock import MockPwm, MockState, PulseRecord, read_mock_state


def ticking_clock():  # type: ignore[no-untyped-def]
    ticks = count(1)
    return lambda: float(next(ticks))


def test_history_records_time_channel_and_width() -> None:
    pwm = MockPwm(clock=ticking_clock())
    pwm.set_pulse("steering", 1_450_000)
    pwm.set_pulse("throttle", 1_446_000)
    pwm.set_pulse("steering", 1_700_000)
    assert pwm.history == [
        PulseRecord(1.0, "steering", 1_450_000),
        PulseRecord(2.0, "throttle", 1_446_000),
        PulseRecord(3.0, "steering", 1_700_000),
    ]
    assert pwm.current == {"steering": 1_700_000, "throttle": 1_446_000}
    assert pwm.pulses("steering") == [1_450_000, 1_700_000]


def test_nothing_is_output_before_the_first_write() -> None:
    pwm = MockPwm()
    assert pwm.current == {}
    assert pwm.history == []


def test_listeners_see_each_record_until_removed() -> None:
    pwm = MockPwm(clock=ticking_clock())
    seen: list[PulseRecord] = []
    pwm.add_listener(seen.append)
    pwm.set_pulse("throttle", 1_500_000)
    pwm.remove_listener(seen.append)
    pwm.set_pulse("throttle", 1_400_000)
    assert seen == [PulseRecord(1.0, "throttle", 1_500_000)]


def test_injected_write_failure_raises_and_changes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "pwm.json"
    pwm = MockPwm(state_file=state)
    pwm.set_pulse("throttle", 1_446_000)
    before = state.read_bytes()
    seen: list[PulseRecord] = []
    pwm.add_listener(seen.append)
    pwm.fail_writes = True
    with pytest.raises(PwmError, match="injected fault"):
        pwm.set_pulse("throttle", 1_600_000)
    assert pwm.current == {"throttle": 1_446_000}
    assert len(pwm.history) == 1
    assert seen == []
    assert state.read_bytes() == before
    pwm.fail_writes = False
    pwm.set_pulse("throttle", 1_600_000)
    assert pwm.current == {"throttle": 1_600_000}


def test_state_file_mirrors_current_pulses(tmp_path: Path) -> None:
    state = tmp_path / "pwm.json"
    pwm = MockPwm(period_ns=10_000_000, state_file=state, clock=ticking_clock())
    assert read_mock_state(state) is None
    pwm.set_pulse("steering", 1_450_000)
    pwm.set_pulse("throttle", 1_446_000)
    assert read_mock_state(state) == MockState(
        10_000_000, {"steering": 1_450_000, "throttle": 1_446_000}, 2.0
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pwm.json"]


def test_state_outlives_the_process_like_real_pwm(tmp_path: Path) -> None:
    state = tmp_path / "pwm.json"
    script = (
        "import sys; from pathlib import Path; from vehicle.core.pwm.mock import MockPwm\n"
        "pwm = MockPwm(state_file=Path(sys.argv[1]))\n"
        "pwm.set_pulse('throttle', 1_600_000); pwm.set_pulse('steering', 1_200_000)\n"
    )
    subprocess.run([sys.executable, "-c", script, str(state)], check=True)
    seen = read_mock_state(state)
    assert seen is not None
    assert seen.pulses == {"throttle": 1_600_000, "steering": 1_200_000}
    reopened = MockPwm(state_file=state)
    assert reopened.current == {"throttle": 1_600_000, "steering": 1_200_000}
    reopened.set_pulse("throttle", 1_446_000)
    assert read_mock_state(state).pulses == {"throttle": 1_446_000, "steering": 1_200_000}


def test_unwritable_state_file_is_a_write_error(tmp_path: Path) -> None:
    pwm = MockPwm(state_file=tmp_path / "missing-dir" / "pwm.json")
    with pytest.raises(PwmError, match="cannot update state file"):
        pwm.set_pulse("steering", 1_450_000)
    assert pwm.current == {}
    assert pwm.history == []


@pytest.mark.parametrize(
    "content",
    [
        "{",
        "[]",
        '{"pulses": {"steering": 1450000}, "t": 1.0}',
        '{"period_ns": 20000000, "pulses": {"brake": 1}, "t": 1.0}',
        '{"period_ns": 20000000, "pulses": [1], "t": 1.0}',
    ],
)
def test_malformed_state_file_is_an_error_naming_it(tmp_path: Path, content: str) -> None:
    state = tmp_path / "pwm.json"
    state.write_text(content)
    with pytest.raises(PwmError, match=str(state)):
        read_mock_state(state)
    with pytest.raises(PwmError, match=str(state)):
        MockPwm(state_file=state)


def test_state_file_is_plain_json_for_other_tools(tmp_path: Path) -> None:
    state = tmp_path / "pwm.json"
    MockPwm(state_file=state, clock=lambda: 5.0).set_pulse("steering", 1_450_000)
    assert json.loads(state.read_text()) == {
        "period_ns": 20_000_000,
        "pulses": {"steering": 1_450_000},
        "t": 5.0,
    }


def test_history_is_bounded_and_keeps_the_newest(monkeypatch) -> None:
    import vehicle.core.pwm.mock as mock_module

    monkeypatch.setattr(mock_module, "HISTORY_LIMIT", 10)
    pwm = MockPwm()
    for i in range(25):
        pwm.set_pulse("steering", 1_000_000 + i)
    assert len(pwm.history) <= 10
    assert pwm.history[-1].ns == 1_000_024
    assert [r.ns for r in pwm.history] == sorted(r.ns for r in pwm.history)
