"""Build DeepRacer-layout frozen graphs with TensorFlow, the way rl_coach builds them.

Run once, in a virtual environment outside the repository that has TensorFlow (the car and
CI never do):

    python3 -m venv /work/tfvenv
    /work/tfvenv/bin/pip install tensorflow-cpu==2.21.0 opencv-python-headless
    /work/tfvenv/bin/python models/samples/make_samples.py

It writes, for each kind of network racers upload:
- ``vehicle/model/sample_exports/<kind>.pb.gz``: the frozen GraphDef with every large weight
  zeroed, and ``<kind>.json``: where each weight goes, its recipe seed and scale, the
  metadata, the input and output names, and the sha256 of the full graph
  (``vehicle.model.samples`` rebuilds it byte for byte without TensorFlow);
- ``tests/data/deepracer/tf_outputs.json``: TensorFlow's own outputs on the frames in
  ``tests/data/frames`` (preprocessed by the car's own code), the reference that
  ``vehicle model predict`` must match;
- ``tests/data/deepracer/tiny/model.tflite``: a small network converted by TensorFlow Lite
  (a real .tflite cannot be rebuilt from a recipe: the converter rearranges weights).

Graph structure follows rl_coach as DeepRacer trains with it (``general_network.py``,
``embedder.py``, ``layers.py``, ``ppo_head.py``, DeepRacer's ``sac_head.py``): the input
placeholder ``<scope>/network_0/<sensor>/<sensor>``; ``x / 255 - offset``; each conv or dense
layer followed by ``BatchnormActivationDropout`` (batch norm and dropout under a ``cond`` on
the frozen ``is_training`` variable, as TF1 builds them); dense layers inside the image
embedder applied to the last axis of the 4-D tensor (``tensordot``), then a dynamic flatten;
the middleware; the head input mixed through the gradient rescaler and ``StopGradient``; and
the head: PPO discrete ``policy`` = softmax, PPO continuous and SAC ``policy`` = identity of
the mean. Frozen with ``convert_variables_to_constants`` on the policy output only, as
DeepRacer's trainer does.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import json
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tensorflow as tf

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # vehicle.core.preprocess: the car's own preprocessing

from vehicle.core.preprocess import Preprocessor  # noqa: E402

v1 = tf.compat.v1
v1.disable_v2_behavior()


def _load_samples_module():
    # Loaded by path: importing the vehicle.model package would need onnxruntime.
    spec = importlib.util.spec_from_file_location("samples", ROOT / "vehicle/model/samples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["samples"] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


recipe_values = _load_samples_module().recipe_values

OUT = ROOT / "vehicle" / "model" / "sample_exports"
TEST_DATA = ROOT / "tests" / "data"
FRAMES = TEST_DATA / "frames"
FILL_MIN_BYTES = 1024  # smaller tensors stay in the skeleton as they are


@dataclass(frozen=True)
class Topology:
    convs: tuple[tuple[int, int, int], ...]  # filters, kernel, stride
    embedder_dense: tuple[int, ...]
    middleware: tuple[int, ...]
    activation: str = "relu"
    conv_batchnorm: bool = False
    dense_dropout: float = 0.0


# simapp markov/sensors/utils.py (get_front_camera_embedders) and custom_architectures.py.
SHALLOW = Topology(((32, 8, 4), (64, 4, 2), (64, 3, 1)), (), (512,))
STANDARD = Topology(((32, 5, 2), (32, 3, 1), (64, 3, 2), (64, 3, 1)), (64,), (512,), "tanh")
DEEP = Topology(
    ((32, 8, 4), (32, 4, 2), (64, 4, 2), (64, 3, 1)),
    (512, 512),
    (512,),
    conv_batchnorm=True,
    dense_dropout=0.5,
)
TINY = Topology(((4, 8, 4), (8, 4, 2), (8, 3, 1)), (), (32,))

NETWORK_NAMES = {
    "shallow": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "standard": "DEEP_CONVOLUTIONAL_NETWORK",
    "deep": "DEEP_CONVOLUTIONAL_NETWORK_DEEP",
    "tiny": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
}
TOPOLOGIES = {"shallow": SHALLOW, "standard": STANDARD, "deep": DEEP, "tiny": TINY}


@dataclass(frozen=True)
class Kind:
    name: str
    algorithm: str  # clipped_ppo | sac
    space: str  # discrete | continuous
    topology: str
    sensors: tuple[str, ...]  # graph inputs, in placeholder order
    metadata_file: str | None = None
    metadata_sensor: list[str] | None = field(default=None)
    input_offset: float = 0.0


KINDS = (
    # Old exports: the input is called "observation" and the metadata has no sensor key.
    Kind(
        "ppo_discrete_shallow_observation",
        "clipped_ppo",
        "discrete",
        "shallow",
        ("observation",),
        "sample_single_cam.model_metadata.json",
        input_offset=0.5,
    ),
    Kind(
        "ppo_discrete_standard_camera",
        "clipped_ppo",
        "discrete",
        "standard",
        ("FRONT_FACING_CAMERA",),
        "discrete_10.model_metadata.json",
    ),
    Kind(
        "ppo_discrete_deep_camera",
        "clipped_ppo",
        "discrete",
        "deep",
        ("FRONT_FACING_CAMERA",),
        "discrete_10.model_metadata.json",
    ),
    Kind(
        "ppo_continuous_shallow_camera",
        "clipped_ppo",
        "continuous",
        "shallow",
        ("FRONT_FACING_CAMERA",),
        "continuous.model_metadata.json",
    ),
    Kind(
        "sac_continuous_shallow_camera",
        "sac",
        "continuous",
        "shallow",
        ("FRONT_FACING_CAMERA",),
        "continuous.model_metadata.json",
    ),
    # Small, for the many tests of layouts and formats (also written as .tflite).
    Kind(
        "ppo_discrete_tiny_camera",
        "clipped_ppo",
        "discrete",
        "tiny",
        ("FRONT_FACING_CAMERA",),
        "discrete_10.model_metadata.json",
    ),
    # What the car must refuse: a stereo camera, and a camera with a LIDAR.
    Kind(
        "ppo_discrete_tiny_stereo",
        "clipped_ppo",
        "discrete",
        "tiny",
        ("STEREO_CAMERAS",),
        "discrete_10.model_metadata.json",
        ["STEREO_CAMERAS"],
    ),
    Kind(
        "ppo_discrete_tiny_lidar",
        "clipped_ppo",
        "discrete",
        "tiny",
        ("FRONT_FACING_CAMERA", "LIDAR"),
        "discrete_10.model_metadata.json",
        ["FRONT_FACING_CAMERA", "LIDAR"],
    ),
)
TFLITE_KIND = "ppo_discrete_tiny_camera"

INPUT_SHAPES = {
    "observation": [None, 120, 160, 1],
    "FRONT_FACING_CAMERA": [None, 120, 160, 1],
    "STEREO_CAMERAS": [None, 120, 160, 2],
    "LIDAR": [None, 64],
}


class WeightMaker:
    """Every variable's initial value from the recipe; remembers seeds for the manifest."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.made: dict[bytes, tuple[int, float, str]] = {}

    def __call__(self, name: str, shape: list[int], scale: float, offset: float = 0.0):
        path = f"{v1.get_variable_scope().name}/{name}"
        seed = zlib.crc32(f"{self.kind}/{path}".encode())
        count = int(np.prod(shape))
        values = recipe_values(seed, count, scale)
        if offset == 0.0:
            self.made[values.tobytes()] = (seed, scale, path)
        else:
            values = (values + np.float32(offset)).astype("<f4")
        return v1.get_variable(
            name, shape, tf.float32, initializer=v1.constant_initializer(values.reshape(shape))
        )


