"""Bundles built on the fly from synthetic networks and DeepRacer's real metadata files."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path

import onnx
import pytest

from vehicle.model.synthetic import build_policy

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE_METADATA = DATA / "sample_single_cam.model_metadata.json"  # 15 discrete actions


def write_bundle(
    directory: Path,
    metadata: dict | Path = SAMPLE_METADATA,
    model: onnx.ModelProto | bytes | None = None,
) -> Path:
    """A bundle folder; the network defaults to one matching the metadata's action count."""
    directory.mkdir(parents=True, exist_ok=True)
    if isinstance(metadata, Path):
        metadata = json.loads(metadata.read_text())
    (directory / "model_metadata.json").write_text(json.dumps(metadata))
    if model is None:
        space = metadata["action_space"]
        n = 2 if metadata.get("action_space_type") == "continuous" else len(space)
        model = build_policy(n, head="tanh" if n == 2 and isinstance(space, dict) else "softmax")
    data = model if isinstance(model, bytes) else model.SerializeToString()
    (directory / "model.onnx").write_bytes(data)
    return directory


def tar_bundle(archive: Path, bundle: Path, prefix: str = "") -> Path:
    """Pack a bundle folder's files into a .tar.gz, optionally under a subfolder."""
    with tarfile.open(archive, "w:gz") as tar:
        for f in sorted(bundle.iterdir()):
            tar.add(f, arcname=f"{prefix}{f.name}")
    return archive


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A valid bundle: the factory sample's metadata and a matching 15-output network."""
    return write_bundle(tmp_path / "sample")


@pytest.fixture
def make_bundle(tmp_path: Path) -> Callable[..., Path]:
    def make(name: str = "b", **kwargs) -> Path:
        return write_bundle(tmp_path / name, **kwargs)

    return make


def run_model_cli(argv: list[str]) -> int:
    """``vehicle [--data-dir D] model ...`` as vehicle.cli.main dispatches it (errors raise,
    so tests see the exception main() would turn into exit status 1)."""
    import argparse

    from vehicle.cli.model import register
    from vehicle.config import load_settings

    parser = argparse.ArgumentParser(prog="vehicle")
    parser.add_argument("--data-dir", type=Path)
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args, load_settings(data_dir=args.data_dir))


@pytest.fixture(name="model_cli")
def model_cli_fixture() -> Callable[[list[str]], int]:
    return run_model_cli


# As a fixture: with --import-mode=importlib test modules cannot import conftest.
@pytest.fixture(name="tar_bundle")
def tar_bundle_fixture() -> Callable[..., Path]:
    return tar_bundle


# -- DeepRacer exports: rebuilt from the committed skeletons (vehicle.model.samples) -------

TF_REFERENCE = DATA / "deepracer" / "tf_outputs.json"
FRAMES = DATA / "frames"
TINY_TFLITE = DATA / "deepracer" / "tiny"
LEFTOVERS = {  # what a DeepRacer console download carries beside the model
    "reward_function.py": b"def reward_function(params):\n    return 1.0\n",
    "hyperparameters.json": b'{"batch_size": 64, "lr": 0.0003}\n',
    "ip/ip.json": b'{"IP": "10.0.0.1"}\n',
    "model/model_7.ckpt.index": b"\x00checkpoint index\x00",
    "model/.coach_checkpoint": b"7_Step-1000.ckpt\n",
}


def tar_tree(archive: Path, folder: Path, prefix: str = "") -> Path:
    """Pack every file under ``folder`` into a .tar.gz, optionally under a top folder."""
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:  # weights barely compress
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                tar.add(f, arcname=f"{prefix}{f.relative_to(folder).as_posix()}")
    return archive


@pytest.fixture(scope="session")
def export_graph() -> Callable[[str], bytes]:
    """A sample's frozen graph, rebuilt once per test session (the largest is 110 MB)."""
    from vehicle.model.samples import SampleExport

    cache: dict[str, bytes] = {}

    def graph(kind: str) -> bytes:
        if kind not in cache:
            cache[kind] = SampleExport.load(kind).graph_bytes()
        return cache[kind]

    return graph


@pytest.fixture(scope="session")
def tf_reference() -> dict:
    """TensorFlow's own outputs, per sample and frame (models/samples/make_samples.py)."""
    return json.loads(TF_REFERENCE.read_text())["outputs"]


def _export_writer(base: Path, export_graph) -> Callable[..., Path]:
    """A DeepRacer export of a sample, in one of the layouts racers have them.

    ``physical``: agent/model.pb + model_metadata.json in a top folder with training
    leftovers; ``artifacts``: the car's layout, one .pb at the root and checksum.txt.
    ``archive=True`` packs it as a .tar.gz, as downloaded.
    """
    from vehicle.model.samples import SampleExport

    def write(
        kind: str,
        layout: str = "physical",
        *,
        archive: bool = True,
        metadata: dict | None = None,
        name: str = "racer",
    ) -> Path:
        folder = base / f"{name}-{kind}-{layout}"
        graph = export_graph(kind)
        meta = metadata if metadata is not None else SampleExport.load(kind).metadata
        if layout == "physical":
            (folder / "agent").mkdir(parents=True)
            (folder / "agent" / "model.pb").write_bytes(graph)
            for leftover, data in LEFTOVERS.items():
                (folder / leftover).parent.mkdir(parents=True, exist_ok=True)
                (folder / leftover).write_bytes(data)
        elif layout == "artifacts":
            folder.mkdir(parents=True)
            (folder / f"{name}.pb").write_bytes(graph)
            (folder / "checksum.txt").write_text("0123456789abcdef\n")
        else:
            raise ValueError(layout)
        (folder / "model_metadata.json").write_text(json.dumps(meta))
        if not archive:
            return folder
        return tar_tree(base / f"{name}-{kind}.tar.gz", folder, prefix=f"{name}/")

    return write


@pytest.fixture
def write_export(tmp_path: Path, export_graph) -> Callable[..., Path]:
    return _export_writer(tmp_path, export_graph)


@pytest.fixture(scope="session")
def export_archive(tmp_path_factory, export_graph) -> Callable[[str], Path]:
    """The physical-car .tar.gz of a sample, written once per session (same bytes, so
    the same checksum: a car that prepared it once finds it in its cache)."""
    write = _export_writer(tmp_path_factory.mktemp("exports"), export_graph)
    archives: dict[str, Path] = {}

    def archive(kind: str) -> Path:
        if kind not in archives:
            archives[kind] = write(kind)
        return archives[kind]

    return archive
