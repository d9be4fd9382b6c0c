"""The onnxruntime engine: every layout DeepRacer models come in opens; bad models refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from vehicle.core.metadata import ModelError
from vehicle.core.onnxruntime_policy import OnnxRuntimePolicy as Policy
from vehicle.core.onnxruntime_policy import session_options
from vehicle.core.preprocess import LAYOUT_SHAPES, Preprocessor
from vehicle.model.synthetic import build_policy
from vehicle.model.validate import check_onnx


def open_checked(path: Path, n_outputs: int) -> Policy:
    """What preparing an ONNX bundle does: the checker, then the engine the car runs."""
    check_onnx(path)
    return Policy(path, n_outputs)


def _save(tmp_path: Path, model: onnx.ModelProto | bytes, name: str = "model.onnx") -> Path:
    path = tmp_path / name
    path.write_bytes(model if isinstance(model, bytes) else model.SerializeToString())
    return path


def _frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (480, 640, 3), dtype=np.uint8)


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
@pytest.mark.parametrize("batch", ["N", 1])
def test_layouts_and_batch_sizes_open_and_match_plain_onnxruntime(tmp_path, layout, batch):
    model = build_policy(15, layout=layout, batch=batch)
    policy = Policy(_save(tmp_path, model), 15)
    assert policy.layout == layout
    pre = Preprocessor(policy.layout)
    reference = ort.InferenceSession(model.SerializeToString())
    for seed in range(3):
        tensor = pre(_frame(seed))
        out = policy.run(tensor)
        assert out.shape == (15,) and out.dtype == np.float32
        expected = reference.run(None, {"image": tensor})[0].reshape(-1)
        np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
        assert out.sum() == pytest.approx(1.0, abs=1e-5)


def test_continuous_policy_has_two_outputs(tmp_path):
    policy = Policy(_save(tmp_path, build_policy(2, head="tanh")), 2)
    out = policy.run(Preprocessor(policy.layout)(_frame()))
    assert out.shape == (2,) and np.all(np.abs(out) <= 1.0)


def test_results_are_independent_copies(tmp_path):
    policy = Policy(_save(tmp_path, build_policy(5)), 5)
    pre = Preprocessor(policy.layout)
    first = policy.run(pre(_frame(1)))
    kept = first.copy()
    second = policy.run(pre(_frame(2)))
    np.testing.assert_array_equal(first, kept)
    assert not np.array_equal(first, second)


def test_a_different_tensor_is_rebound(tmp_path):
    model = build_policy(5, layout="NCHW")
    policy = Policy(_save(tmp_path, model), 5)
    a, b = Preprocessor("NCHW"), Preprocessor("NCHW")
    out_a = policy.run(a(_frame(1)))
    out_b = policy.run(b(_frame(2)))
    assert not np.array_equal(out_a, out_b)
    np.testing.assert_array_equal(policy.run(a.tensor), out_a)


@pytest.mark.parametrize(
    "tensor",
    [
        np.zeros((1, 1, 120, 160), np.float32),  # the other layout
        np.zeros((1, 120, 160, 1), np.float64),
        np.zeros((1, 160, 120, 1), np.float32),
        np.zeros((1, 120, 320, 1), np.float32)[:, :, ::2],
    ],
    ids=["layout", "dtype", "transposed", "strided"],
)
def test_run_refuses_a_wrong_tensor(tmp_path, tensor):
    policy = Policy(_save(tmp_path, build_policy(5, layout="NHWC")), 5)
    with pytest.raises(ModelError, match="input tensor"):
        policy.run(tensor)


def _two_inputs() -> onnx.ModelProto:
    model = build_policy(5)
    model.graph.input.append(helper.make_tensor_value_info("speed", TensorProto.FLOAT, ["N", 1]))
    return model


def _nan_output() -> onnx.ModelProto:
    model = build_policy(5, head="none")
    for i, init in enumerate(model.graph.initializer):
        if init.name == "dense1_b":
            nan = np.full(numpy_helper.to_array(init).shape, np.nan, np.float32)
            model.graph.initializer[i].CopyFrom(numpy_helper.from_array(nan, init.name))
    return model


def _double_output() -> onnx.ModelProto:
    model = build_policy(5)
    model.graph.node.append(
        helper.make_node("Cast", ["policy"], ["policy64"], to=TensorProto.DOUBLE)
    )
    model.graph.output.pop()
    model.graph.output.append(
        helper.make_tensor_value_info("policy64", TensorProto.DOUBLE, ["N", 5])
    )
    return model


BAD_MODELS = {
    "84x84 input": (lambda: build_policy(5, height=84, width=84), r"shape \['N', 84, 84, 1\]"),
    "3 channels NHWC": (lambda: build_policy(5, channels=3), "3 colour channels"),
    "3 channels NCHW": (lambda: build_policy(5, channels=3, layout="NCHW"), "3 colour channels"),
    "batch 2": (lambda: build_policy(5, batch=2), "batch size 2"),
    "two inputs": (_two_inputs, "exactly one image input, it takes image, speed"),
    "wrong output count": (lambda: build_policy(10), "10 outputs but the metadata describes 5"),
    "nan output": (_nan_output, "not finite"),
    "double output": (_double_output, "must be float32, they are float64"),
    "corrupt bytes": (lambda: build_policy(5).SerializeToString()[:5000], "not a valid ONNX model"),
    "text file": (lambda: b"this is not a network\n", "not a valid ONNX model"),
    "empty file": (lambda: b"", "not a valid ONNX model"),
}


@pytest.mark.parametrize("make, reason", BAD_MODELS.values(), ids=BAD_MODELS.keys())
def test_bad_models_are_refused_with_a_reason(tmp_path, make, reason):
    with pytest.raises(ModelError, match=reason) as info:
        open_checked(_save(tmp_path, make()), 5)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("data", [b"", b"this is not a network\n"], ids=["empty", "text"])
def test_the_drive_side_session_refuses_what_onnxruntime_cannot_parse(tmp_path, data):
    """Defence in depth: a file that skipped the checker still cannot reach the outputs."""
    with pytest.raises(ModelError, match="onnxruntime cannot open the model") as info:
        Policy(_save(tmp_path, data), 5)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ModelError, match=r"cannot read model\.onnx"):
        Policy(tmp_path / "model.onnx", 5)


def test_session_settings_are_deliberate():
    options = session_options()
    assert options.intra_op_num_threads == 1
    assert options.inter_op_num_threads == 1
    assert options.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
    assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert session_options(2).intra_op_num_threads == 2
    with pytest.raises(ValueError, match="1 or 2"):
        session_options(4)


def test_a_named_output_is_the_policy(tmp_path):
    model = build_policy(5)
    model.graph.output.insert(0, helper.make_tensor_value_info("relu0", TensorProto.FLOAT, None))
    path = _save(tmp_path, model)
    with pytest.raises(ModelError, match="outputs but the metadata describes 5"):
        Policy(path, 5)  # the first output is not the policy: refused, not driven
    policy = Policy(path, 5, output_name="policy")
    assert policy.output_name == "policy" and policy.run(Preprocessor("NHWC")(_frame())).shape == (
        5,
    )
    with pytest.raises(ModelError, match="has no output 'nope'"):
        Policy(path, 5, output_name="nope")


def test_input_shape_is_the_preprocessor_shape():
    assert LAYOUT_SHAPES == {"NHWC": (1, 120, 160, 1), "NCHW": (1, 1, 120, 160)}