def _glorot(fan_in: int, fan_out: int) -> float:
    return float(np.sqrt(6.0 / (fan_in + fan_out)))


def _activation(x, kind: str, name: str):
    return tf.nn.relu(x, name=name) if kind == "relu" else tf.nn.tanh(x, name=name)


def _batchnorm(x, is_training, weights: WeightMaker, name: str):
    depth = int(x.shape[-1])
    with v1.variable_scope(name):
        gamma = weights("gamma", [depth], 0.1, 1.0)
        beta = weights("beta", [depth], 0.1)
        mean = weights("moving_mean", [depth], 0.1)
        variance = weights("moving_variance", [depth], 0.5, 1.0)

        def training():
            return v1.nn.fused_batch_norm(x, gamma, beta, epsilon=1e-3, is_training=True)[0]

        def inference():
            return v1.nn.fused_batch_norm(
                x, gamma, beta, mean=mean, variance=variance, epsilon=1e-3, is_training=False
            )[0]

        return v1.cond(is_training, training, inference, name="cond")


def _dropout(x, rate: float, is_training, name: str):
    with v1.name_scope(name):
        return v1.cond(
            is_training, lambda: tf.nn.dropout(x, rate=rate), lambda: tf.identity(x), name="cond"
        )


def _dense(
    x, units: int, weights: WeightMaker, name: str, activation: str | None = None, gain: float = 1.0
):
    """tf.layers.dense: MatMul on 2-D inputs, tensordot on the last axis of 4-D ones."""
    depth = int(x.shape[-1])
    with v1.variable_scope(name):
        kernel = weights("kernel", [depth, units], gain * _glorot(depth, units))
        bias = weights("bias", [units], 0.05)
        if x.shape.rank == 2:
            y = tf.matmul(x, kernel, name="MatMul")
        else:
            y = tf.tensordot(x, kernel, [[x.shape.rank - 1], [0]], name="Tensordot")
        y = tf.nn.bias_add(y, bias, name="BiasAdd")
        if activation:
            y = _activation(y, activation, "Relu" if activation == "relu" else "Tanh")
    return y


