"""Checks a model file must pass before the drive process may open it (service side).

The ONNX checker parses the whole graph in Python's protobuf and holds the GIL while it
does, so it runs in the service process or its worker, never beside the outputs.
"""

from __future__ import annotations

from pathlib import Path

import onnx

from vehicle.core.metadata import ModelError, one_line
from vehicle.core.policy import Policy, read_model


def check_onnx(path: Path) -> None:
    """The file parses and passes the ONNX checker, or ModelError says why."""
    data = read_model(path)
    try:
        onnx.checker.check_model(onnx.load_from_string(data))
    except Exception as exc:  # protobuf and checker errors have no common base class
        raise ModelError(f"{Path(path).name} is not a valid ONNX model: {one_line(exc)}") from exc


def open_checked(path: Path, n_outputs: int, *, intra_op_threads: int = 1) -> Policy:
    """Check the file, then open it as the drive process would."""
    check_onnx(path)
    return Policy(path, n_outputs, intra_op_threads=intra_op_threads)
