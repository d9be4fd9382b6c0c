"""The two units: systemd accepts them, and the keys the car's safety relies on are there.

vehicle.service is the drive process (outputs, no network); vehicle-console.service is the
service process (console, no devices), which reaches the drive only through its socket."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vehicle.cli import build_parser

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
UNIT = SYSTEMD / "vehicle.service"
CONSOLE_UNIT = SYSTEMD / "vehicle-console.service"
INSTALLED_BIN = "/usr/local/bin/vehicle"


def parse_unit(text: str) -> dict[str, list[tuple[str, str]]]:
    """Sections to (key, value) lists, in order; keys may repeat, as systemd allows."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        key, sep, value = line.partition("=")
        assert sep and current is not None, f"not a key=value line: {raw!r}"
        current.append((key.strip(), value.strip()))
    return sections


def values(section: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in section if k == key]


def one(section: list[tuple[str, str]], key: str) -> str:
    found = values(section, key)
    assert len(found) == 1, f"{key} set {len(found)} times"
    return found[0]


@pytest.fixture(scope="module")
def service() -> list[tuple[str, str]]:
    return parse_unit(UNIT.read_text())["Service"]


@pytest.fixture(scope="module")
def console_unit() -> dict[str, list[tuple[str, str]]]:
    return parse_unit(CONSOLE_UNIT.read_text())


def installed_entry_point() -> Path:
    """The ``vehicle`` script of the interpreter running the tests (its venv's bin), not PATH's."""
    script = Path(sys.executable).parent / "vehicle"
    assert script.is_file(), f"{script} is missing: install the project (pip install -e .)"
    return script


def expand(command: str, service: list[tuple[str, str]]) -> list[str]:
    """ExecStart-style expansion with the unit's own Environment= defaults."""
    env = dict(value.split("=", 1) for value in values(service, "Environment"))
    words = []
    for word in shlex.split(command):
        if word.startswith("$") and not word.startswith("${"):
            words.extend(env[word[1:]].split())  # "$VAR" alone splits into 0+ words
        else:
            words.append(re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], word))
    return words


def test_units_pass_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze not installed (apt-get install systemd)")
    vehicle = str(installed_entry_point())
    units = []
    for source in (UNIT, CONSOLE_UNIT):
        unit = tmp_path / source.name
        unit.write_text(source.read_text().replace(INSTALLED_BIN, vehicle))  # as install.sh
        units.append(str(unit))
    result = subprocess.run(
        [analyze, "verify", "--man=no", *units], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in result.stderr.splitlines() if "vehicle" in line]
    assert result.returncode == 0 and not complaints, result.stderr


def test_unit_is_a_notify_service_with_a_watchdog(service):
    assert one(service, "Type") == "notify"
    assert one(service, "NotifyAccess") == "main"
    watchdog = one(service, "WatchdogSec")
    assert watchdog.endswith("s") and 0 < float(watchdog[:-1]) <= 10


def test_unit_restarts_on_failure_and_stops_quickly(service):
    assert one(service, "Restart") == "on-failure"
    stop = one(service, "TimeoutStopSec")
    assert stop.endswith("s") and float(stop[:-1]) <= 10  # then SIGKILL, then ExecStopPost


def test_unit_writes_neutral_after_every_stop(service):
    stop_post = one(service, "ExecStopPost")
    assert not stop_post.startswith(("-", "+", "!")), "neutral must run as-is, failures shown"
    argv = expand(stop_post, service)
    assert argv[0] == INSTALLED_BIN and argv[1] == "neutral"
    assert argv[2:] == ["--pwm", "sysfs"]
    # The same outputs as the drive command, or neutral would go to the wrong hardware.
    pwm_words = "--pwm ${VEHICLE_PWM} $VEHICLE_PWM_OPTIONS"
    assert pwm_words in stop_post and pwm_words in one(service, "ExecStart")


def test_unit_boots_disarmed_and_waits_for_its_console(service):
    argv = expand(one(service, "ExecStart"), service)
    assert argv[:2] == [INSTALLED_BIN, "drive"]
    assert "--start" not in argv, "driving must need an operator's start"
    assert "--listen" in argv and "--console" not in argv


def test_unit_commands_parse_with_the_real_cli(service, console_unit):
    parser = build_parser()
    for key in ("ExecStart", "ExecStopPost"):
        args = parser.parse_args(expand(one(service, key), service)[1:])
        assert args.pwm == "sysfs"
    console = console_unit["Service"]
    args = parser.parse_args(expand(one(console, "ExecStart"), console)[1:])
    assert args.command == "console" and args.host == "0.0.0.0" and args.port == 443


def test_unit_runs_unprivileged_and_sandboxed(service):
    assert one(service, "User") not in ("root", "0", "")
    assert one(service, "StateDirectory") == "vehicle"
    assert "VEHICLE_DATA_DIR=%S/vehicle" in values(service, "Environment")
    expected = {
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "DevicePolicy": "closed",
        "CapabilityBoundingSet": "",
        "PrivateNetwork": "yes",
        "IPAddressDeny": "any",
        "RestrictAddressFamilies": "AF_UNIX",
    }
    assert {key: one(service, key) for key in expected} == expected
    assert not values(service, "AmbientCapabilities")
    assert int(one(service, "OOMScoreAdjust")) < 0
    assert set(one(service, "SupplementaryGroups").split()) == {"video", "gpio", "i2c"}
    allowed = {v.split()[0] for v in values(service, "DeviceAllow")}
    assert allowed == {"char-video4linux", "char-i2c", "char-gpiochip", "/dev/gpiomem"}


def test_the_console_unit_is_separate_and_unprivileged(console_unit):
    unit, console = console_unit["Unit"], console_unit["Service"]
    assert one(unit, "PartOf") == "vehicle.service"
    assert "vehicle.service" in one(unit, "After").split()
    assert one(console, "Restart") == "always"
    assert one(console, "User") not in ("root", "0", "")
    assert "VEHICLE_DATA_DIR=%S/vehicle" in values(console, "Environment")  # the same state
    assert not values(console, "SupplementaryGroups"), "no PWM, GPIO, I2C or camera groups"
    assert one(console, "PrivateDevices") == "yes"
    assert one(console, "ProtectKernelTunables") == "yes"  # /sys read-only: no PWM writes
    assert one(console, "CapabilityBoundingSet") == "CAP_NET_BIND_SERVICE"
    assert int(one(console, "OOMScoreAdjust")) > 0 and one(console, "MemoryMax")
    assert "--console" not in one(console, "ExecStart")


def test_the_drive_unit_brings_its_console(service):
    unit = parse_unit(UNIT.read_text())["Unit"]
    assert one(unit, "Wants") == "vehicle-console.service"


def test_site_defaults_file_names_only_variables_the_units_use(service, console_unit):
    used = {
        v.split("=", 1)[0]
        for v in values(service, "Environment") + values(console_unit["Service"], "Environment")
    }
    documented = set(
        re.findall(r"^#(VEHICLE_\w+)=", (SYSTEMD / "vehicle.default").read_text(), re.M)
    )
    assert documented and documented <= used