def _conv(x, filters: int, kernel: int, stride: int, weights: WeightMaker, name: str):
    depth = int(x.shape[-1])
    with v1.variable_scope(name):
        w = weights(
            "kernel",
            [kernel, kernel, depth, filters],
            _glorot(kernel * kernel * depth, kernel * kernel * filters),
        )
        b = weights("bias", [filters], 0.05)
        y = tf.nn.conv2d(x, w, [1, stride, stride, 1], "VALID", name="Conv2D")
        return tf.nn.bias_add(y, b, name="BiasAdd")


def _flatten(x):
    with v1.name_scope("Flatten"):
        batch = tf.shape(x)[0]
        y = tf.reshape(x, tf.stack([batch, -1]), name="Reshape")
        y.set_shape([None, int(np.prod(x.shape[1:]))])  # as Keras' Flatten does
        return y


def _embedder(x, topology: Topology, is_training, weights: WeightMaker, offset: float):
    if x.shape.rank == 2:  # a LIDAR vector: two dense layers, as the simapp's lidar embedder
        y = x
        for idx, units in enumerate((32, 32)):
            y = _dense(y, units, weights, f"Dense_{2 * idx}")
            y = _activation(y, "relu", f"BatchnormActivationDropout_{2 * idx + 1}_activation")
        return y
    y = x / 255.0
    y -= offset
    idx = 0
    for filters, kernel, stride in topology.convs:
        y = _conv(y, filters, kernel, stride, weights, f"Conv2d_{idx}")
        name = f"BatchnormActivationDropout_{idx + 1}"
        if topology.conv_batchnorm:
            y = _batchnorm(y, is_training, weights, f"{name}_batchnorm")
        y = _activation(y, topology.activation, f"{name}_activation")
        idx += 2
    for units in topology.embedder_dense:
        y = _dense(y, units, weights, f"Dense_{idx}")
        name = f"BatchnormActivationDropout_{idx + 1}"
        y = _activation(y, topology.activation, f"{name}_activation")
        if topology.dense_dropout:
            y = _dropout(y, topology.dense_dropout, is_training, f"{name}_dropout")
        idx += 2
    return _flatten(y)


# Random weights give near-uniform policies; a wider last layer makes the action depend on
# the frame, as a trained policy's does, so an engine that ignored the image would show.
HEAD_GAIN = 12.0


def _head(x, kind: Kind, n_outputs: int, weights: WeightMaker):
    if kind.algorithm == "sac":
        with v1.variable_scope("sac_policy_head_0"):
            hidden = _dense(x, 256, weights, "dense", activation="relu")
            mean = _dense(hidden, n_outputs, weights, "policy_mean", gain=HEAD_GAIN)
            return tf.identity(mean, name="policy")
    with v1.variable_scope("ppo_head_0"):
        if kind.space == "discrete":
            logits = _dense(x, n_outputs, weights, "policy_fc", gain=HEAD_GAIN)
            return tf.nn.softmax(logits, name="policy")
        mean = _dense(x, n_outputs, weights, "policy_mean", gain=HEAD_GAIN)
        return tf.identity(mean, name="policy")


