"""Graph optimisations, applied once when a model is prepared (never on the per-frame path).

Each pass rewrites an OpenVINO model (what every format the car accepts becomes in the
worker) into an equivalent one that costs less per frame, and says what it did. None of them
changes what the network computes beyond float rounding; ``vehicle.model.prepare`` checks
the result against the original on real frames before anything drives it.

- Constant folding: rl_coach's graphs compute shapes at run time (``tf.layers.flatten``);
  with the batch fixed at 1 those are constants.
- The input normalisation (DeepRacer's ``x/255 - 0.5``, our synthetic nets' ``x/255``) goes
  into the first convolution: ``conv(a*x + b) = conv_{a*W}(x) + b*sum(W)``, exact for a
  convolution without padding. Two passes over the 19,200 input values disappear.
- rl_coach's gradient rescaler (``x*r + x*(1-r)``, an identity at inference) becomes ``x``.
- The NCHW -> NHWC transpose before ``Flatten`` goes into the dense layer's weights (their
  rows are permuted once), so the activations are never moved.
- A transpose that moves only dimensions of size 1 (the grey input's NHWC -> NCHW) becomes
  a reshape, and then the input itself is declared NCHW (the same bytes for one channel):
  onnxruntime otherwise copies the frame for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vehicle.core.openvino_policy import import_runtime

_AFFINE = ("Multiply", "Divide", "Add", "Subtract")
_LAYOUT = ("Transpose", "Reshape")


def _opset() -> Any:
    import_runtime()
    from openvino import opset13

    return opset13


def constant_fold(model: Any) -> None:
    from openvino._pyopenvino.passes import ConstantFolding, Manager

    manager = Manager()
    manager.register_pass(ConstantFolding())
    manager.run_passes(model)


def _constant(output: Any) -> np.ndarray | None:
    node = output.get_node()
    return node.get_data().copy() if node.get_type_name() == "Constant" else None


def _only_consumer(output: Any) -> Any | None:
    targets = list(output.get_target_inputs())
    return targets[0].get_node() if len(targets) == 1 else None


def _scalar_operand(node: Any, value: Any) -> tuple[float, bool] | None:
    """The scalar constant ``node`` applies to ``value`` and whether ``value`` is on the left."""
    left, right = node.input_value(0), node.input_value(1)
    if left == value:
        constant, value_left = _constant(right), True
    elif right == value:
        constant, value_left = _constant(left), False
    else:
        return None
    if constant is None or constant.size != 1:
        return None
    return float(constant.reshape(())), value_left


def _compose(kind: str, c: float, value_left: bool, a: float, b: float) -> tuple[float, float]:
    """(a, b) of ``a*x + b`` after one more scalar op ``kind`` with constant ``c``."""
    if kind == "Multiply":
        return a * c, b * c
    if kind == "Add":
        return a, b + c
    if kind == "Subtract":
        return (a, b - c) if value_left else (-a, c - b)
    return a / c, b / c  # Divide, value on the left (checked by the caller)


def _unpadded_convolution(node: Any) -> bool:
    if node.get_type_name() != "Convolution":
        return False
    attrs = node.get_attributes()
    no_pads = not any(attrs["pads_begin"]) and not any(attrs["pads_end"])
    return attrs["auto_pad"] in ("valid", "explicit", "notset") and no_pads


def fold_input_affine(model: Any) -> list[str]:
    """Fold scalar ``a*x + b`` between the input and the first convolution into it."""
    ops = _opset()
    (parameter,) = model.get_parameters()
    value, a, b = parameter.output(0), 1.0, 0.0
    layout: list[Any] = []
    folded = 0
    while (node := _only_consumer(value)) is not None and not _unpadded_convolution(node):
        kind = node.get_type_name()
        if kind in _LAYOUT and node.input_value(0) == value:
            layout.append(node)
        elif kind in _AFFINE and (operand := _scalar_operand(node, value)) is not None:
            c, value_left = operand
            if kind == "Divide" and (not value_left or c == 0.0):
                return []
            a, b = _compose(kind, c, value_left, a, b)
            folded += 1
        else:
            return []
        value = node.output(0)
    if node is None or folded == 0 or node.input_value(0) != value:
        return []
    weights = _constant(node.input_value(1))
    if weights is None:
        return []
    x = parameter.output(0)
    for step in layout:  # the layout ops again, now straight on the input
        if step.get_type_name() == "Transpose":
            x = ops.transpose(x, step.input_value(1)).output(0)
        else:
            special_zero = step.get_attributes()["special_zero"]
            x = ops.reshape(x, step.input_value(1), special_zero).output(0)
    attrs = node.get_attributes()
    conv = ops.convolution(
        x,
        ops.constant((weights.astype(np.float64) * a).astype(np.float32)),
        attrs["strides"],
        attrs["pads_begin"],
        attrs["pads_end"],
        attrs["dilations"],
    )
    shift = (b * weights.astype(np.float64).sum(axis=(1, 2, 3))).astype(np.float32)
    _add_bias(node, conv, shift.reshape(1, -1, 1, 1))
    return [f"input normalisation {a:.6g}*x{b:+.6g} folded into the first convolution"]


def _add_bias(old: Any, conv: Any, shift: np.ndarray) -> None:
    """Replace ``old`` by ``conv + shift``, merged into the bias ``Add`` that follows, if any."""
    ops = _opset()
    follower = _only_consumer(old.output(0))
    if follower is not None and follower.get_type_name() == "Add":
        other = 1 if follower.input_value(0) == old.output(0) else 0
        bias = _constant(follower.input_value(other))
        if bias is not None and bias.size == shift.size:
            merged = ops.add(conv, ops.constant(bias.reshape(shift.shape) + shift))
            follower.output(0).replace(merged.output(0))
            return
    old.output(0).replace(ops.add(conv, ops.constant(shift)).output(0))


def _scaled(term: Any) -> tuple[Any, float] | None:
    """(x, c) of a ``Multiply(x, c)`` with a scalar constant ``c``."""
    if term.get_type_name() != "Multiply":
        return None
    for i in (0, 1):
        constant = _constant(term.input_value(i))
        if constant is not None and constant.size == 1:
            return term.input_value(1 - i), float(constant.reshape(()))
    return None


def fold_rescalers(model: Any) -> list[str]:
    """``x*c1 + x*c2`` with scalar constants -> ``x*(c1+c2)``, or ``x`` when that is 1."""
    ops = _opset()
    notes = []
    for node in model.get_ordered_ops():
        if node.get_type_name() != "Add":
            continue
        first, second = (_scaled(node.input_value(i).get_node()) for i in (0, 1))
        if first is None or second is None or first[0] != second[0]:
            continue
        x, total = first[0], np.float32(first[1]) + np.float32(second[1])
        if total == np.float32(1.0) and x.get_partial_shape() == node.get_output_partial_shape(0):
            node.output(0).replace(x)
        else:
            node.output(0).replace(ops.multiply(x, ops.constant(np.float32(total))).output(0))
        notes.append(f"rescaler x*{first[1]:g} + x*{second[1]:g} folded")
    return notes


def fold_flatten_transpose(model: Any) -> list[str]:
    """Transpose -> Reshape(flatten) -> MatMul(const): permute the weights' rows instead."""
    ops = _opset()
    notes = []
    for node in model.get_ordered_ops():
        if node.get_type_name() != "Transpose" or node.get_output_partial_shape(0).is_dynamic:
            continue
        perm = _constant(node.input_value(1))
        reshape = _only_consumer(node.output(0))
        if perm is None or reshape is None or reshape.get_type_name() != "Reshape":
            continue
        matmul = _only_consumer(reshape.output(0))
        source_shape = list(node.get_input_shape(0))
        if (
            matmul is None
            or matmul.get_type_name() != "MatMul"
            or matmul.input_value(0) != reshape.output(0)
            or len(reshape.get_output_shape(0)) != 2
            or reshape.get_output_shape(0)[0] != 1
            or source_shape[0] != 1
            or matmul.get_attributes()["transpose_a"]
        ):
            continue
        weights = _constant(matmul.input_value(1))
        if weights is None:
            continue
        # Position k of the transposed, flattened tensor holds source element order[k].
        order = np.arange(int(np.prod(source_shape))).reshape(source_shape).transpose(perm)
        order = order.reshape(-1)
        inverse = np.empty_like(order)
        inverse[order] = np.arange(order.size)
        transpose_b = matmul.get_attributes()["transpose_b"]
        permuted = weights[:, inverse] if transpose_b else weights[inverse]
        flat = ops.reshape(
            node.input_value(0), ops.constant(np.array([1, -1], np.int64)), special_zero=False
        )
        new = ops.matmul(flat, ops.constant(np.ascontiguousarray(permuted)), False, transpose_b)
        matmul.output(0).replace(new.output(0))
        notes.append("the transpose before flatten folded into the dense layer's weights")
    return notes


