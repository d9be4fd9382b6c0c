"""The OpenVINO engine: DeepRacer's exports, converted once to OpenVINO IR by the service.

OpenVINO is the stock DeepRacer car's own runtime. The service converts a racer's frozen
TensorFlow graph (or .tflite, or IR) to IR in a worker; the drive process only compiles
that IR for the CPU and runs it. Settings, for the same reasons as the onnxruntime engine's:

- ``INFERENCE_NUM_THREADS=1``, ``NUM_STREAMS=1``, ``PERFORMANCE_HINT=LATENCY``: one frame at
  a time on the drive loop's thread; the other core is the camera's and the console's.
- ``ENABLE_CPU_PINNING=False``: the drive process shares two cores with others; a pinned
  thread cannot move off a core the camera is using.
- ``INFERENCE_PRECISION_HINT=f32``: on ARM the CPU plugin would otherwise run in fp16 where
  the hardware has it, and the car would not drive the network that was checked.
- The input tensor shares memory with the preprocessor's buffer and the output with a
  buffer of ours: a step copies and allocates nothing but the result it returns.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from vehicle.core.metadata import ModelError, one_line
from vehicle.core.policy import (
    Policy,
    check_test_outputs,
    check_threads,
    grey_frame,
    layout_of,
)
from vehicle.core.preprocess import LAYOUT_SHAPES


def import_runtime() -> ModuleType:
    """``openvino``, without the model converter its package imports when it can.

    ``openvino/__init__`` imports ``openvino.tools.ovc`` (``convert_model``) and with it the
    telemetry client, inside ``try/except ImportError``. Neither process needs them: the
    drive only compiles IR, the worker converts through the frontends directly. A ``None``
    entry in ``sys.modules`` makes that import fail, so neither gets loaded.
    """
    sys.modules.setdefault("openvino.tools.ovc", None)  # type: ignore[arg-type]
    import openvino

    return openvino


def cpu_config(threads: int = 1) -> dict[str, Any]:
    """The deliberate CPU plugin settings described in the module docstring."""
    return {
        "INFERENCE_NUM_THREADS": check_threads(threads),
        "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY",
        "ENABLE_CPU_PINNING": False,
        "INFERENCE_PRECISION_HINT": "f32",
    }


def dims(partial_shape: Any) -> list[object]:
    """An OpenVINO shape as ``layout_of`` takes it: ints, None where dynamic."""
    return [d.get_length() if d.is_static else None for d in partial_shape]


class OpenVinoPolicy(Policy):
    """A compiled OpenVINO IR (``model.xml`` + ``model.bin``) on the CPU."""

    engine = "openvino"

    def __init__(
        self, path: Path, n_outputs: int, *, threads: int = 1, output_name: str | None = None
    ) -> None:
        ov = import_runtime()
        core = ov.Core()
        try:
            model = core.read_model(str(path), str(Path(path).with_suffix(".bin")))
        except Exception as exc:  # OpenVINO raises RuntimeError subclasses of its own
            raise ModelError(f"OpenVINO cannot read the model: {one_line(exc)}") from exc
        if len(model.inputs) != 1:
            names = ", ".join(i.get_any_name() for i in model.inputs)
            raise ModelError(f"the model must take exactly one image input, it takes {names}")
        (image,) = model.inputs
        if image.get_element_type() != ov.Type.f32:
            raise ModelError(f"the model input must be float32, it is {image.get_element_type()}")
        self.layout = layout_of(dims(image.get_partial_shape()))
        self.n_outputs = n_outputs
        self.input_name = image.get_any_name()
        if image.get_partial_shape().is_dynamic:
            model.reshape({image: list(LAYOUT_SHAPES[self.layout])})
        index = self._output_index(model, output_name)
        self.output_name = output_name or model.outputs[index].get_any_name()
        try:
            compiled = core.compile_model(model, "CPU", cpu_config(threads))
            self._request = compiled.create_infer_request()
            first = self._request.infer([grey_frame(self.layout)])[compiled.outputs[index]]
        except Exception as exc:
            raise ModelError(f"the model fails on a test frame: {one_line(exc)}") from exc
        first = np.array(first)
        check_test_outputs(first, n_outputs)
        self._out = np.empty(first.shape, dtype=np.float32)
        self._request.set_output_tensor(index, ov.Tensor(self._out, shared_memory=True))
        self._tensor_type = ov.Tensor

    @staticmethod
    def _output_index(model: Any, output_name: str | None) -> int:
        if output_name is None:
            return 0
        for index, output in enumerate(model.outputs):
            if output_name in output.get_names():
                return index
        names = [sorted(o.get_names()) for o in model.outputs]
        raise ModelError(f"the model has no output {output_name!r} (it has {names})")

    def _bind(self, tensor: np.ndarray) -> None:
        self._request.set_input_tensor(self._tensor_type(tensor, shared_memory=True))

    def _infer(self) -> None:
        self._request.infer()
