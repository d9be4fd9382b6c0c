"""The onnxruntime engine: ONNX bundles (ours, and the default model).

Session settings are chosen for the car, a 2-core machine where the camera thread (capture
and JPEG decode) and the console (Flask, JPEG encode for viewers) share the CPU with
inference:

- ``intra_op_num_threads=1`` by default: the network runs on the drive loop's own thread.
  A second intra-op thread would spin-wait on the other core between operators and take
  it from the camera and the console, so frames arrive late and latency grows more than
  the parallel convolutions save on a DeepRacer-sized net. The bench can try 2.
- ``inter_op_num_threads=1`` with ``ORT_SEQUENTIAL``: a policy is a chain; there is
  nothing to run in parallel between operators.
- ``ORT_ENABLE_ALL`` graph optimisation: fusions (Conv+Relu, Transpose folding) are paid
  once at load, not per frame.
- I/O binding: the input is bound to the preprocessor's buffer and the output to a buffer
  of ours, so a step allocates no tensors.

The ONNX checker runs in the service (``vehicle.model.validate``); what is checked here is
what guards the outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from vehicle.core.metadata import ModelError, one_line
from vehicle.core.policy import (
    Policy,
    check_test_outputs,
    check_threads,
    grey_frame,
    layout_of,
)


def session_options(threads: int = 1) -> ort.SessionOptions:
    """The deliberate onnxruntime settings described in the module docstring."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = check_threads(threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: warnings would flood the car's journal
    return options


def read_model(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ModelError(f"cannot read {Path(path).name}: {one_line(exc)}") from exc


class OnnxRuntimePolicy(Policy):
    """An onnxruntime session on one ONNX file.

    The named output (a prepared bundle names it) or else the first graph output is the
    policy; any others are ignored.
    """

    engine = "onnxruntime"

    def __init__(
        self, path: Path, n_outputs: int, *, threads: int = 1, output_name: str | None = None
    ) -> None:
        data = read_model(path)
        try:
            self._session = ort.InferenceSession(
                data, session_options(threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own unrelated exception types
            raise ModelError(f"onnxruntime cannot open the model: {one_line(exc)}") from exc
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            names = ", ".join(i.name for i in inputs)
            raise ModelError(f"the model must take exactly one image input, it takes {names}")
        if inputs[0].type != "tensor(float)":
            raise ModelError(f"the model input must be float32, it is {inputs[0].type}")
        self.layout = layout_of(list(inputs[0].shape))
        self.n_outputs = n_outputs
        self.input_name = inputs[0].name
        outputs = [o.name for o in self._session.get_outputs()]
        if output_name is not None and output_name not in outputs:
            raise ModelError(f"the model has no output {output_name!r} (it has {outputs})")
        self.output_name = output_name or outputs[0]
        try:
            (first,) = self._session.run(
                [self.output_name], {self.input_name: grey_frame(self.layout)}
            )
        except Exception as exc:
            raise ModelError(f"the model fails on a test frame: {one_line(exc)}") from exc
        first = np.asarray(first)
        check_test_outputs(first, n_outputs)
        self._out = np.empty(first.shape, dtype=np.float32)
        self._binding = self._session.io_binding()
        self._binding.bind_ortvalue_output(
            self.output_name, ort.OrtValue.ortvalue_from_numpy(self._out)
        )

    def _bind(self, tensor: np.ndarray) -> None:
        self._binding.bind_ortvalue_input(self.input_name, ort.OrtValue.ortvalue_from_numpy(tensor))

    def _infer(self) -> None:
        self._session.run_with_iobinding(self._binding)
