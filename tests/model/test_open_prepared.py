"""The drive side: ``open_prepared`` opens what the service prepared, and nothing else.

A prepared bundle is read by the process that owns the outputs, so its stamp is checked
field by field, every file at its recorded size, the engine's view of the network against
the stamp, and the outputs on a test frame; and opening one imports no parser or converter.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vehicle.core.metadata import ModelError
from vehicle.core.openvino_policy import OpenVinoPolicy, cpu_config
from vehicle.core.policy import open_prepared
from vehicle.core.prepared import PREPARED_FILE
from vehicle.core.preprocess import Preprocessor
from vehicle.model.prepare import prepare

DATA = Path(__file__).resolve().parents[1] / "data"
TINY = "ppo_discrete_tiny_camera"


@pytest.fixture(scope="module")
def prepared_ir(tmp_path_factory, export_archive) -> Path:
    """A DeepRacer export prepared for OpenVINO (in this process: the worker is tested
    elsewhere)."""
    return prepare(export_archive(TINY), tmp_path_factory.mktemp("cache")).directory


@pytest.fixture(scope="module")
def prepared_onnx(tmp_path_factory) -> Path:
    from vehicle.model.synthetic import build_policy

    bundle = tmp_path_factory.mktemp("bundle")
    (bundle / "model.onnx").write_bytes(build_policy(15).SerializeToString())
    shutil.copy(DATA / "sample_single_cam.model_metadata.json", bundle / "model_metadata.json")
    return prepare(bundle, tmp_path_factory.mktemp("cache")).directory


@pytest.fixture
def bundle(tmp_path, prepared_ir) -> Path:
    """A copy of the prepared IR bundle to tamper with."""
    return Path(shutil.copytree(prepared_ir, tmp_path / "bundle"))


def _frames() -> list[np.ndarray]:
    return [cv2.imread(str(p), cv2.IMREAD_COLOR) for p in sorted((DATA / "frames").glob("*.png"))]


def test_opens_and_matches_tensorflow(prepared_ir, tf_reference):
    metadata, policy = open_prepared(prepared_ir)
    assert (policy.engine, policy.layout, metadata.action_space.n_outputs) == (
        "openvino",
        "NHWC",
        10,
    )
    pre = Preprocessor(policy.layout)
    reference = tf_reference[TINY]
    for frame, name in zip(_frames(), sorted(reference), strict=True):
        np.testing.assert_allclose(policy.run(pre(frame)), reference[name], atol=1e-5)


def test_results_are_independent_copies_and_a_new_tensor_is_rebound(prepared_ir):
    _, policy = open_prepared(prepared_ir)
    a, b = Preprocessor("NHWC"), Preprocessor("NHWC")
    frames = _frames()
    first = policy.run(a(frames[0]))
    kept = first.copy()
    second = policy.run(b(frames[1]))
    np.testing.assert_array_equal(first, kept)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(policy.run(a.tensor), first)


@pytest.mark.parametrize(
    "tensor",
    [
        np.zeros((1, 1, 120, 160), np.float32),
        np.zeros((1, 120, 160, 1), np.float64),
        np.zeros((1, 120, 320, 1), np.float32)[:, :, ::2],
    ],
    ids=["layout", "dtype", "strided"],
)
def test_run_refuses_a_wrong_tensor(prepared_ir, tensor):
    _, policy = open_prepared(prepared_ir)
    with pytest.raises(ModelError, match="input tensor"):
        policy.run(tensor)


def test_cpu_settings_are_deliberate():
    config = cpu_config()
    assert config["INFERENCE_NUM_THREADS"] == 1 and config["NUM_STREAMS"] == 1
    assert config["INFERENCE_PRECISION_HINT"] == "f32"  # ARM would pick fp16 by itself
    assert config["ENABLE_CPU_PINNING"] is False
    assert cpu_config(2)["INFERENCE_NUM_THREADS"] == 2
    with pytest.raises(ValueError, match="1 or 2"):
        cpu_config(3)


def test_the_onnx_engine_opens_a_prepared_onnx_bundle(prepared_onnx):
    _, policy = open_prepared(prepared_onnx)
    assert (policy.engine, policy.layout, policy.n_outputs) == ("onnxruntime", "NHWC", 15)
    assert policy.run(Preprocessor("NHWC")(_frames()[0])).sum() == pytest.approx(1.0, abs=1e-5)


def _stamp(bundle: Path, **changes) -> None:
    path = bundle / PREPARED_FILE
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


TAMPERED = {
    "no stamp": (
        lambda b: (b / PREPARED_FILE).unlink(),
        r"not a prepared model \(no prepared\.json\)",
    ),
    "not json": (lambda b: (b / PREPARED_FILE).write_text("{"), "prepared.json is not valid JSON"),
    "huge stamp": (lambda b: (b / PREPARED_FILE).write_text(" " * 70_000), "larger than"),
    "older format": (lambda b: _stamp(b, format=0), "prepared in format 0.*install it again"),
    "unknown engine": (lambda b: _stamp(b, engine="tensorflow"), "unknown engine 'tensorflow'"),
    "path in file name": (lambda b: _stamp(b, model_file="../model.xml"), "must be a file name"),
    "bad layout": (lambda b: _stamp(b, layout="NWHC"), "layout must be NHWC or NCHW"),
    "truncated weights": (
        lambda b: (b / "model.bin").write_bytes((b / "model.bin").read_bytes()[:1000]),
        r"model\.bin has 1000 bytes, not",
    ),
    "missing metadata": (lambda b: (b / "model_metadata.json").unlink(), "no model_metadata.json"),
    "output count": (lambda b: _stamp(b, n_outputs=15), "15 outputs but its metadata describes 10"),
    "other input": (
        lambda b: _stamp(b, input_name="x"),
        "input is .* but the prepared model says 'x'",
    ),
    "other layout": (
        lambda b: _stamp(b, layout="NCHW"),
        r"\(NHWC\), but the prepared model says .*\(NCHW\)",
    ),
    "other output": (lambda b: _stamp(b, output_name="y"), "has no output 'y'"),
    "garbage network": (
        lambda b: (b / "model.xml").write_text(
            "<net>" + " " * (len((b / "model.xml").read_bytes()) - 5)
        ),
        "OpenVINO cannot read the model",
    ),
}


@pytest.mark.parametrize("tamper, reason", TAMPERED.values(), ids=TAMPERED.keys())
def test_a_tampered_bundle_is_refused_with_a_reason(bundle, tamper, reason):
    tamper(bundle)
    with pytest.raises(ModelError, match=reason) as info:
        open_prepared(bundle)
    assert "\n" not in str(info.value)


def test_an_engine_refuses_the_wrong_output_count(prepared_ir):
    with pytest.raises(ModelError, match="10 outputs but the metadata describes 5"):
        OpenVinoPolicy(prepared_ir / "model.xml", 5)


ISOLATION_PROBE = """
import json, sys
from vehicle.core.policy import open_prepared
for bundle in sys.argv[1:]:
    open_prepared(bundle)
libraries = sorted({line.split()[-1].rsplit("/", 1)[-1] for line in open("/proc/self/maps")
                    if ".so" in line})
print(json.dumps({"modules": sorted(m for m in sys.modules if sys.modules[m] is not None),
                  "libraries": libraries}))
"""


def test_opening_imports_no_parser_or_converter(prepared_ir, prepared_onnx):
    """What the drive process loads to open both kinds of bundle (in a fresh interpreter)."""
    run = subprocess.run(
        [sys.executable, "-c", ISOLATION_PROBE, str(prepared_ir), str(prepared_onnx)],
        capture_output=True,
        check=True,
        text=True,
    )
    loaded = json.loads(run.stdout.splitlines()[-1])
    modules = loaded["modules"]
    for forbidden in ("onnx", "tarfile", "vehicle.model", "webconsole", "flask", "google.protobuf"):
        assert forbidden not in modules
    assert not [m for m in modules if m.startswith(("openvino.tools", "openvino_telemetry"))]
    assert "openvino" in modules and "onnxruntime" in modules  # the two runtimes, and only
    frontends = [lib for lib in loaded["libraries"] if "frontend" in lib]
    assert frontends == [next(lib for lib in frontends if "ir_frontend" in lib)]  # IR only
