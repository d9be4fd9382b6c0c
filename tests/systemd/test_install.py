"""install.sh under --prefix (a fake root) and --dry-run, and the udev rules it installs."""

from __future__ import annotations

import grp
import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

SYSTEMD = Path(__file__).resolve().parents[2] / "systemd"
INSTALL = SYSTEMD / "install.sh"
RULES = SYSTEMD / "99-vehicle-pwm.rules"


def install(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(INSTALL), *map(str, args)], capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def fake_bin(tmp_path) -> Path:
    path = tmp_path / "opt" / "vehicle" / "bin" / "vehicle"
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def root(tmp_path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


def snapshot(root: Path) -> dict[str, tuple[bytes | str, int]]:
    """Every file and link under ``root`` with its content (or target) and mtime."""
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(root))] = (os.readlink(path), 0)
        elif path.is_file():
            found[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return found


def test_install_places_units_rules_and_defaults(root, fake_bin):
    no_enable = install("--prefix", root, "--bin", fake_bin, "--no-enable")
    assert no_enable.returncode == 0, no_enable.stderr
    unit = (root / "etc/systemd/system/vehicle.service").read_text()
    assert f"ExecStart={fake_bin} drive" in unit
    assert f"ExecStopPost={fake_bin} neutral" in unit
    assert "/usr/local/bin/vehicle" not in unit
    console = (root / "etc/systemd/system/vehicle-console.service").read_text()
    assert f"ExecStart={fake_bin} console" in console and "/usr/local/bin" not in console
    assert (root / "etc/udev/rules.d/99-vehicle-pwm.rules").read_bytes() == RULES.read_bytes()
    defaults = root / "etc/default/vehicle"
    assert defaults.read_bytes() == (SYSTEMD / "vehicle.default").read_bytes()
    for path in (defaults, root / "etc/systemd/system/vehicle.service"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not (root / "etc/systemd/system/multi-user.target.wants").exists()
    assert "accounts: left alone" in no_enable.stdout


def test_install_enables_the_service(root, fake_bin):
    if shutil.which("systemctl") is None:
        pytest.skip("systemctl not installed (apt-get install systemd)")
    result = install("--prefix", root, "--bin", fake_bin)
    assert result.returncode == 0, result.stderr
    for name in ("vehicle.service", "vehicle-console.service"):
        link = root / "etc/systemd/system/multi-user.target.wants" / name
        assert os.readlink(link) == f"/etc/systemd/system/{name}"


def test_install_is_idempotent_and_keeps_site_settings(root, fake_bin):
    assert install("--prefix", root, "--bin", fake_bin, "--no-enable").returncode == 0
    defaults = root / "etc/default/vehicle"
    defaults.write_text("VEHICLE_PWM=pca9685\n")  # the operator's own choice
    before = snapshot(root)
    again = install("--prefix", root, "--bin", fake_bin, "--no-enable")
    assert again.returncode == 0, again.stderr
    assert snapshot(root) == before
    assert "(unchanged)" in again.stdout and "kept" in again.stdout


def test_install_updates_a_changed_unit(root, fake_bin, tmp_path):
    assert install("--prefix", root, "--bin", fake_bin, "--no-enable").returncode == 0
    other = tmp_path / "venv" / "vehicle"
    other.parent.mkdir()
    shutil.copy2(fake_bin, other)
    assert install("--prefix", root, "--bin", other, "--no-enable").returncode == 0
    assert f"ExecStart={other} drive" in (root / "etc/systemd/system/vehicle.service").read_text()


def test_dry_run_changes_nothing(root, fake_bin):
    result = install("--prefix", root, "--bin", fake_bin, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert list(root.iterdir()) == []
    assert "+ install -D -m 0644" in result.stdout
    assert "enable vehicle.service vehicle-console.service" in result.stdout


def test_dry_run_on_the_live_system_lists_every_step(fake_bin):
    result = install("--bin", fake_bin, "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for step in ("udevadm control --reload-rules", "systemctl daemon-reload", "systemctl enable"):
        assert step in out
    if subprocess.run(["id", "-u", "vehicle"], capture_output=True).returncode != 0:
        assert "useradd --system --gid vehicle" in out


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (["--bogus"], 2, "unknown option --bogus"),
        (["--prefix"], 2, ""),
        (["--bin", "relative/vehicle"], 1, "must be an absolute path"),
        (["--bin", "/nonexistent/vehicle"], 1, "is not an executable file"),
    ],
)
def test_install_rejects_bad_options(root, args, status, message):
    result = install("--prefix", root, *args)
    assert result.returncode == status
    assert message in result.stderr
    assert list(root.iterdir()) == []


def test_install_rejects_a_missing_prefix(tmp_path, fake_bin):
    result = install("--prefix", tmp_path / "absent", "--bin", fake_bin)
    assert result.returncode == 1
    assert "is not a directory" in result.stderr


# ----------------------------------------------------------------------------- udev rules


def rule_runs(action: str) -> list[str]:
    """The RUN+= programs of the pwmchip rule for ``action``."""
    for line in RULES.read_text().splitlines():
        if line.startswith('SUBSYSTEM=="pwm"') and f'ACTION=="{action}"' in line:
            return re.findall(r'RUN\+="([^"]*)"', line)
    raise AssertionError(f"no pwm rule for {action}")


def run_as_udev(program: str, devpath: Path, export: str, group: str) -> None:
    """What udev would run: %p and $env{EXPORT} substituted, the group swapped for a test one."""
    command = program.replace("/sys%p", str(devpath)).replace("$env{EXPORT}", export)
    argv = [
        word.replace("gpio", group) if word == "gpio" else word for word in shlex.split(command)
    ]
    if argv[0] == "/bin/sh":
        argv[2] = argv[2].replace("chgrp gpio", f"chgrp {group}")
    subprocess.run(argv, check=True, timeout=30)


@pytest.fixture
def fake_chip(tmp_path) -> Path:
    chip = tmp_path / "sys/devices/platform/pwm/pwmchip0"
    (chip / "pwm1").mkdir(parents=True)
    for name in ("export", "unexport", "pwm1/period", "pwm1/duty_cycle", "pwm1/enable"):
        (chip / name).write_text("0\n")
        (chip / name).chmod(0o644)
    return chip


def test_udev_rules_open_export_then_the_exported_channel(fake_chip):
    group = grp.getgrgid(os.getgid()).gr_name
    for program in rule_runs("add"):
        run_as_udev(program, fake_chip, "", group)
    for program in rule_runs("change"):
        run_as_udev(program, fake_chip, "pwm1", group)
    for name in ("export", "unexport", "pwm1/period", "pwm1/duty_cycle", "pwm1/enable"):
        mode = (fake_chip / name).stat().st_mode
        assert mode & stat.S_IWGRP, f"{name} not group-writable"
        assert not mode & stat.S_IWOTH


def test_udev_rules_are_well_formed():
    key = r'[A-Z]+(\{[A-Za-z_]+\})?(==|!=|=|\+=)"[^"]*"'
    for line in RULES.read_text().splitlines():
        if line and not line.startswith("#"):
            assert re.fullmatch(rf"{key}(, {key})*", line), line
