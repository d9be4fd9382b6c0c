"""DeepRacer TensorFlow models (``agent/model.pb`` in a ``.tar.gz``) to ONNX bundles.

DeepRacer's console and DeepRacer-for-Cloud export frozen TF1 graphs. tf2onnx converts them
faithfully (checked with tensorflow-cpu 2.21 + tf2onnx 1.17: outputs within 7e-8), but both
are large and optional, so they are imported only here, only when asked for. The converted
bundle is validated like any other before it is written.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from vehicle.atomic import atomic_write_bytes
from vehicle.core.metadata import METADATA_FILE, ModelError, load_metadata, one_line
from vehicle.model.archive import ONNX_FILE, TF_GRAPH_FILE, extract_archive
from vehicle.model.bundle import load_directory

# The camera placeholder is named after the sensor: ".../observation/observation" on older
# models, ".../FRONT_FACING_CAMERA/FRONT_FACING_CAMERA" on newer ones.
INPUT_SUFFIXES = ("/observation", "/FRONT_FACING_CAMERA")
POLICY_OUTPUT = "main_level/agent/main/online/network_1/ppo_head_0/policy"
OPSET = 13


def _find_tf_bundle(directory: Path) -> tuple[Path, Path]:
    """The model.pb and the model_metadata.json of the one TF model in ``directory``."""
    graphs = [
        Path(d) / TF_GRAPH_FILE for d, _, files in os.walk(directory) if TF_GRAPH_FILE in files
    ]
    metas = [
        Path(d) / METADATA_FILE for d, _, files in os.walk(directory) if METADATA_FILE in files
    ]
    if len(graphs) != 1 or len(metas) != 1:
        raise ModelError(
            f"expected one {TF_GRAPH_FILE} and one {METADATA_FILE} in the archive, "
            f"found {len(graphs)} and {len(metas)}"
        )
    return graphs[0], metas[0]


def _convert(graph_file: Path) -> bytes:
    try:
        import tensorflow as tf  # optional and heavy: imported only for this command
        import tf2onnx
    except ImportError as exc:
        raise ModelError(
            f"converting TensorFlow models needs tensorflow-cpu and tf2onnx ({exc.name} is "
            "missing): pip install tensorflow-cpu tf2onnx"
        ) from exc
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(graph_file.read_bytes())
    except Exception as exc:  # protobuf's DecodeError
        raise ModelError(f"{TF_GRAPH_FILE} is not a TensorFlow graph: {one_line(exc)}") from exc
    names = {node.name for node in graph_def.node}
    inputs = sorted(
        node.name
        for node in graph_def.node
        if node.op == "Placeholder" and node.name.endswith(INPUT_SUFFIXES)
    )
    if len(inputs) != 1:
        raise ModelError(f"expected one camera input in the graph, found {inputs or 'none'}")
    if POLICY_OUTPUT not in names:
        raise ModelError(f"the graph has no {POLICY_OUTPUT} (not a DeepRacer PPO model?)")
    try:
        model, _ = tf2onnx.convert.from_graph_def(
            graph_def,
            input_names=[f"{inputs[0]}:0"],
            output_names=[f"{POLICY_OUTPUT}:0"],
            opset=OPSET,
        )
    except Exception as exc:  # tf2onnx raises many unrelated types
        raise ModelError(f"tf2onnx could not convert the graph: {one_line(exc)}") from exc
    return model.SerializeToString()


def import_tensorflow_model(archive: Path, output: Path) -> Path:
    """Convert a DeepRacer ``.tar.gz`` into an ONNX bundle folder ``output``; return it."""
    output = Path(output)
    if output.exists() and any(output.iterdir()):
        raise ModelError(f"{output} exists and is not empty")
    extracted = extract_archive(archive)
    try:
        graph_file, metadata_file = _find_tf_bundle(extracted)
        load_metadata(metadata_file)  # refuse a stereo or lidar model before converting
        staging = Path(tempfile.mkdtemp(prefix=".import-", dir=extracted))
        atomic_write_bytes(staging / ONNX_FILE, _convert(graph_file))
        shutil.copyfile(metadata_file, staging / METADATA_FILE)
        load_directory(staging, output.name)
        output.mkdir(parents=True, exist_ok=True)
        for name in (ONNX_FILE, METADATA_FILE):
            atomic_write_bytes(output / name, (staging / name).read_bytes())
    finally:
        shutil.rmtree(extracted, ignore_errors=True)
    return output
