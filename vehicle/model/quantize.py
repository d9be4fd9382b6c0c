"""Reduced precision for the memory-bound dense layers: int8 weights through onnxruntime.

DeepRacer's shallow network spends most of its time reading the 11264x512 dense layer's
23 MB of fp32 weights, once a frame. Stored as int8 (one scale per output column) they are a
quarter of that, and onnxruntime's integer kernels (``MatMulInteger`` after
``DynamicQuantizeLinear``, which quantizes that layer's input per frame) multiply them
without widening back to fp32. Only dense layers with at least ``MIN_DENSE_WEIGHTS`` weights
are touched: below that they sit in cache and cost little. Convolutions stay fp32.

Weights are unsigned 8-bit: on x86 CPUs without VNNI, onnxruntime's signed-weight kernel
adds pairs of products in 16 bits and can saturate; the unsigned kernel cannot.

Whether the result may drive is for ``vehicle.model.agreement`` to say.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx

MIN_DENSE_WEIGHTS = 1_000_000  # 4 MB of fp32: more than a Raspberry Pi's L2 cache


def big_dense_layers(model: onnx.ModelProto) -> list[str]:
    """Names of the MatMul nodes whose constant weights have ``MIN_DENSE_WEIGHTS`` or more."""
    sizes = {t.name: int(np.prod(t.dims)) for t in model.graph.initializer}
    return [
        node.name
        for node in model.graph.node
        if node.op_type == "MatMul" and sizes.get(node.input[1], 0) >= MIN_DENSE_WEIGHTS
    ]


def quantize_dense(source: Path, target: Path) -> list[str]:
    """Write ``target``: ``source`` with its big dense layers in int8; returns their names
    (empty, and nothing written, when there are none)."""
    model = onnx.load(str(source))
    layers = big_dense_layers(model)
    if not layers:
        return []
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.getLogger("root").setLevel(logging.ERROR)  # the quantizer's advice on every call
    quantize_dynamic(
        str(source),
        str(target),
        op_types_to_quantize=["MatMul"],
        nodes_to_quantize=layers,
        per_channel=True,
        weight_type=QuantType.QUInt8,
    )
    return layers
