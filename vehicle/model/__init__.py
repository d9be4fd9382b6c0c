"""Model bundles: DeepRacer metadata, safe archives, preprocessing, the ONNX policy, storage."""

from vehicle.core.metadata import (
    ActionSpace,
    ContinuousActionSpace,
    DiscreteAction,
    DiscreteActionSpace,
    ModelError,
    ModelMetadata,
    load_metadata,
    parse_metadata,
)
from vehicle.core.model import LoadedModel
from vehicle.core.policy import Policy
from vehicle.core.preprocess import FrameError, Preprocessor
from vehicle.model.bundle import load_bundle
from vehicle.model.store import ModelInfo, ModelStore

__all__ = [
    "ActionSpace",
    "ContinuousActionSpace",
    "DiscreteAction",
    "DiscreteActionSpace",
    "FrameError",
    "LoadedModel",
    "ModelError",
    "ModelInfo",
    "ModelMetadata",
    "ModelStore",
    "Policy",
    "Preprocessor",
    "load_bundle",
    "load_metadata",
    "parse_metadata",
]
