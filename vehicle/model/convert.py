"""DeepRacer exports to OpenVINO IR, with the ``openvino`` package alone (no TensorFlow).

Runs in the preparation worker only. OpenVINO's frontends read frozen TensorFlow graphs,
TFLite and IR; we keep exactly the policy output and the camera input, fix the batch at 1
(a static shape runs faster than a dynamic one and is what the car feeds), give the tensors
the names the racer's graph used, and save fp32 IR for the drive process to compile.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vehicle.core.metadata import MISSING_SENSORS, ModelError, one_line
from vehicle.core.openvino_policy import dims, import_runtime
from vehicle.core.policy import layout_of
from vehicle.core.preprocess import LAYOUT_SHAPES, Layout
from vehicle.model.graphdef import inspect_policy_graph, read_graph_def
from vehicle.model.layout import ModelSource

IR_MODEL = "model.xml"
IR_WEIGHTS = "model.bin"
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class Converted:
    input_name: str
    output_name: str
    layout: Layout


def _reason(exc: BaseException) -> str:
    """OpenVINO's messages run over many lines with source paths; keep the gist."""
    text = one_line(exc)
    return text if len(text) <= MAX_REASON_CHARS else text[:MAX_REASON_CHARS] + "…"


def _frontend(framework: str) -> Any:
    from openvino.frontend import FrontEndManager

    return FrontEndManager().load_by_framework(framework)


def _from_graph_def(source: ModelSource, max_nodes: int) -> tuple[Any, str, str]:
    graph = inspect_policy_graph(read_graph_def(source.model.read_bytes(), max_nodes=max_nodes))
    try:
        frontend = _frontend("tf")
        model = frontend.load(str(source.model))
        model.override_all_inputs([model.get_place_by_tensor_name(graph.camera.name)])
        model.override_all_outputs([model.get_place_by_tensor_name(graph.output)])
        return frontend.convert(model), graph.camera.name, graph.output
    except Exception as exc:  # OpenVINO's GeneralFailure, OpConversionFailure, ...
        raise ModelError(f"OpenVINO cannot convert the graph: {_reason(exc)}") from exc


def _policy_output(model: Any) -> Any:
    """The one output, or the one named like rl_coach's policy head."""
    outputs = list(model.outputs)
    if len(outputs) == 1:
        return outputs[0]
    named = [o for o in outputs if any(n.split(":")[0].endswith("/policy") for n in o.get_names())]
    if len(named) == 1:
        return named[0]
    names = ", ".join(o.get_any_name() for o in outputs)
    raise ModelError(f"the network has {len(outputs)} outputs ({names}) and none is the policy")


def _camera_input(model: Any) -> Any:
    inputs = list(model.inputs)
    sensors = {i.get_any_name().split(":")[0].rsplit("/", 1)[-1] for i in inputs}
    missing = sorted(sensors & MISSING_SENSORS)
    if missing:
        raise ModelError(
            f"the network reads {', '.join(missing)}, but this car has a single front camera"
        )
    if len(inputs) != 1:
        names = ", ".join(i.get_any_name() for i in inputs)
        raise ModelError(f"the network must take exactly one camera image, it takes {names}")
    return inputs[0]


def _load(source: ModelSource, max_nodes: int) -> tuple[Any, str, str]:
    """The network as an OpenVINO model, its camera input and policy output names."""
    if source.format == "tensorflow":
        return _from_graph_def(source, max_nodes)
    try:
        if source.format == "tflite":
            frontend = _frontend("tflite")
            model = frontend.convert(frontend.load(str(source.model)))
        else:
            model = import_runtime().Core().read_model(str(source.model), str(source.weights))
    except Exception as exc:
        raise ModelError(f"OpenVINO cannot read {source.model.name}: {_reason(exc)}") from exc
    camera, policy = _camera_input(model), _policy_output(model)
    return model, camera.get_any_name(), policy.get_any_name()


def _named(ports: Any, name: str) -> Any:
    """The port called ``name``; TensorFlow's frontend calls tensors ``node:0``."""
    return next(p for p in ports if {name, f"{name}:0"} & set(p.get_names()))


def convert_to_ir(source: ModelSource, target: Path, *, max_nodes: int) -> Converted:
    """Write ``model.xml`` and ``model.bin`` for the policy into ``target``."""
    ov = import_runtime()
    model, input_name, output_name = _load(source, max_nodes)
    try:
        camera, policy = _named(model.inputs, input_name), _named(model.outputs, output_name)
        layout = layout_of(dims(camera.get_partial_shape()))
        parameter = camera.get_node()
        result = policy.get_node()
        if result.get_type_name() != "Result":
            raise ModelError(f"the policy output {output_name} is not a result of the network")
        kept = ov.Model([result], [parameter], "deepracer_policy")
        kept.reshape({kept.inputs[0]: list(LAYOUT_SHAPES[layout])})
        kept.inputs[0].get_tensor().set_names({input_name})
        kept.outputs[0].get_tensor().set_names({output_name})
        ov.save_model(kept, str(Path(target) / IR_MODEL), compress_to_fp16=False)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"OpenVINO cannot prepare the network: {_reason(exc)}") from exc
    return Converted(input_name, output_name, layout)
