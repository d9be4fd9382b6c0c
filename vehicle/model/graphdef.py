"""What a DeepRacer frozen graph takes and gives, read without TensorFlow.

Before a ``.pb`` goes to a converter we check that it is a binary ``GraphDef`` (not a
SavedModel, a text graph or a checkpoint, which make converters go looking for other files
on disk), that it has one of the policy outputs rl_coach names, and that the policy reads
one front-camera image and nothing else. That gives racers a reason they can act on
("the graph has no ... policy") instead of a converter's stack trace.

The schema is the subset of TensorFlow's ``graph.proto``/``node_def.proto``/
``attr_value.proto`` we read, with TensorFlow's own field numbers, built at import in a
private descriptor pool; every other field is skipped by protobuf's parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from vehicle.core.metadata import CAMERA_SENSORS, MISSING_SENSORS, ModelError, one_line

# rl_coach's policy heads as DeepRacer freezes them (DESIGN.md section 3).
POLICY_OUTPUTS = {
    "clipped_ppo": "main_level/agent/main/online/network_1/ppo_head_0/policy",
    "sac": "main_level/agent/policy/online/network_0/sac_policy_head_0/policy",
}
ALGORITHM_LABELS = {"clipped_ppo": "PPO", "sac": "SAC"}
PLACEHOLDER_OPS = ("Placeholder",)  # PlaceholderWithDefault has a value: not an input
DT_FLOAT = 1


def _build_graph_def_class() -> Any:
    f = descriptor_pb2.FieldDescriptorProto
    optional, repeated = f.LABEL_OPTIONAL, f.LABEL_REPEATED
    file = descriptor_pb2.FileDescriptorProto(
        name="vehicle_tf_graph_subset.proto", package="vehicle_tf", syntax="proto3"
    )

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> Any:
        msg = file.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            field = msg.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                field.type_name = type_name
        return msg

    shape = message("TensorShapeProto", ("dim", 2, f.TYPE_MESSAGE, repeated, ".vehicle_tf.Dim"))
    shape.field.add(name="unknown_rank", number=3, type=f.TYPE_BOOL, label=optional)
    message(
        "Dim",
        ("size", 1, f.TYPE_INT64, optional, ""),
        ("name", 2, f.TYPE_STRING, optional, ""),
    )
    message(
        "AttrValue",
        ("type", 6, f.TYPE_INT32, optional, ""),
        ("shape", 7, f.TYPE_MESSAGE, optional, ".vehicle_tf.TensorShapeProto"),
    )
    node = message(
        "NodeDef",
        ("name", 1, f.TYPE_STRING, optional, ""),
        ("op", 2, f.TYPE_STRING, optional, ""),
        ("input", 3, f.TYPE_STRING, repeated, ""),
        ("attr", 5, f.TYPE_MESSAGE, repeated, ".vehicle_tf.NodeDef.AttrEntry"),
    )
    entry = node.nested_type.add(name="AttrEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=f.TYPE_STRING, label=optional)
    entry.field.add(
        name="value",
        number=2,
        type=f.TYPE_MESSAGE,
        label=optional,
        type_name=".vehicle_tf.AttrValue",
    )
    message("GraphDef", ("node", 1, f.TYPE_MESSAGE, repeated, ".vehicle_tf.NodeDef"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("vehicle_tf.GraphDef"))


GraphDef = _build_graph_def_class()


@dataclass(frozen=True)
class GraphInput:
    name: str
    sensor: str  # the placeholder's last path part: rl_coach names it after the sensor
    shape: tuple[int | None, ...] | None  # None: unknown rank; None dims are dynamic
    dtype: int


@dataclass(frozen=True)
class PolicyGraph:
    """The facts of a DeepRacer graph the converter is asked to keep."""

    algorithm: str  # clipped_ppo | sac
    output: str  # the policy node
    camera: GraphInput  # the one input the policy reads
    node_count: int


def read_graph_def(data: bytes, *, max_nodes: int) -> Any:
    """Parse a binary GraphDef; ``ModelError`` for anything else."""
    graph = GraphDef()
    try:
        graph.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelError(
            f"model.pb is not a frozen TensorFlow graph (GraphDef): {one_line(exc)}"
        ) from exc
    if not graph.node or any(not n.name or not n.op for n in graph.node):
        raise ModelError(
            "model.pb is not a frozen TensorFlow graph (GraphDef): it has no named operations"
        )
    if len(graph.node) > max_nodes:
        raise ModelError(f"the graph has {len(graph.node)} operations; the limit is {max_nodes}")
    return graph


def _source_name(edge: str) -> str:
    """'^node' (control edge) and 'node:1' (second output) both come from 'node'."""
    return edge.lstrip("^").split(":", 1)[0]


def _input(node: Any) -> GraphInput:
    attrs = node.attr
    shape: tuple[int | None, ...] | None = None
    if "shape" in attrs and not attrs["shape"].shape.unknown_rank:
        dims = attrs["shape"].shape.dim
        shape = tuple(d.size if d.size >= 0 else None for d in dims)
    dtype = attrs["dtype"].type if "dtype" in attrs else 0
    return GraphInput(node.name, node.name.rsplit("/", 1)[-1], shape, dtype)


def _reads(nodes: dict[str, Any], output: str) -> list[GraphInput]:
    """Every placeholder the output depends on, in name order."""
    seen, stack, found = {output}, [output], []
    while stack:
        node = nodes.get(stack.pop())
        if node is None:
            continue  # a dangling edge: the converter will say so
        if node.op in PLACEHOLDER_OPS:
            found.append(_input(node))
        for edge in node.input:
            name = _source_name(edge)
            if name not in seen:
                seen.add(name)
                stack.append(name)
    return sorted(found, key=lambda i: i.name)


def _check_camera(inputs: list[GraphInput]) -> GraphInput:
    missing = sorted({i.sensor for i in inputs if i.sensor in MISSING_SENSORS})
    if missing:
        raise ModelError(
            f"the graph's policy reads {', '.join(missing)}, but this car has a single front camera"
        )
    cameras = [i for i in inputs if i.sensor in CAMERA_SENSORS]
    others = [i.name for i in inputs if i.sensor not in CAMERA_SENSORS]
    if others or len(cameras) != 1:
        names = ", ".join(i.name for i in inputs) or "none"
        raise ModelError(
            "the graph's policy must read exactly one camera input (…/observation or "
            f"…/FRONT_FACING_CAMERA), it reads: {names}"
        )
    (camera,) = cameras
    if camera.dtype != DT_FLOAT:
        raise ModelError(f"the camera input {camera.name} is not float32")
    if camera.shape is not None and (
        len(camera.shape) != 4
        or camera.shape[0] not in (None, 1)
        or camera.shape[1:] != (120, 160, 1)
    ):
        shape = ["?" if d is None else d for d in camera.shape]
        raise ModelError(
            f"the camera input {camera.name} has shape {shape}; DeepRacer models take one "
            "grayscale frame, [?,120,160,1]"
        )
    return camera


def inspect_policy_graph(graph: Any) -> PolicyGraph:
    """Find the policy output and the one camera input it reads, or say why not."""
    nodes = {n.name: n for n in graph.node}
    found = [(algo, name) for algo, name in POLICY_OUTPUTS.items() if name in nodes]
    if not found:
        looked_for = " and ".join(
            f"{name} ({ALGORITHM_LABELS[algo]})" for algo, name in POLICY_OUTPUTS.items()
        )
        raise ModelError(f"the graph has no policy output; looked for {looked_for}")
    algorithm, output = found[0]
    camera = _check_camera(_reads(nodes, output))
    return PolicyGraph(algorithm, output, camera, len(nodes))
