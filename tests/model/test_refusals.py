"""Every model the car must refuse is refused with its reason, and nothing changes.

Each bad upload goes through the store as the console's would (the preparation worker,
then the rename into place) onto a store that already holds a good model; afterwards the
listing and every file under the models directory are exactly as before, and the
preparation cache holds no leftovers.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from onnx import TensorProto, helper, numpy_helper

from vehicle.config import ModelSettings
from vehicle.core.metadata import ModelError
from vehicle.model.graphdef import GraphDef
from vehicle.model.prepare import prepare
from vehicle.model.samples import SampleExport
from vehicle.model.store import ModelStore
from vehicle.model.synthetic import build_policy

TINY = "ppo_discrete_tiny_camera"
PPO = "main_level/agent/main/online/network_1/ppo_head_0/policy"
SAC = "main_level/agent/policy/online/network_0/sac_policy_head_0/policy"


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its checksum, and every folder."""
    found = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        found[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return found


@pytest.fixture(scope="module")
def good_store(tmp_path_factory, export_archive) -> Path:
    """A models directory with one good model (a DeepRacer export) installed."""
    models = tmp_path_factory.mktemp("car") / "models"
    ModelStore(models).install(export_archive(TINY), name="good")
    return models


@pytest.fixture
def store(tmp_path, good_store) -> ModelStore:
    """A copy of the good store for one test to try to break. It prepares in this process:
    the refusals are the preparation's; the worker's own limits are tested through it below."""
    return ModelStore(Path(shutil.copytree(good_store, tmp_path / "models")), prepare=prepare)


def refused(store: ModelStore, source: Path, reason: str, **kwargs) -> ModelError:
    listing, files = store.list(), tree(store.models_dir)
    with pytest.raises(ModelError, match=reason) as info:
        store.install(source, name=kwargs.pop("name", "good"), **kwargs)
    assert "\n" not in str(info.value)
    assert store.list() == listing
    assert tree(store.models_dir) == files
    return info.value


def with_metadata(write_export, kind: str, **changes) -> Path:
    metadata = {**SampleExport.load(kind).metadata, **changes}
    return write_export(kind, metadata=metadata, name="bad")


# -- sensors the car does not have ------------------------------------------------------


@pytest.mark.parametrize(
    "sensor, named",
    [(["STEREO_CAMERAS"], "STEREO_CAMERAS"), (["FRONT_FACING_CAMERA", "LIDAR"], "LIDAR")],
)
def test_stereo_and_lidar_models_are_refused_by_their_metadata(store, write_export, sensor, named):
    upload = with_metadata(write_export, TINY, sensor=sensor)
    refused(store, upload, f"needs {named}, but this car has a single front camera")


@pytest.mark.parametrize(
    "kind, named",
    [("ppo_discrete_tiny_stereo", "STEREO_CAMERAS"), ("ppo_discrete_tiny_lidar", "LIDAR")],
)
def test_stereo_and_lidar_graphs_are_refused_even_when_the_metadata_says_camera(
    store, write_export, kind, named
):
    upload = with_metadata(write_export, kind, sensor=["FRONT_FACING_CAMERA"])
    refused(
        store, upload, f"the graph's policy reads {named}, but this car has a single front camera"
    )


# -- archives and graphs ------------------------------------------------------------------


def test_an_archive_with_several_graphs_is_refused(store, write_export, tmp_path, export_graph):
    folder = write_export(TINY, archive=False, name="two")
    (folder / "model.pb").write_bytes(export_graph(TINY))
    archive = shutil.make_archive(str(tmp_path / "two"), "gztar", folder)
    refused(store, Path(archive), r"found 2 TensorFlow graphs \(\.pb\): agent/model\.pb, model\.pb")


def _onnx_bytes() -> bytes:
    return build_policy(10).SerializeToString()


@pytest.mark.parametrize(
    "content",
    [b"", b"node { name: 'x' op: 'Placeholder' }\n", os.urandom(4096), "truncated", "onnx"],
    ids=["empty", "text graph", "random bytes", "truncated", "an ONNX model"],
)
def test_a_pb_that_is_not_a_graph_def_is_refused(store, write_export, export_graph, content):
    if content == "truncated":
        content = export_graph(TINY)[: len(export_graph(TINY)) // 2]
    elif content == "onnx":
        content = _onnx_bytes()
    folder = write_export(TINY, archive=False, name="bad")
    (folder / "agent" / "model.pb").write_bytes(content)
    refused(store, folder, r"model\.pb is not a frozen TensorFlow graph \(GraphDef\)")


def test_a_graph_without_a_policy_output_is_refused_naming_what_was_looked_for(
    store, write_export, export_graph
):
    graph = GraphDef()
    graph.ParseFromString(export_graph(TINY))
    for node in graph.node:  # rename the head, as another algorithm (DQN) would name it
        if node.name == PPO:
            node.name = "main_level/agent/main/online/network_0/q_values_head_0/output"
    folder = write_export(TINY, archive=False, name="bad")
    (folder / "agent" / "model.pb").write_bytes(graph.SerializeToString())
    error = refused(store, folder, "the graph has no policy output")
    assert f"looked for {PPO} (PPO) and {SAC} (SAC)" in str(error)


# -- limits ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "limit, value, reason",
    [
        (
            "max_archive_bytes",
            1000,
            r"the archive racer-.*\.tar\.gz has [\d,]+ bytes; the limit is 1,000",
        ),
        (
            "max_model_bytes",
            100_000,
            r"the network file model\.pb has [\d,]+ bytes; the limit is 100,000",
        ),
        ("max_extracted_bytes", 100_000, "archive expands to more than"),
        ("max_archive_members", 3, "archive has more than 3 entries"),
        ("max_graph_nodes", 20, "the graph has 56 operations; the limit is 20"),
    ],
)
def test_size_limits(store, write_export, limit, value, reason):
    """(A new upload: the good one is in the cache, prepared once, and would stay a hit.)"""
    small = ModelStore(store.models_dir, ModelSettings(**{limit: value}), prepare=prepare)
    refused(small, write_export(TINY), reason, name="other")


def test_a_preparation_that_takes_too_long_is_stopped(store, write_export):
    slow = ModelStore(store.models_dir, ModelSettings(prepare_timeout_s=0.05))
    refused(slow, write_export(TINY), r"took longer than 0\.05 s; stopped", name="other")


def test_a_preparation_that_needs_too_much_memory_is_refused(store, write_export):
    """The worker's address space is capped; running out is an error, not a crash."""
    hungry = ModelStore(store.models_dir, ModelSettings(prepare_memory_mb=200))
    refused(hungry, write_export(TINY), "more memory than its limit|may need more than 200 MB")


# -- ONNX external data ---------------------------------------------------------------------


@pytest.mark.parametrize("location", ["/etc/hostname", "weights.bin", "../../../etc/passwd"])
def test_onnx_with_external_data_is_refused_whether_or_not_the_file_exists(
    store, make_bundle, location
):
    model = build_policy(15)
    weight = next(t for t in model.graph.initializer if t.name == "dense1_w")
    weight.ClearField("raw_data")
    weight.ClearField("float_data")
    weight.data_location = TensorProto.EXTERNAL
    weight.external_data.add(key="location", value=location)
    bundle = make_bundle("external", model=model.SerializeToString())
    (bundle / "weights.bin").write_bytes(b"\0" * 64)
    refused(store, bundle, r"model\.onnx keeps weights in external files \(dense1_w\)")


def test_external_data_in_a_constant_node_is_refused_too(store, make_bundle):
    model = build_policy(15)
    tensor = numpy_helper.from_array(numpy_helper.to_array(model.graph.initializer[0]), "c")
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="/etc/hostname")
    model.graph.node.insert(0, helper.make_node("Constant", [], ["unused"], value=tensor))
    bundle = make_bundle("external", model=model.SerializeToString())
    refused(store, bundle, "keeps weights in external files")


def test_nothing_is_left_in_the_preparation_cache(store, write_export):
    upload = with_metadata(write_export, TINY, sensor=["STEREO_CAMERAS"])
    with pytest.raises(ModelError):
        store.install(upload, name="bad")
    assert not [p for p in store.cache_dir.iterdir() if p.name.startswith(".")]


def test_json_metadata_that_is_not_a_model_is_refused(store, write_export):
    folder = write_export(TINY, archive=False, name="bad")
    (folder / "model_metadata.json").write_text(json.dumps({"action_space": []}))
    refused(store, folder, "non-empty list")
