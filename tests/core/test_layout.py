"""The drive process imports nothing of the console, the upload parser or the model checker.

Checked twice: statically, every import statement in vehicle/core (including those inside
functions); and dynamically, the modules a real drive process has loaded after driving.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "vehicle" / "core"
FORBIDDEN = (
    "flask",
    "werkzeug",
    "webconsole",
    "tarfile",
    "onnx",
    "vehicle.model",
    "vehicle.service",
    "tensorflow",
    "tf2onnx",
    "openvino.tools",  # OpenVINO's model converter (the runtime itself is allowed)
    "openvino_telemetry",
)


def _forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: p.name)
def test_no_core_module_imports_the_console_or_the_model_pipeline(path: Path) -> None:
    bad = sorted(m for m in imports_of(path) if _forbidden(m))
    assert not bad, f"{path.relative_to(CORE.parent)} imports {bad}"


def test_a_driving_process_has_loaded_none_of_them(tmp_path: Path) -> None:
    """Drive 20 frames through the real command, then list what the process imported."""
    script = (
        "import json, sys\n"
        "from vehicle.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--data-dir", str(tmp_path), "drive",
         "--source", "synthetic", "--pwm", "mock", "--frames", "20", "--mode", "auto",
         "--start"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "vehicle.core.drive" in loaded and "onnxruntime" in loaded  # it really drove
    bad = sorted(m for m in loaded if _forbidden(m))
    assert not bad, f"the drive process loaded {bad}"
