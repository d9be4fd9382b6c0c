"""The network: one onnxruntime session per model, validated before it may drive.

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
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from vehicle.core.metadata import ModelError, one_line
from vehicle.core.preprocess import INPUT_HEIGHT, INPUT_WIDTH, LAYOUT_SHAPES, Layout

_LAYOUTS: dict[tuple[int, int, int], Layout] = {
    (INPUT_HEIGHT, INPUT_WIDTH, 1): "NHWC",
    (1, INPUT_HEIGHT, INPUT_WIDTH): "NCHW",
}


def session_options(intra_op_threads: int = 1) -> ort.SessionOptions:
    """The deliberate onnxruntime settings described in the module docstring."""
    if intra_op_threads not in (1, 2):
        raise ValueError(f"intra_op_threads must be 1 or 2, got {intra_op_threads!r}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
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


def _layout(session: ort.InferenceSession) -> Layout:
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise ModelError(f"the model must take exactly one image input, it takes {names}")
    (image,) = inputs
    if image.type != "tensor(float)":
        raise ModelError(f"the model input must be float32, it is {image.type}")
    shape = list(image.shape)
    wanted = "[N,120,160,1] (NHWC) or [N,1,120,160] (NCHW)"
    if len(shape) != 4:
        raise ModelError(f"the model input has shape {shape}; expected {wanted}")
    batch, rest = shape[0], tuple(shape[1:])
    if isinstance(batch, int) and batch != 1:
        raise ModelError(f"the model input has batch size {batch}; expected 1 or dynamic")
    if rest not in _LAYOUTS:
        if 3 in rest:
            raise ModelError(
                f"the model input has shape {shape} (3 colour channels); DeepRacer models "
                f"take one grayscale frame, {wanted}"
            )
        raise ModelError(f"the model input has shape {shape}; expected {wanted}")
    return _LAYOUTS[rest]


class Policy:
    """An onnxruntime session: ``run(tensor)`` -> the network's 1-D outputs.

    The drive process opens only models the service has already checked (the ONNX checker
    runs there, in ``vehicle.model.validate``); what is checked here is cheap and guards the
    outputs: one image input of a DeepRacer shape, the metadata's output count, finite
    float32 outputs on a test frame. The first graph output is the policy (a converted
    DeepRacer graph has only that one); any others are ignored.
    """

    def __init__(self, path: Path, n_outputs: int, *, intra_op_threads: int = 1) -> None:
        data = read_model(path)
        try:
            self._session = ort.InferenceSession(
                data, session_options(intra_op_threads), providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own unrelated exception types
            raise ModelError(f"onnxruntime cannot open the model: {one_line(exc)}") from exc
        self.layout: Layout = _layout(self._session)
        self.n_outputs = n_outputs
        self._input = self._session.get_inputs()[0].name
        self._output = self._session.get_outputs()[0].name
        # A mid-grey frame: any finite network gives finite outputs for it.
        test = np.full(LAYOUT_SHAPES[self.layout], 128.0, dtype=np.float32)
        try:
            (first,) = self._session.run([self._output], {self._input: test})
        except Exception as exc:
            raise ModelError(f"the model fails on a test frame: {one_line(exc)}") from exc
        first = np.asarray(first)
        if first.size != n_outputs:
            raise ModelError(
                f"the model has {first.size} outputs but the metadata describes {n_outputs} "
                f"({'actions' if n_outputs != 2 else 'continuous values or actions'})"
            )
        if first.dtype != np.float32:
            raise ModelError(f"the model's outputs must be float32, they are {first.dtype}")
        if not np.isfinite(first).all():
            raise ModelError("the model's outputs on a test frame are not finite (NaN or inf)")
        self._out = np.empty(first.shape, dtype=np.float32)
        self._binding = self._session.io_binding()
        self._binding.bind_ortvalue_output(
            self._output, ort.OrtValue.ortvalue_from_numpy(self._out)
        )
        self._bound: np.ndarray | None = None

    def run(self, tensor: np.ndarray) -> np.ndarray:
        """Infer on a preprocessed tensor; returns a fresh 1-D float32 array of outputs.

        Binding is redone only when a different buffer is passed (the drive loop passes the
        same preprocessor buffer every time). The small copy returned is deliberate: the
        result is shared with telemetry threads and must not change under them.
        """
        if tensor is not self._bound:
            if tensor.shape != LAYOUT_SHAPES[self.layout] or tensor.dtype != np.float32:
                raise ModelError(
                    f"input tensor must be float32 {LAYOUT_SHAPES[self.layout]}, "
                    f"got {tensor.dtype} {tensor.shape}"
                )
            if not tensor.flags.c_contiguous:
                raise ModelError("input tensor must be C-contiguous")
            self._binding.bind_ortvalue_input(self._input, ort.OrtValue.ortvalue_from_numpy(tensor))
            self._bound = tensor
        self._session.run_with_iobinding(self._binding)
        return self._out.reshape(-1).copy()
