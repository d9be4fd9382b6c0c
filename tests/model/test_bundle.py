"""load_bundle: any accepted model, prepared in the worker and opened as the drive opens it."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pytest

from vehicle.core.metadata import ModelError
from vehicle.model.bundle import load_bundle, strip_archive_suffix
from vehicle.model.synthetic import build_policy

DATA = Path(__file__).resolve().parents[1] / "data"


def test_folder_bundle(bundle):
    loaded = load_bundle(bundle)
    assert loaded.name == "sample"
    assert loaded.directory == bundle
    assert loaded.metadata.action_space.n_outputs == 15
    assert loaded.preprocessor.layout == loaded.policy.layout == "NHWC"
    out = loaded.policy.run(loaded.preprocessor(np.zeros((480, 640, 3), np.uint8)))
    assert out.shape == (15,)


def test_bundle_in_a_subfolder(tmp_path, make_bundle):
    make_bundle("outer/inner")
    loaded = load_bundle(tmp_path / "outer")
    assert loaded.name == "outer"
    assert loaded.directory == tmp_path / "outer"


def test_archive_bundle_is_prepared_then_cleaned_up(tmp_path, bundle, tar_bundle, monkeypatch):
    archive = tar_bundle(tmp_path / "racer-model.tar.gz", bundle, prefix="model/")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))  # where it is prepared, uncached
    loaded = load_bundle(archive)
    assert loaded.name == "racer-model"
    assert loaded.directory == archive
    assert loaded.policy.run(loaded.preprocessor.tensor).shape == (15,)
    assert list(scratch.iterdir()) == []


def test_archive_detected_by_content_under_any_name(tmp_path, bundle, tar_bundle):
    archive = tar_bundle(tmp_path / "upload-1234", bundle)
    assert load_bundle(archive).metadata.action_space.n_outputs == 15


def test_nchw_bundle_gets_an_nchw_preprocessor(make_bundle):
    loaded = load_bundle(make_bundle(model=build_policy(15, layout="NCHW")))
    assert loaded.preprocessor.tensor.shape == (1, 1, 120, 160)


def test_continuous_bundle(make_bundle):
    meta = json.loads(
        (
            __import__("pathlib").Path(__file__).parents[1]
            / "data"
            / "continuous.model_metadata.json"
        ).read_text()
    )
    loaded = load_bundle(make_bundle(metadata=meta))
    assert loaded.metadata.action_space.type == "continuous"


def test_a_cache_prepares_once(tmp_path, export_archive):
    archive = export_archive("ppo_discrete_tiny_camera")
    first = load_bundle(archive, cache_dir=tmp_path / "cache")
    (entry,) = (tmp_path / "cache").iterdir()
    stamp = (entry / "prepared.json").stat().st_mtime_ns
    second = load_bundle(archive, cache_dir=tmp_path / "cache")
    assert (entry / "prepared.json").stat().st_mtime_ns == stamp  # not prepared again
    assert (first.name, second.name) == ("racer-ppo_discrete_tiny_camera",) * 2
    assert second.policy.engine == "openvino"


def test_a_prepared_bundle_opens_directly(tmp_path, export_archive):
    load_bundle(export_archive("ppo_discrete_tiny_camera"), cache_dir=tmp_path / "cache")
    (entry,) = (tmp_path / "cache").iterdir()
    loaded = load_bundle(entry)
    assert loaded.directory == entry and loaded.metadata.action_space.n_outputs == 10


BAD = {
    "missing onnx": ("model.onnx", None, "no network beside model_metadata.json"),
    "metadata/model mismatch": ("model.onnx", build_policy(10).SerializeToString(), "10 outputs"),
    "stereo metadata": (
        "model_metadata.json",
        json.dumps(
            {"action_space": [{"steering_angle": 0, "speed": 1}], "sensor": ["STEREO_CAMERAS"]}
        ),
        "STEREO_CAMERAS",
    ),
    "broken json": ("model_metadata.json", "{", "not valid JSON"),
}


@pytest.mark.parametrize("file, content, reason", BAD.values(), ids=BAD.keys())
def test_bad_bundles(bundle, file, content, reason):
    target = bundle / file
    if content is None:
        target.unlink()
    elif isinstance(content, bytes):
        target.write_bytes(content)
    else:
        target.write_text(content)
    with pytest.raises(ModelError, match=reason):
        load_bundle(bundle)


def test_paths_that_are_not_bundles(tmp_path):
    with pytest.raises(ModelError, match="no such model"):
        load_bundle(tmp_path / "nothing")
    stray = tmp_path / "notes.txt"
    stray.write_text("hello")
    with pytest.raises(ModelError, match=r"notes\.txt is not a model file"):
        load_bundle(stray)
    fake = tmp_path / "fake.tar.gz"
    fake.write_text("hello")
    with pytest.raises(ModelError, match="not a readable"):
        load_bundle(fake)


def test_an_empty_folder_is_named_and_called_empty(tmp_path):
    empty = tmp_path / "my model"
    empty.mkdir()
    with pytest.raises(ModelError) as info:
        load_bundle(empty)
    assert str(info.value).startswith(f"{empty}: the folder is empty; no model_metadata.json")


def test_a_folder_without_a_bundle_is_named(tmp_path):
    folder = tmp_path / "downloads"
    (folder / "notes").mkdir(parents=True)
    (folder / "notes" / "readme.txt").write_text("hello")
    with pytest.raises(ModelError) as info:
        load_bundle(folder)
    assert str(info.value).startswith(f"{folder}: no model_metadata.json found; expected it")


def test_an_archive_without_a_bundle_is_named_not_its_extracted_copy(tmp_path, tar_bundle):
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"only half a bundle")
    archive = tar_bundle(tmp_path / "half.tar.gz", folder)
    with pytest.raises(ModelError) as info:
        load_bundle(archive)
    assert str(info.value).startswith(f"{archive}: no model_metadata.json found;")
    assert "extract" not in str(info.value)


@pytest.mark.parametrize(
    "filename, name",
    [
        ("a.tar.gz", "a"),
        ("B.TGZ", "B"),
        ("c.tar", "c"),
        ("d.onnx", "d.onnx"),
        ("e.TAR.GZ", "e"),
        ("x.y.tar.gz", "x.y"),
    ],
)
def test_strip_archive_suffix(filename, name):
    assert strip_archive_suffix(filename) == name
