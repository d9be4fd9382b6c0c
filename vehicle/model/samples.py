"""DeepRacer-layout sample exports, rebuilt byte for byte without TensorFlow.

Tests and the bench need real frozen graphs of the kinds racers upload (PPO discrete and
continuous, SAC; the shallow, standard and deep topologies; both sensor names), but
TensorFlow is not installed in CI or on the car, and full-size graphs are tens of MB. So
``models/samples/make_samples.py`` (run once with TensorFlow) builds them the way rl_coach
does, fills every weight from a seeded recipe, freezes them, and commits a *skeleton*: the
frozen GraphDef with every large weight's bytes zeroed (it compresses to a few kB) and a
manifest saying where each one goes. Rebuilding writes the recipe's values back at those
offsets and checks the whole file against TensorFlow's sha256.

The recipe uses only a bit generator's raw output (PCG64, whose stream numpy keeps stable),
so the values do not depend on the numpy version.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

SAMPLES_PACKAGE = "vehicle.model"
SAMPLES_FOLDER = "sample_exports"


def recipe_values(seed: int, count: int, scale: float) -> np.ndarray:
    """``count`` float32 values uniform in [-scale, scale), the same on every machine."""
    raw = np.random.PCG64(seed).random_raw(count) >> np.uint64(40)  # 24 random bits
    values = raw.astype("<f4")  # exact: 24 bits fit a float32's mantissa
    values *= np.float32(2.0 * scale / 2**24)
    values -= np.float32(scale)
    return values


@dataclass(frozen=True)
class Fill:
    """One weight tensor's bytes: where they go in the GraphDef and how to make them."""

    offset: int
    count: int
    seed: int
    scale: float


@dataclass(frozen=True)
class SampleExport:
    kind: str
    input_name: str
    output_name: str
    metadata: dict[str, Any]
    fills: tuple[Fill, ...]
    size: int
    sha256: str

    @classmethod
    def load(cls, kind: str) -> SampleExport:
        data = json.loads(_resource(f"{kind}.json").read_text())
        fills = tuple(Fill(**fill) for fill in data["fills"])
        return cls(
            kind,
            data["input"],
            data["output"],
            data["metadata"],
            fills,
            data["size"],
            data["sha256"],
        )

    def graph_bytes(self) -> bytes:
        """The frozen GraphDef exactly as TensorFlow wrote it."""
        graph = bytearray(gzip.decompress(_resource(f"{self.kind}.pb.gz").read_bytes()))
        for fill in self.fills:
            values = recipe_values(fill.seed, fill.count, fill.scale).tobytes()
            graph[fill.offset : fill.offset + len(values)] = values
        if len(graph) != self.size or hashlib.sha256(graph).hexdigest() != self.sha256:
            raise ValueError(f"sample export {self.kind} did not rebuild to TensorFlow's bytes")
        return bytes(graph)

    def write_physical_export(self, directory: Path) -> Path:
        """The physical-car layout: ``agent/model.pb`` and ``model_metadata.json``."""
        directory = Path(directory)
        (directory / "agent").mkdir(parents=True, exist_ok=True)
        (directory / "agent" / "model.pb").write_bytes(self.graph_bytes())
        (directory / "model_metadata.json").write_text(json.dumps(self.metadata, indent=2))
        return directory


def _resource(name: str) -> Any:
    return resources.files(SAMPLES_PACKAGE).joinpath(SAMPLES_FOLDER, name)


def sample_kinds() -> list[str]:
    """Every committed sample, by name (``ppo_discrete_shallow_observation``, ...)."""
    folder = resources.files(SAMPLES_PACKAGE).joinpath(SAMPLES_FOLDER)
    return sorted(
        entry.name.removesuffix(".json")
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    )
