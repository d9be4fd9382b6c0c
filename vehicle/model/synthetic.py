"""Small convolutional policies built with the ONNX helper API.

Tests, the bench and the placeholder model need real networks with DeepRacer's input and
output contract without TensorFlow or a training run. ``SHALLOW`` reproduces the layer stack
of DeepRacer's "shallow" network (~5.8 M parameters with 15 actions), so the bench measures
inference at the size racers actually deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from vehicle.core.preprocess import INPUT_HEIGHT, INPUT_WIDTH, Layout

OPSET = 17
Head = Literal["softmax", "tanh", "none"]


@dataclass(frozen=True)
class Conv:
    filters: int
    kernel: int
    stride: int


@dataclass(frozen=True)
class Stack:
    convs: tuple[Conv, ...]
    dense: tuple[int, ...]


# DeepRacer's DEEP_CONVOLUTIONAL_NETWORK_SHALLOW: three convolutions and one dense layer.
SHALLOW = Stack((Conv(32, 8, 4), Conv(64, 4, 2), Conv(64, 3, 1)), (512,))
# Small enough for the repository and for fast tests (~35 k parameters).
TINY = Stack((Conv(8, 8, 4), Conv(16, 4, 2), Conv(16, 3, 2)), (32,))


def _out_size(size: int, conv: Conv) -> int:
    return (size - conv.kernel) // conv.stride + 1


def build_policy(
    n_outputs: int,
    *,
    layout: Layout = "NHWC",
    stack: Stack = TINY,
    head: Head = "softmax",
    seed: int = 0,
    channels: int = 1,
    height: int = INPUT_HEIGHT,
    width: int = INPUT_WIDTH,
    batch: int | str = "N",
) -> onnx.ModelProto:
    """A random (He-initialised, seeded) policy: image 0..255 -> ``n_outputs`` values.

    ``channels``, ``height`` and ``width`` exist so tests can build models the car must
    reject; the defaults are DeepRacer's 160x120 grayscale input.
    """
    rng = np.random.default_rng(seed)
    inits: list[onnx.TensorProto] = []
    nodes: list[onnx.NodeProto] = []

    def weight(name: str, shape: tuple[int, ...], fan_in: int) -> str:
        data = rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype(np.float32)
        inits.append(numpy_helper.from_array(data, name))
        return name

    def const(name: str, data: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(data, name))
        return name

    if layout == "NHWC":
        shape = [batch, height, width, channels]
        nodes.append(helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]))
        x = "nchw"
    elif layout == "NCHW":
        shape = [batch, channels, height, width]
        x = "image"
    else:
        raise ValueError(f"layout must be NHWC or NCHW, got {layout!r}")
    nodes.append(helper.make_node("Mul", [x, const("scale", np.float32(1 / 255))], ["scaled"]))
    x, depth, h, w = "scaled", channels, height, width
    for i, conv in enumerate(stack.convs):
        k = conv.kernel
        wname = weight(f"conv{i}_w", (conv.filters, depth, k, k), depth * k * k)
        bname = const(f"conv{i}_b", np.zeros(conv.filters, np.float32))
        nodes.append(
            helper.make_node("Conv", [x, wname, bname], [f"conv{i}"], strides=[conv.stride] * 2)
        )
        nodes.append(helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"]))
        x, depth, h, w = f"relu{i}", conv.filters, _out_size(h, conv), _out_size(w, conv)
    nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1))
    x, width_in = "flat", depth * h * w
    for i, units in enumerate((*stack.dense, n_outputs)):
        wname = weight(f"dense{i}_w", (width_in, units), width_in)
        bname = const(f"dense{i}_b", np.zeros(units, np.float32))
        last = i == len(stack.dense)
        out = "logits" if last else f"hidden{i}"
        nodes.append(helper.make_node("Gemm", [x, wname, bname], [out]))
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"{out}_relu"]))
            out = f"{out}_relu"
        x, width_in = out, units
    if head == "softmax":
        nodes.append(helper.make_node("Softmax", [x], ["policy"], axis=1))
    elif head == "tanh":
        nodes.append(helper.make_node("Tanh", [x], ["policy"]))
    else:
        nodes.append(helper.make_node("Identity", [x], ["policy"]))
    graph = helper.make_graph(
        nodes,
        "synthetic_policy",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("policy", TensorProto.FLOAT, [batch, n_outputs])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8  # readable by every onnxruntime we support (>= 1.17)
    onnx.checker.check_model(model)
    return model


def parameter_count(model: onnx.ModelProto) -> int:
    """Weights and biases (the input scale constant is not a parameter)."""
    return sum(int(np.prod(t.dims)) for t in model.graph.initializer if t.dims)
