"""Checks an ONNX file must pass before it is prepared (service side, in the worker).

The ONNX checker parses the whole graph in Python's protobuf and holds the GIL while it
does, so it runs in the worker, never beside the outputs.

External data is refused outright: an ONNX model may say its weights live in other files,
by path, and whatever opens it then reads those paths. Checking or opening such a model
would tell an uploader whether a path exists on the car (and could read it into a
network). DeepRacer models never need it: their weights fit in one file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from onnx.external_data_helper import uses_external_data

from vehicle.core.metadata import ModelError, one_line


def _tensors(graph: Any) -> Any:
    """Every tensor in a graph and its subgraphs (initializers, constants, attributes)."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t
            yield from attr.tensors
            if attr.HasField("g"):
                yield from _tensors(attr.g)
            for sub in attr.graphs:
                yield from _tensors(sub)


@dataclass(frozen=True)
class OnnxFacts:
    input_name: str
    input_shape: tuple[int | str, ...]  # str: a named (dynamic) dimension
    output_name: str


def _facts(model: Any) -> OnnxFacts:
    """The first real input (old models list initializers as inputs too) and first output;
    the engine checks that there is exactly one input."""
    weights = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in weights]
    if not inputs or not model.graph.output:
        raise ModelError("the ONNX model has no input or no output")
    dims = inputs[0].type.tensor_type.shape.dim
    shape = tuple(d.dim_value if d.HasField("dim_value") else d.dim_param or "?" for d in dims)
    return OnnxFacts(inputs[0].name, shape, model.graph.output[0].name)


def check_onnx(path: Path) -> OnnxFacts:
    """The file parses, keeps all its weights inside, and passes the ONNX checker."""
    name = Path(path).name
    try:
        model = onnx.load_model_from_string(Path(path).read_bytes())
    except OSError as exc:
        raise ModelError(f"cannot read {name}: {one_line(exc)}") from exc
    except Exception as exc:  # protobuf's DecodeError and onnx's own errors
        raise ModelError(f"{name} is not a valid ONNX model: {one_line(exc)}") from exc
    external = [t.name or "(unnamed)" for t in _tensors(model.graph) if uses_external_data(t)]
    if external:
        raise ModelError(
            f"{name} keeps weights in external files ({', '.join(external[:3])}); the car "
            "accepts only models whose weights are inside the .onnx file"
        )
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # the checker's ValidationError and protobuf errors
        raise ModelError(f"{name} is not a valid ONNX model: {one_line(exc)}") from exc
    return _facts(model)