def unit_transposes_to_reshapes(model: Any) -> list[str]:
    """A transpose that only moves dimensions of size 1 (the grey input's NHWC -> NCHW)
    moves no data: a reshape says so, and engines run it without a copy."""
    ops = _opset()
    notes = []
    for node in model.get_ordered_ops():
        if node.get_type_name() != "Transpose" or node.get_input_partial_shape(0).is_dynamic:
            continue
        perm = _constant(node.input_value(1))
        shape = list(node.get_input_shape(0))
        if perm is None:
            continue
        moved = [int(axis) for axis in perm if shape[int(axis)] != 1]
        if moved != sorted(moved):
            continue
        target = np.array(list(node.get_output_shape(0)), np.int64)
        node.output(0).replace(
            ops.reshape(node.input_value(0), ops.constant(target), False).output(0)
        )
        notes.append(f"a transpose of {shape} that moves no data became a reshape")
    return notes


def grey_input_as_nchw(model: Any) -> list[str]:
    """An NHWC grey input whose only use is a reshape to NCHW takes NCHW itself.

    With one channel the two layouts are the same bytes, so the car's preprocessor fills the
    NCHW tensor at the same cost, and the network starts at its first convolution."""
    (parameter,) = model.get_parameters()
    shape = list(parameter.get_output_shape(0))
    reshape = _only_consumer(parameter.output(0))
    if len(shape) != 4 or shape[3] != 1 or reshape is None:
        return []
    if reshape.get_type_name() != "Reshape" or list(reshape.get_output_shape(0)) != [
        shape[0],
        1,
        shape[1],
        shape[2],
    ]:
        return []
    names = parameter.output(0).get_names()
    parameter.set_partial_shape(reshape.get_output_partial_shape(0))
    parameter.validate_and_infer_types()
    reshape.output(0).replace(parameter.output(0))
    parameter.output(0).get_tensor().set_names(names)
    return ["the grey input is taken in NCHW (the same bytes as NHWC): no reshape"]


def optimise(model: Any) -> list[str]:
    """All passes, in order; returns what was done, one note a change."""
    constant_fold(model)
    notes = fold_input_affine(model)
    notes += fold_rescalers(model)
    notes += fold_flatten_transpose(model)
    notes += unit_transposes_to_reshapes(model)
    notes += grey_input_as_nchw(model)
    constant_fold(model)
    model.validate_nodes_and_infer_types()
    return notes