def build(kind: Kind, metadata: dict):
    """The graph, its input placeholder names and its policy output name."""
    topology = TOPOLOGIES[kind.topology]
    n_outputs = 2 if kind.space == "continuous" else len(metadata["action_space"])
    weights = WeightMaker(kind.name)
    graph = tf.Graph()
    wrapper = "policy" if kind.algorithm == "sac" else "main"
    with graph.as_default(), v1.variable_scope(f"main_level/agent/{wrapper}/online"):
        is_training = v1.Variable(
            False, trainable=False, collections=[v1.GraphKeys.LOCAL_VARIABLES]
        ).value()  # its snapshot ("Variable/read"), as TF1's cond took it
        inputs = {}

        def placeholders():
            for sensor in kind.sensors:
                with v1.variable_scope(sensor):
                    inputs[sensor] = v1.placeholder("float", INPUT_SHAPES[sensor], name=sensor)

        def body():
            embeddings = []
            for sensor in kind.sensors:
                with v1.variable_scope(sensor):
                    embeddings.append(
                        _embedder(inputs[sensor], topology, is_training, weights, kind.input_offset)
                    )
            state = (
                embeddings[0] if len(embeddings) == 1 else tf.concat(embeddings, -1, name="merger")
            )
            with v1.variable_scope("middleware_fc_embedder"):
                for idx, units in enumerate(topology.middleware):
                    state = _dense(state, units, weights, f"Dense_{2 * idx}")
                    state = _activation(
                        state, "relu", f"BatchnormActivationDropout_{2 * idx + 1}_activation"
                    )
            rescaler = v1.get_variable(
                "gradients_from_head_0-0_rescalers", initializer=1.0, dtype=tf.float32
            )
            head_input = (1 - rescaler) * tf.stop_gradient(state) + rescaler * state
            return _head(head_input, kind, n_outputs, weights)

        if kind.algorithm == "sac":  # SAC's policy network is network_0, inputs and all
            with v1.variable_scope("network_0"):
                placeholders()
                policy = body()
        else:  # PPO: value head in network_0 (pruned when frozen), policy in network_1
            with v1.variable_scope("network_0"):
                placeholders()
            with v1.variable_scope("network_1"):
                policy = body()
    names = [inputs[s].op.name for s in kind.sensors]
    return graph, names, policy.op.name, weights


def metadata_for(kind: Kind) -> dict:
    metadata = json.loads((TEST_DATA / kind.metadata_file).read_text())
    metadata["training_algorithm"] = kind.algorithm
    metadata["neural_network"] = NETWORK_NAMES[kind.topology]
    if kind.metadata_sensor is not None:
        metadata["sensor"] = kind.metadata_sensor
    elif kind.sensors == ("observation",):
        metadata.pop("sensor", None)
    else:
        metadata["sensor"] = list(kind.sensors)
    if kind.space == "continuous":
        metadata["action_space_type"] = "continuous"
    return metadata


def frames() -> dict[str, np.ndarray]:
    import cv2

    tensors = {}
    for path in sorted(FRAMES.glob("*.png")):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)  # as `vehicle model predict` reads
        tensors[path.name] = Preprocessor("NHWC")(image).copy()
    return tensors


def _frozen_graph_def(session, graph, output: str):
    """TF1's convert_variables_to_constants: prune to the output, variables become Consts.

    Done by hand because TF 2.21's converter trips over TF1 control flow (a ``cond`` whose
    predicate is a variable); the result has the same node names and structure.
    """
    pruned = v1.graph_util.extract_sub_graph(graph.as_graph_def(), [output])
    variables = [n.name for n in pruned.node if n.op in ("VariableV2", "Variable")]
    values = dict(zip(variables, session.run([f"{n}:0" for n in variables]), strict=True))
    frozen = v1.GraphDef()
    frozen.versions.CopyFrom(pruned.versions)
    for node in pruned.node:
        if node.name in values:
            const = frozen.node.add(name=node.name, op="Const")
            value = values[node.name]
            const.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
            const.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        else:
            frozen.node.add().CopyFrom(node)
    return frozen


