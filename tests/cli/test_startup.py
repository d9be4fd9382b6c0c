"""Commands that must start fast (systemd's stop path runs ``vehicle neutral``) do not load
numpy, OpenCV, onnxruntime, ONNX or Flask. Checked from the interpreter's own import log
(``-X importtime``), not by timing, so the test says the same on a slow or busy machine."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vehicle.cli import SUBCOMMANDS

HEAVY = ("numpy", "cv2", "onnxruntime", "onnx", "flask")
DATA = Path(__file__).resolve().parents[1] / "data"
BUNDLED_MODEL = Path(__file__).resolve().parents[2] / "models" / "default"


def run_logging_imports(
    argv: list[str], data_dir: Path, stdin: str | None = None
) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """``vehicle ARGV`` with the running interpreter, and every module it imported."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "vehicle", "--data-dir", str(data_dir), *argv],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return result, modules


def heavy_in(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def exported_pwm_chip(root: Path) -> Path:
    """A sysfs PWM tree with one chip whose two channels a previous run exported."""
    for channel in ("pwm0", "pwm1"):
        (root / "pwmchip0" / channel).mkdir(parents=True)
        for name in ("period", "duty_cycle", "enable"):
            (root / "pwmchip0" / channel / name).write_text("0\n")
    (root / "pwmchip0" / "npwm").write_text("16\n")
    return root


FAST = {
    "version": (["--version"], None),
    "help": (["--help"], None),
    "neutral mock": (["neutral", "--pwm", "mock"], None),
    "calibration show": (["calibration", "show"], None),
    "password set": (["password", "set"], "a long enough password\n"),
    **{f"{name} --help": ([name, "--help"], None) for name in SUBCOMMANDS},
}


@pytest.mark.parametrize(("argv", "stdin"), FAST.values(), ids=FAST.keys())
def test_fast_commands_load_no_heavy_module(tmp_path: Path, argv, stdin) -> None:
    result, modules = run_logging_imports(argv, tmp_path / "data", stdin)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "vehicle.cli" in modules  # the log is read right: the command's own package is in it
    assert not heavy_in(modules)


def test_calibration_show_of_a_saved_file_loads_no_heavy_module(tmp_path: Path) -> None:
    data = tmp_path / "data"
    imported, _ = run_logging_imports(
        ["calibration", "import", str(DATA / "calibration.json")], data
    )
    assert imported.returncode == 0, imported.stderr[-2000:]
    result, modules = run_logging_imports(["calibration", "show"], data)
    assert result.returncode == 0 and "calibration: " in result.stdout
    assert not heavy_in(modules)


def test_neutral_on_sysfs_loads_its_back_end_and_nothing_heavy(tmp_path: Path) -> None:
    root = exported_pwm_chip(tmp_path / "pwm")
    argv = ["neutral", "--pwm", "sysfs", "--pwm-sysfs-root", str(root)]
    result, modules = run_logging_imports(argv, tmp_path / "data")
    assert result.returncode == 0, result.stderr[-2000:]
    assert (root / "pwmchip0" / "pwm0" / "duty_cycle").read_text().strip() == "1446000"
    assert "vehicle.core.pwm.sysfs" in modules
    assert not {"vehicle.core.pwm.rpi_gpio", "vehicle.core.pwm.pca9685"} & modules
    assert not heavy_in(modules)
    assert not {"werkzeug", "serial", "webconsole"} & modules


def test_the_check_sees_heavy_modules_where_they_load(tmp_path: Path) -> None:
    """The control: a command that runs a model is caught loading them."""
    result, modules = run_logging_imports(
        ["model", "check", "--json", str(BUNDLED_MODEL)], tmp_path
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # (the ONNX checker runs in the preparation worker, a process of its own)
    assert {"numpy", "onnxruntime"} <= set(heavy_in(modules))
