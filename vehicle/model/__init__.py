"""Models, service side: finding, validating, converting and storing what racers upload.

Submodules are imported where they are used (``vehicle.model.prepare``, ``.store``,
``.bundle``, ...): importing this package costs nothing, so the preparation worker starts
quickly and a cache hit stays fast. The names below are kept for existing callers and
resolve on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ActionSpace": "vehicle.core.metadata",
    "ContinuousActionSpace": "vehicle.core.metadata",
    "DiscreteAction": "vehicle.core.metadata",
    "DiscreteActionSpace": "vehicle.core.metadata",
    "ModelError": "vehicle.core.metadata",
    "ModelMetadata": "vehicle.core.metadata",
    "load_metadata": "vehicle.core.metadata",
    "parse_metadata": "vehicle.core.metadata",
    "Policy": "vehicle.core.policy",
    "open_prepared": "vehicle.core.policy",
    "FrameError": "vehicle.core.preprocess",
    "Preprocessor": "vehicle.core.preprocess",
    "LoadedModel": "vehicle.core.model",
    "load_bundle": "vehicle.model.bundle",
    "ModelInfo": "vehicle.model.store",
    "ModelStore": "vehicle.model.store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'vehicle.model' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
