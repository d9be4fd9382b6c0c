"""The LiteRT engine (``ai-edge-litert``): .tflite files, as the community car runs them.

LiteRT's interpreter with its default XNNPACK delegate, one thread by default for the same
reasons as the other engines (the other core is the camera's and the console's). Its
Python API has no zero-copy input binding: a step copies the 76 kB frame into the
interpreter's input buffer (a few microseconds) and the outputs into a buffer of ours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vehicle.core.metadata import ModelError, one_line
from vehicle.core.policy import (
    Policy,
    check_test_outputs,
    check_threads,
    grey_frame,
    layout_of,
)


class LiteRtPolicy(Policy):
    """A LiteRT interpreter on one .tflite file."""

    engine = "litert"

    def __init__(
        self, path: Path, n_outputs: int, *, threads: int = 1, output_name: str | None = None
    ) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as exc:
            raise ModelError("LiteRT (the ai-edge-litert package) is not installed") from exc
        try:
            self._interpreter = Interpreter(
                model_path=str(path), num_threads=check_threads(threads)
            )
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"LiteRT cannot open the model: {one_line(exc)}") from exc
        inputs = self._interpreter.get_input_details()
        if len(inputs) != 1:
            names = ", ".join(i["name"] for i in inputs)
            raise ModelError(f"the model must take exactly one image input, it takes {names}")
        if inputs[0]["dtype"] != np.float32:
            raise ModelError(f"the model input must be float32, it is {inputs[0]['dtype']}")
        self.layout = layout_of([int(d) for d in inputs[0]["shape"]])
        self.n_outputs = n_outputs
        self.input_name = inputs[0]["name"]
        outputs = {o["name"]: o["index"] for o in self._interpreter.get_output_details()}
        if output_name is not None and output_name not in outputs:
            raise ModelError(f"the model has no output {output_name!r} (it has {list(outputs)})")
        self.output_name = output_name or next(iter(outputs))
        self._output_index = outputs[self.output_name]
        self._input_index = inputs[0]["index"]
        self._input: np.ndarray = grey_frame(self.layout)
        try:
            self._invoke()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"the model fails on a test frame: {one_line(exc)}") from exc
        first = self._interpreter.get_tensor(self._output_index)
        check_test_outputs(first, n_outputs)
        self._out = np.empty(first.shape, dtype=np.float32)

    def _invoke(self) -> None:
        self._interpreter.set_tensor(self._input_index, self._input)
        self._interpreter.invoke()

    def _bind(self, tensor: np.ndarray) -> None:
        self._input = tensor

    def _infer(self) -> None:
        self._invoke()
        np.copyto(self._out, self._interpreter.get_tensor(self._output_index))
