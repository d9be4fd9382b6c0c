"""An optimised OpenVINO model written back out as ONNX, so onnxruntime can run it too.

OpenVINO reads every format racers upload, but it cannot write ONNX, and onnxruntime (with
its fast int8 dense kernels) reads nothing else. DeepRacer's networks, once constant-folded
at batch 1, use a dozen plain operators; each maps one to one onto an ONNX operator. A
network with anything else is not exported (``ExportError``) and simply keeps the engines
that can read it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # readable by every onnxruntime we support (>= 1.17)
_SAME_NAME = {
    "Add": "Add",
    "Subtract": "Sub",
    "Multiply": "Mul",
    "Divide": "Div",
    "Relu": "Relu",
    "Tanh": "Tanh",
    "Sigmoid": "Sigmoid",
    "Exp": "Exp",
    "Maximum": "Max",
    "Minimum": "Min",
    "Identity": "Identity",
}
_STATIC_RESHAPES = ("Reshape", "Squeeze", "Unsqueeze")


class ExportError(ValueError):
    """The network uses something this exporter does not write."""


class _Writer:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.names: dict[tuple[str, int], str] = {}

    def name(self, output: Any) -> str:
        key = (output.get_node().get_name(), output.get_index())
        if key not in self.names:
            self.names[key] = f"t{len(self.names)}"
        return self.names[key]

    def constant(self, value: np.ndarray) -> str:
        name = f"c{len(self.initializers)}"
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def emit(self, op_type: str, inputs: list[str], node: Any, **attrs: Any) -> None:
        name = f"{op_type}_{len(self.nodes)}"
        self.nodes.append(
            helper.make_node(op_type, inputs, [self.name(node.output(0))], name=name, **attrs)
        )


def _static_shape(node: Any) -> list[int]:
    shape = node.get_output_partial_shape(0)
    if shape.is_dynamic:
        raise ExportError(f"{node.get_type_name()} has a dynamic output shape")
    return [d.get_length() for d in shape]


def _constant_of(value: Any) -> np.ndarray | None:
    node = value.get_node()
    return node.get_data().copy() if node.get_type_name() == "Constant" else None


def _operand(writer: _Writer, value: Any) -> str:
    """A value's name; constants become initializers where they are used."""
    constant = _constant_of(value)
    if constant is not None:
        if constant.dtype != np.float32:
            raise ExportError(f"a {constant.dtype} constant where float32 was expected")
        return writer.constant(constant)
    return writer.name(value)


def _write_node(writer: _Writer, node: Any) -> None:
    kind = node.get_type_name()
    if kind in _SAME_NAME:
        writer.emit(_SAME_NAME[kind], [_operand(writer, v) for v in node.input_values()], node)
    elif kind == "Transpose":
        perm = _constant_of(node.input_value(1))
        if perm is None:
            raise ExportError("a transpose whose order is not constant")
        writer.emit("Transpose", [_operand(writer, node.input_value(0))], node, perm=list(perm))
    elif kind in _STATIC_RESHAPES:
        shape = writer.constant(np.array(_static_shape(node), np.int64))
        writer.emit("Reshape", [_operand(writer, node.input_value(0)), shape], node)
    elif kind == "Convolution":
        attrs = node.get_attributes()
        if attrs["auto_pad"] not in ("explicit", "valid", "notset"):
            raise ExportError(f"a convolution with auto_pad {attrs['auto_pad']}")
        inputs = [_operand(writer, v) for v in node.input_values()]
        writer.emit(
            "Conv",
            inputs,
            node,
            strides=list(attrs["strides"]),
            pads=[*attrs["pads_begin"], *attrs["pads_end"]],
            dilations=list(attrs["dilations"]),
        )
    elif kind == "MatMul":
        _write_matmul(writer, node)
    elif kind == "Softmax":
        writer.emit(
            "Softmax",
            [_operand(writer, node.input_value(0))],
            node,
            axis=int(node.get_attributes()["axis"]),
        )
    elif kind == "Clamp":
        attrs = node.get_attributes()
        low = writer.constant(np.array(attrs["min"], np.float32))
        high = writer.constant(np.array(attrs["max"], np.float32))
        writer.emit("Clip", [_operand(writer, node.input_value(0)), low, high], node)
    else:
        raise ExportError(f"the network uses {kind}, which is not exported to ONNX")


def _write_matmul(writer: _Writer, node: Any) -> None:
    attrs = node.get_attributes()
    if attrs["transpose_a"]:
        raise ExportError("a MatMul with a transposed first operand")
    weights = _constant_of(node.input_value(1))
    if attrs["transpose_b"]:
        if weights is None:
            raise ExportError("a MatMul with a transposed variable operand")
        right = writer.constant(np.ascontiguousarray(weights.T))
    else:
        right = _operand(writer, node.input_value(1))
    writer.emit("MatMul", [_operand(writer, node.input_value(0)), right], node)


def to_onnx(model: Any) -> onnx.ModelProto:
    """The OpenVINO model (one float32 input, one output, static shapes) as ONNX."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExportError("only networks with one input and one output are exported")
    writer = _Writer()
    (parameter,) = model.get_parameters()
    input_name = model.inputs[0].get_any_name()
    writer.names[(parameter.get_name(), 0)] = input_name
    graph_outputs = []
    for node in model.get_ordered_ops():
        kind = node.get_type_name()
        if kind in ("Parameter", "Constant"):
            continue
        if kind == "Result":
            source = node.input_value(0)
            name = model.outputs[0].get_any_name()
            writer.nodes.append(helper.make_node("Identity", [writer.name(source)], [name]))
            shape = [d.get_length() for d in source.get_partial_shape()]
            graph_outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
            continue
        if node.get_output_element_type(0).get_type_name() != "f32":
            raise ExportError(f"{kind} does not compute in float32")
        _write_node(writer, node)
    input_shape = [d.get_length() for d in model.inputs[0].get_partial_shape()]
    graph = helper.make_graph(
        writer.nodes,
        "deepracer_policy",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_shape)],
        graph_outputs,
        writer.initializers,
    )
    exported = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    exported.ir_version = IR_VERSION
    onnx.checker.check_model(exported)
    return exported


def save_onnx(model: Any, path: Path) -> None:
    onnx.save(to_onnx(model), str(path))
