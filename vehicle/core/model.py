"""Open a model for driving: metadata, session, preprocessor.

The drive process never validates or converts a model: the service (in its preparation
worker, ``vehicle.model.prepare``) has prepared it before telling the drive to use it, and
``open_prepared`` reads what was prepared. The one exception is an ONNX bundle the package
itself ships (``models/default``) or the bench builds: trusted files in our own format,
opened as they are by onnxruntime, with the same cheap checks of the session.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vehicle.core.metadata import METADATA_FILE, ModelError, ModelMetadata, load_metadata
from vehicle.core.policy import Policy, open_prepared
from vehicle.core.prepared import PREPARED_FILE
from vehicle.core.preprocess import Preprocessor

ONNX_FILE = "model.onnx"


@dataclass(frozen=True)
class LoadedModel:
    name: str
    directory: Path  # where the model was read from (what was given, for a prepared one)
    metadata: ModelMetadata
    policy: Policy
    preprocessor: Preprocessor


def _open_onnx_bundle(directory: Path, threads: int) -> tuple[ModelMetadata, Policy]:
    from vehicle.core.onnxruntime_policy import OnnxRuntimePolicy

    for required in (METADATA_FILE, ONNX_FILE):
        if not (directory / required).is_file():
            raise ModelError(f"{directory.name or directory}: {required} is missing")
    metadata = load_metadata(directory / METADATA_FILE)
    policy = OnnxRuntimePolicy(
        directory / ONNX_FILE, metadata.action_space.n_outputs, threads=threads
    )
    return metadata, policy


def open_model(directory: Path, name: str, *, threads: int = 1) -> LoadedModel:
    """The prepared bundle (or shipped ONNX bundle) in ``directory``, opened for driving."""
    directory = Path(directory)
    if (directory / PREPARED_FILE).is_file() or not (directory / ONNX_FILE).is_file():
        metadata, policy = open_prepared(directory, threads=threads)
    else:
        metadata, policy = _open_onnx_bundle(directory, threads)
    return LoadedModel(name, directory, metadata, policy, Preprocessor(policy.layout))
