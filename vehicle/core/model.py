"""Open a model bundle the service has already checked: metadata, session, preprocessor.

The drive process never validates or converts a model: the service (or its worker) has
checked the bundle before telling the drive to use it. What happens here is what driving
needs (the session, the input buffer, the action space), plus the cheap checks of the
session itself that guard the outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vehicle.core.metadata import METADATA_FILE, ModelError, ModelMetadata, load_metadata
from vehicle.core.policy import Policy
from vehicle.core.preprocess import Preprocessor

ONNX_FILE = "model.onnx"


@dataclass(frozen=True)
class LoadedModel:
    name: str
    directory: Path  # where the bundle was read from (the archive itself for a .tar.gz)
    metadata: ModelMetadata
    policy: Policy
    preprocessor: Preprocessor


def open_model(directory: Path, name: str, *, intra_op_threads: int = 1) -> LoadedModel:
    """The bundle whose two files sit directly in ``directory``, opened for driving."""
    directory = Path(directory)
    for required in (METADATA_FILE, ONNX_FILE):
        if not (directory / required).is_file():
            raise ModelError(f"{directory.name or directory}: {required} is missing")
    metadata = load_metadata(directory / METADATA_FILE)
    policy = Policy(
        directory / ONNX_FILE,
        metadata.action_space.n_outputs,
        intra_op_threads=intra_op_threads,
    )
    return LoadedModel(name, directory, metadata, policy, Preprocessor(policy.layout))