def freeze(graph, inputs: list[str], output: str, images: dict[str, np.ndarray]):
    with graph.as_default(), v1.Session(graph=graph) as session:
        session.run([v1.global_variables_initializer(), v1.local_variables_initializer()])
        outputs = {}
        if len(inputs) == 1 and inputs[0].endswith(("/observation", "/FRONT_FACING_CAMERA")):
            for name, tensor in images.items():
                result = session.run(f"{output}:0", {f"{inputs[0]}:0": tensor})
                outputs[name] = [float(v) for v in result.reshape(-1)]
        return _frozen_graph_def(session, graph, output), outputs


def skeleton(data: bytes, weights: WeightMaker) -> tuple[bytes, list[dict]]:
    """Zero every large recipe-made tensor in the serialized graph; say where it was."""
    graph = bytearray(data)
    fills = []
    for content, (seed, scale, name) in weights.made.items():
        if len(content) < FILL_MIN_BYTES:
            continue
        offset = data.find(content)
        if offset < 0 or data.find(content, offset + 1) >= 0:
            raise SystemExit(f"{name} is not exactly once in the graph ({offset})")
        graph[offset : offset + len(content)] = bytes(len(content))
        fills.append({"offset": offset, "count": len(content) // 4, "seed": seed, "scale": scale})
    return bytes(graph), sorted(fills, key=lambda f: f["offset"])


def make_graph(kind: Kind, images, tf_outputs: dict) -> None:
    metadata = metadata_for(kind)
    graph, inputs, output, weights = build(kind, metadata)
    frozen, outputs = freeze(graph, inputs, output, images)
    data = frozen.SerializeToString()
    zeroed, fills = skeleton(data, weights)
    (OUT / f"{kind.name}.pb.gz").write_bytes(gzip.compress(zeroed, 9, mtime=0))
    manifest = {
        "input": inputs[0] if len(inputs) == 1 else inputs,
        "output": output,
        "metadata": metadata,
        "fills": fills,
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "tensorflow": tf.__version__,
    }
    (OUT / f"{kind.name}.json").write_text(json.dumps(manifest, indent=1) + "\n")
    if outputs:
        tf_outputs[kind.name] = outputs
    print(f"{kind.name}: {len(data) / 2**20:.1f} MiB, {len(frozen.node)} nodes, {len(fills)} fills")


def make_tflite(images) -> None:
    """The tiny camera network again, through the TFLite converter (same weights: the
    recipe seeds come from the kind's name, so TensorFlow's outputs are the .pb's): fp32
    in ``tiny/``, and with fp16 weights (the community car's default) in ``tiny-fp16/``."""
    kind = next(k for k in KINDS if k.name == TFLITE_KIND)
    metadata = metadata_for(kind)
    graph, inputs, output, _ = build(kind, metadata)
    frozen, _ = freeze(graph, inputs, output, {})
    for folder, fp16 in (("tiny", False), ("tiny-fp16", True)):
        target = TEST_DATA / "deepracer" / folder
        target.mkdir(parents=True, exist_ok=True)
        with tf.Graph().as_default() as g:
            tf.import_graph_def(frozen, name="")
            with v1.Session(graph=g) as session:
                placeholder = g.get_tensor_by_name(f"{inputs[0]}:0")
                placeholder.set_shape([1, 120, 160, 1])
                converter = v1.lite.TFLiteConverter.from_session(
                    session, [placeholder], [g.get_tensor_by_name(f"{output}:0")]
                )
                if fp16:
                    converter.optimizations = [tf.lite.Optimize.DEFAULT]
                    converter.target_spec.supported_types = [tf.float16]
                (target / "model.tflite").write_bytes(converter.convert())
        (target / "model_metadata.json").write_text(json.dumps(metadata, indent=2) + "\n")
        print(f"{folder} tflite: {(target / 'model.tflite').stat().st_size} bytes")


def main() -> None:
    only = set(sys.argv[1:])  # kind names, to rebuild some (tf_outputs.json is merged)
    OUT.mkdir(parents=True, exist_ok=True)
    images = frames()
    result = TEST_DATA / "deepracer" / "tf_outputs.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    tf_outputs: dict = json.loads(result.read_text())["outputs"] if only else {}
    for kind in KINDS:
        if not only or kind.name in only:
            make_graph(kind, images, tf_outputs)
    if not only or TFLITE_KIND in only:
        make_tflite(images)
    summary = {"tensorflow": tf.__version__, "frames": sorted(images), "outputs": tf_outputs}
    result.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
