"""``vehicle model import``: what can be checked without TensorFlow installed."""

from __future__ import annotations

import importlib.util
import json
import tarfile
from pathlib import Path

import pytest

from vehicle.core.metadata import ModelError
from vehicle.model.tf_import import import_tensorflow_model

DATA = Path(__file__).resolve().parents[1] / "data"


def _tf_archive(path: Path, metadata: dict | None, graph: bytes | None = b"\x0a\x00") -> Path:
    src = path.parent / "src"
    (src / "agent").mkdir(parents=True)
    if graph is not None:
        (src / "agent" / "model.pb").write_bytes(graph)
    if metadata is not None:
        (src / "model_metadata.json").write_text(json.dumps(metadata))
    with tarfile.open(path, "w:gz") as tar:
        for f in sorted(src.rglob("*")):
            tar.add(f, arcname=str(f.relative_to(src)), recursive=False)
    return path


SAMPLE = json.loads((DATA / "sample_single_cam.model_metadata.json").read_text())


@pytest.mark.skipif(
    importlib.util.find_spec("tf2onnx") is not None, reason="tf2onnx is installed here"
)
def test_missing_converter_is_a_clear_error(tmp_path):
    archive = _tf_archive(tmp_path / "m.tar.gz", SAMPLE)
    with pytest.raises(ModelError, match="needs tensorflow-cpu and tf2onnx"):
        import_tensorflow_model(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_stereo_model_is_refused_before_converting(tmp_path):
    stereo = {**SAMPLE, "sensor": ["STEREO_CAMERAS"]}
    with pytest.raises(ModelError, match="STEREO_CAMERAS"):
        import_tensorflow_model(_tf_archive(tmp_path / "m.tar.gz", stereo), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("metadata, graph", [(SAMPLE, None), (None, b"\x0a\x00")])
def test_archive_without_the_two_files(tmp_path, metadata, graph):
    archive = _tf_archive(tmp_path / "m.tar.gz", metadata, graph)
    with pytest.raises(ModelError, match=r"expected one model\.pb and one model_metadata\.json"):
        import_tensorflow_model(archive, tmp_path / "out")


def test_output_must_be_new_or_empty(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ModelError, match="not empty"):
        import_tensorflow_model(_tf_archive(tmp_path / "m.tar.gz", SAMPLE), out)
    assert (out / "keep.txt").read_text() == "mine"
