"""Finding the model in an upload, and reading a frozen graph's facts, without converting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vehicle.core.metadata import ModelError
from vehicle.model.graphdef import GraphDef, inspect_policy_graph, read_graph_def
from vehicle.model.layout import find_model, model_file_source
from vehicle.model.samples import SampleExport, sample_kinds

META = json.dumps({"action_space": [{"steering_angle": 0, "speed": 1}]})


def files(root: Path, *names: str) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(META if name.endswith("model_metadata.json") else "x")
    return root


def test_physical_car_export_in_a_top_folder_with_leftovers(tmp_path):
    top = files(
        tmp_path,
        "racer/model_metadata.json",
        "racer/agent/model.pb",
        "racer/reward_function.py",
        "racer/model/model_metadata.json",  # a leftover copy, deeper: not the root
        "racer/ip/done.json",
    )
    found = find_model(top)
    assert (found.format, found.root, found.model) == (
        "tensorflow",
        top / "racer",
        top / "racer" / "agent" / "model.pb",
    )
    assert [found.relative(f) for f in found.files] == ["agent/model.pb", "model_metadata.json"]


def test_artifacts_layout_one_graph_at_the_root(tmp_path):
    found = find_model(files(tmp_path, "m/my-model.pb", "m/model_metadata.json", "m/checksum.txt"))
    assert found.model.name == "my-model.pb" and found.format == "tensorflow"


def test_the_original_wins_and_the_copies_are_named(tmp_path):
    found = find_model(
        files(
            tmp_path,
            "model_metadata.json",
            "agent/model.pb",
            "model.xml",
            "model.bin",
            "model.tflite",
        )
    )
    assert found.format == "tensorflow"
    assert found.ignored == ("model.tflite", "model.xml")


@pytest.mark.parametrize(
    "names, kind",
    [
        (("model.onnx",), "onnx"),
        (("model.tflite",), "tflite"),
        (("model.xml", "model.bin"), "openvino-ir"),
    ],
)
def test_each_format_alone(tmp_path, names, kind):
    found = find_model(files(tmp_path, "model_metadata.json", *names))
    assert found.format == kind
    assert found.weights == (tmp_path / "model.bin" if kind == "openvino-ir" else None)


REFUSED = {
    "no metadata": (("agent/model.pb",), "no model_metadata.json found"),
    "two metadata at one level": (
        ("a/model_metadata.json", "b/model_metadata.json", "a/model.pb"),
        r"more than one model found \(a/model_metadata\.json, b/model_metadata\.json\)",
    ),
    "no network": (("model_metadata.json", "notes.txt"), "no network beside model_metadata.json"),
    "IR without weights": (("model_metadata.json", "model.xml"), "no network beside"),
    "two graphs": (
        ("model_metadata.json", "agent/model.pb", "model.pb"),
        r"found 2 TensorFlow graphs \(\.pb\): agent/model\.pb, model\.pb; the car takes exactly",
    ),
    "two onnx": (("model_metadata.json", "a.onnx", "b.onnx"), r"found 2 ONNX models"),
    "graph outside the model's folder": (("m/model_metadata.json", "model.pb"), "no network"),
}


@pytest.mark.parametrize("names, reason", REFUSED.values(), ids=REFUSED.keys())
def test_what_cannot_be_told_apart_is_refused(tmp_path, names, reason):
    with pytest.raises(ModelError, match=reason):
        find_model(files(tmp_path, *names))


def test_symbolic_links_are_not_followed(tmp_path):
    files(tmp_path / "elsewhere", "model.pb")
    files(tmp_path / "up", "model_metadata.json")
    (tmp_path / "up" / "model.pb").symlink_to(tmp_path / "elsewhere" / "model.pb")
    with pytest.raises(ModelError, match="no network"):
        find_model(tmp_path / "up")


def test_a_network_file_finds_its_metadata_beside_or_one_folder_up(tmp_path):
    files(tmp_path, "model_metadata.json", "agent/model.pb", "lite/model.tflite")
    assert (
        model_file_source(tmp_path / "agent" / "model.pb").metadata
        == tmp_path / "model_metadata.json"
    )
    given = files(tmp_path, "other/meta.json") / "other" / "meta.json"
    assert model_file_source(tmp_path / "lite" / "model.tflite", given).metadata == given
    with pytest.raises(ModelError, match=r"notes\.txt is not a model file"):
        model_file_source(files(tmp_path, "notes.txt") / "notes.txt")
    with pytest.raises(ModelError, match=r"needs its weights, model\.bin"):
        model_file_source(files(tmp_path, "ir/model.xml") / "ir" / "model.xml", given)


# -- graph facts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind",
    [k for k in sample_kinds() if "stereo" not in k and "lidar" not in k],
)
def test_every_sample_has_its_policy_and_one_camera(kind, export_graph):
    sample = SampleExport.load(kind)
    facts = inspect_policy_graph(read_graph_def(export_graph(kind), max_nodes=1000))
    assert (facts.output, facts.camera.name) == (sample.output_name, sample.input_name)
    assert facts.algorithm == ("sac" if kind.startswith("sac") else "clipped_ppo")
    assert facts.camera.shape == (None, 120, 160, 1)


def test_a_policy_reading_an_unknown_input_is_refused(export_graph):
    graph = GraphDef()
    graph.ParseFromString(export_graph("ppo_discrete_tiny_camera"))
    for node in graph.node:
        if node.op == "Placeholder":
            node.name = "main_level/agent/main/online/network_0/speed/speed"
        node.input[:] = [
            "main_level/agent/main/online/network_0/speed/speed" if "FRONT_FACING" in i else i
            for i in node.input
        ]
    with pytest.raises(ModelError, match=r"must read exactly one camera input.*speed/speed"):
        inspect_policy_graph(graph)


def test_a_camera_of_the_wrong_shape_is_refused(export_graph):
    graph = GraphDef()
    graph.ParseFromString(export_graph("ppo_discrete_tiny_camera"))
    placeholder = next(n for n in graph.node if n.op == "Placeholder")
    placeholder.attr["shape"].shape.dim[1].size = 84
    with pytest.raises(ModelError, match=r"has shape \['\?', 84, 160, 1\]"):
        inspect_policy_graph(graph)
