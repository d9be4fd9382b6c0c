"""ModelStore: prepared installs renamed into place, atomic replacement, safe names."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
import time
from pathlib import Path

import pytest

from vehicle.core.metadata import ModelError, load_metadata
from vehicle.model import store as store_module
from vehicle.model.prepare import prepare
from vehicle.model.store import ModelStore, describe_bundle
from vehicle.model.synthetic import build_policy


@pytest.fixture
def store(tmp_path):
    """The store's own logic, preparing in this process (the worker is tested elsewhere)."""
    return ModelStore(tmp_path / "models", prepare=prepare)


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of an installed model, by path inside it."""
    return {
        f.relative_to(folder).as_posix(): f.read_bytes()
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def _visible(store):
    """What the models folder shows besides the preparation cache."""
    return sorted(p.name for p in store.models_dir.iterdir() if p.name != ".prepared")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_install_from_a_folder_and_list(store, bundle):
    assert store.install(bundle) == "sample"
    (info,) = store.list()
    assert (info.name, info.state, info.format, info.engine, info.error) == (
        "sample",
        "ready",
        "onnx",
        "onnxruntime",
        None,
    )
    assert (info.action_space_type, info.action_count) == ("discrete", 15)
    files = _snapshot(store.path("sample"))
    assert info.size_bytes == sum(len(data) for data in files.values())
    assert info.mtime <= time.time()
    assert files["model.onnx"] == (bundle / "model.onnx").read_bytes()
    assert files["source/model.onnx"] == (bundle / "model.onnx").read_bytes()
    assert sorted(files) == [
        "model.onnx",
        "model_metadata.json",
        "prepared.json",
        "source/model.onnx",
        "source/model_metadata.json",
    ]
    assert _visible(store) == ["sample"]  # no staging left behind


def test_install_from_an_archive_with_a_subfolder(store, tmp_path, bundle, tar_bundle):
    archive = tar_bundle(tmp_path / "racer.tar.gz", bundle, prefix="racer/")
    assert store.install(archive) == "racer"
    (info,) = store.list()
    assert info.sha256 == _sha256(archive)  # what the racer can check against their file
    assert _snapshot(store.path("racer"))["model.onnx"] == (bundle / "model.onnx").read_bytes()


def test_install_a_deepracer_export(store, export_archive):
    archive = export_archive("ppo_discrete_tiny_camera")
    assert store.install(archive, name="racer") == "racer"
    (info,) = store.list()
    assert (info.state, info.format, info.engine, info.sha256) == (
        "ready",
        "tensorflow",
        "openvino",
        _sha256(archive),
    )
    files = _snapshot(store.path("racer"))
    assert {"model.xml", "model.bin", "source/agent/model.pb"} <= set(files)
    assert not [f for f in files if "reward_function" in f or f.startswith("source/ip")]


def test_the_same_upload_again_is_prepared_once(store, export_archive, monkeypatch):
    archive = export_archive("ppo_discrete_tiny_camera")
    store.install(archive, name="first")
    prepared = {p.name: p.stat().st_mtime_ns for p in store.cache_dir.iterdir()}
    started = time.monotonic()
    store.install(archive, name="second")
    assert time.monotonic() - started < 5.0  # a cache hit, not a conversion (about 1 s)
    assert {
        p.name: p.stat().st_mtime_ns for p in store.cache_dir.iterdir()
    }.keys() == prepared.keys()
    assert _snapshot(store.path("first")) == _snapshot(store.path("second"))
    assert [i.sha256 for i in store.list()] == [_sha256(archive)] * 2


def test_install_an_upload_saved_under_a_temporary_name(store, tmp_path, bundle, tar_bundle):
    upload = tar_bundle(tmp_path / "tmpab12cd", bundle)
    assert store.install(upload, name="uploaded") == "uploaded"
    assert store.path("uploaded").is_dir()


def test_install_the_two_files(store, tmp_path, bundle):
    meta = tmp_path / "elsewhere.json"
    meta.write_bytes((bundle / "model_metadata.json").read_bytes())
    (bundle / "model_metadata.json").unlink()
    with pytest.raises(ModelError, match=r"no model_metadata\.json beside model\.onnx"):
        store.install(bundle / "model.onnx")
    assert store.install(bundle / "model.onnx", metadata=meta) == "sample"
    assert _snapshot(store.path("sample"))["model_metadata.json"] == meta.read_bytes()
    assert _snapshot(store.path("sample"))["source/elsewhere.json"] == meta.read_bytes()


def test_continuous_models_have_no_action_count(store, make_bundle):
    data = Path(__file__).resolve().parents[1] / "data" / "continuous.model_metadata.json"
    store.install(make_bundle("cont", metadata=data))
    (info,) = store.list()
    assert (info.action_space_type, info.action_count) == ("continuous", None)


def test_a_bundle_outside_the_store_is_described_by_its_folder_or_archive(
    tmp_path, bundle, tar_bundle
):
    metadata = load_metadata(bundle / "model_metadata.json")
    (bundle / "README.md").write_text("how it was trained")
    folder = describe_bundle("default", bundle, metadata)
    assert (folder.name, folder.action_space_type, folder.action_count, folder.bundled) == (
        "default",
        "discrete",
        15,
        False,
    )
    assert folder.size_bytes == sum(f.stat().st_size for f in bundle.iterdir())
    archive = tar_bundle(tmp_path / "shipped.tar.gz", bundle)
    packed = describe_bundle("shipped", archive, metadata)
    assert (packed.size_bytes, packed.mtime) == (archive.stat().st_size, archive.stat().st_mtime)
    assert packed.action_count == 15


def test_exchange_swaps_two_folders(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "from-a").touch()
    if not store_module._exchange(a, b):
        pytest.skip("no renameat2(RENAME_EXCHANGE) on this kernel or filesystem")
    assert [p.name for p in b.iterdir()] == ["from-a"]
    assert list(a.iterdir()) == []


def test_replacing_a_model_swaps_it_whole(store, make_bundle):
    store.install(make_bundle("v1"), name="racer")
    new = make_bundle("v2", model=build_policy(15, seed=7))
    store.install(new, name="racer")
    assert _snapshot(store.path("racer"))["model.onnx"] == (new / "model.onnx").read_bytes()
    assert _visible(store) == ["racer"]


def test_replacement_without_an_atomic_exchange(store, make_bundle, monkeypatch):
    monkeypatch.setattr(store_module, "_exchange", lambda a, b: False)
    store.install(make_bundle("v1"), name="racer")
    new = make_bundle("v2", model=build_policy(15, seed=7))
    store.install(new, name="racer")
    assert _snapshot(store.path("racer"))["model.onnx"] == (new / "model.onnx").read_bytes()
    assert _visible(store) == ["racer"]


def test_fallback_replacement_restores_the_old_model_if_the_new_rename_fails(
    store, make_bundle, monkeypatch
):
    store.install(make_bundle("v1"), name="racer")
    before = _snapshot(store.path("racer"))
    monkeypatch.setattr(store_module, "_exchange", lambda a, b: False)
    real_rename = os.rename

    def rename(src, dst):
        if str(src).endswith("bundle"):  # the new bundle moving into place
            raise OSError(28, "No space left on device")
        real_rename(src, dst)

    monkeypatch.setattr(store_module.os, "rename", rename)
    with pytest.raises(OSError, match="No space"):
        store.install(make_bundle("v2", model=build_policy(15, seed=7)), name="racer")
    monkeypatch.setattr(store_module.os, "rename", real_rename)
    assert _snapshot(store.path("racer")) == before
    assert _visible(store) == ["racer"]


BAD_REPLACEMENTS = {
    "wrong output count": ({"model": build_policy(10)}, "10 outputs"),
    "stereo": (
        {
            "metadata": {
                "action_space": [{"steering_angle": 0, "speed": 1}],
                "sensor": ["STEREO_CAMERAS"],
            }
        },
        "STEREO_CAMERAS",
    ),
    "not onnx": ({"model": b"garbage"}, "not a valid ONNX"),
    "text metadata": ({"metadata": {"action_space": "many"}}, "non-empty list"),
}


@pytest.mark.parametrize("kwargs, reason", BAD_REPLACEMENTS.values(), ids=BAD_REPLACEMENTS.keys())
def test_a_failed_install_leaves_the_old_model_intact(store, make_bundle, kwargs, reason):
    store.install(make_bundle("good"), name="racer")
    before = _snapshot(store.path("racer"))
    with pytest.raises(ModelError, match=reason):
        store.install(make_bundle("bad", **kwargs), name="racer")
    assert _snapshot(store.path("racer")) == before
    assert _visible(store) == ["racer"]


def test_a_hostile_archive_installs_nothing(store, tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../../escape")
        tar.addfile(info)
    with pytest.raises(ModelError, match="outside the archive"):
        store.install(archive)
    assert _visible(store) == []
    assert not (tmp_path / "escape").exists()


@pytest.mark.parametrize(
    "name",
    [
        *("../evil", "..", ".hidden", "a/b", "a\\b", "", "x" * 101, "a\nb", "trailing "),
        *("-dash", "naïve", "$(rm)", "a;b", 7, None),
    ],
)
def test_invalid_names_are_refused_everywhere(store, bundle, name):
    if name is not None:
        with pytest.raises(ModelError, match="invalid model name"):
            store.install(bundle, name=name)
    with pytest.raises(ModelError, match="invalid model name"):
        store.delete(name)
    with pytest.raises(ModelError, match="invalid model name"):
        store.path(name)
    assert _visible(store) == []


def test_a_folder_name_that_is_not_a_model_name_needs_an_explicit_name(store, make_bundle):
    folder = make_bundle("my model;")
    with pytest.raises(ModelError, match="invalid model name 'my model;'"):
        store.install(folder)
    assert store.install(folder, name="my-model") == "my-model"


@pytest.mark.parametrize("name", ["My model (1)", "physicalmodel-Fast_v2.3", "a", "_x", "x" * 100])
def test_names_racers_give_their_files_are_kept(store, bundle, name):
    assert store.install(bundle, name=name) == name
    assert [info.name for info in store.list()] == [name]
    store.delete(name)


def test_missing_source(store, tmp_path):
    with pytest.raises(ModelError, match="no such model file or folder"):
        store.install(tmp_path / "nothing", name="x")
    assert _visible(store) == []


def test_delete(store, bundle):
    store.install(bundle)
    store.delete("sample")
    assert store.list() == []
    assert _visible(store) == []
    with pytest.raises(ModelError, match="no model named 'sample'"):
        store.delete("sample")
    with pytest.raises(ModelError, match="no model named"):
        store.path("sample")


def test_list_reports_broken_models_instead_of_failing(store, bundle):
    store.install(bundle, name="good")
    broken = store.models_dir / "broken"
    broken.mkdir()
    (broken / "model_metadata.json").write_text(json.dumps({"action_space": []}))
    legacy = store.models_dir / "legacy"  # installed before models were prepared
    legacy.mkdir()
    for name in ("model.onnx", "model_metadata.json"):
        (legacy / name).write_bytes((bundle / name).read_bytes())
    truncated = store.models_dir / "truncated"
    store.install(bundle, name="truncated")
    (truncated / "model.onnx").unlink()  # bundles are never written in place: they share
    (truncated / "model.onnx").write_bytes(b"")  # their files with the cache (hard links)
    (store.models_dir / ".install-inprogress").mkdir()
    (store.models_dir / "stray.txt").write_text("x")
    infos = {i.name: i for i in store.list()}
    assert sorted(infos) == ["broken", "good", "legacy", "truncated"]
    assert (infos["good"].state, infos["good"].error) == ("ready", None)
    assert infos["broken"].state == "error"
    assert "not a prepared model" in infos["broken"].error
    assert infos["broken"].action_space_type is None
    assert infos["legacy"].error.startswith("installed by an older version")
    assert infos["legacy"].action_count == 15
    assert "model.onnx has 0 bytes, not" in infos["truncated"].error


def test_stale_staging_is_cleaned_at_start_and_fresh_staging_kept(tmp_path):
    models = tmp_path / "models"
    stale, fresh = models / ".install-old", models / ".install-new"
    for folder in (stale, fresh):
        folder.mkdir(parents=True)
        (folder / "model.onnx").write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    ModelStore(models)
    assert not stale.exists()
    assert fresh.exists()
