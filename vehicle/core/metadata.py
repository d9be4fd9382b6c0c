"""DeepRacer's ``model_metadata.json``: parsed and validated into typed values.

The format is DeepRacer's own so that racers' models load unchanged. Everything a model
needs from the car is checked here (action space, sensors); informational keys are kept in
``raw`` and never rejected.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

METADATA_FILE = "model_metadata.json"

# Sensor names that mean "one front camera": DeepRacer's and the implicit default.
CAMERA_SENSORS = frozenset({"FRONT_FACING_CAMERA", "observation"})
# Sensors DeepRacer models can ask for that this car does not have.
MISSING_SENSORS = frozenset(
    {"STEREO_CAMERAS", "LEFT_CAMERA", "LIDAR", "SECTOR_LIDAR", "DISCRETIZED_SECTOR_LIDAR"}
)


class ModelError(ValueError):
    """A model bundle (metadata, network or archive) that this car cannot run."""


def one_line(exc: BaseException) -> str:
    """A foreign exception's message on one line (the CLI prints reasons as single lines)."""
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass(frozen=True, slots=True)
class DiscreteAction:
    index: int
    steering_angle: float  # degrees, positive = left
    speed: float  # m/s


@dataclass(frozen=True)
class DiscreteActionSpace:
    """Actions ordered by index: output ``i`` of the network is ``actions[i]``."""

    actions: tuple[DiscreteAction, ...]
    type: Literal["discrete"] = "discrete"

    @property
    def n_outputs(self) -> int:
        return len(self.actions)


@dataclass(frozen=True)
class ContinuousActionSpace:
    """The network outputs (steering, speed) in [-1, 1], mapped linearly onto these ranges."""

    steering_low: float
    steering_high: float
    speed_low: float
    speed_high: float
    type: Literal["continuous"] = "continuous"

    @property
    def n_outputs(self) -> int:
        return 2


ActionSpace = DiscreteActionSpace | ContinuousActionSpace


@dataclass(frozen=True)
class ModelMetadata:
    action_space: ActionSpace
    sensors: tuple[str, ...]
    raw: dict[str, Any]  # the whole file as read, including keys we do not use

    @property
    def training_algorithm(self) -> str | None:
        return self.raw.get("training_algorithm")

    @property
    def neural_network(self) -> str | None:
        return self.raw.get("neural_network")


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ModelError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _speed(value: Any, where: str) -> float:
    speed = _number(value, where)
    if speed < 0:
        raise ModelError(f"{where} must not be negative (the car does not reverse), got {speed}")
    return speed


def _discrete(entries: Any) -> DiscreteActionSpace:
    if not isinstance(entries, list) or not entries:
        raise ModelError("discrete action_space must be a non-empty list of actions")
    parsed: list[DiscreteAction] = []
    for position, entry in enumerate(entries):
        where = f"action_space[{position}]"
        if not isinstance(entry, dict):
            raise ModelError(f"{where} must be an object with steering_angle and speed")
        for key in ("steering_angle", "speed"):
            if key not in entry:
                raise ModelError(f"{where} has no {key}")
        index = entry.get("index", position)
        if isinstance(index, bool) or not isinstance(index, int):
            raise ModelError(f"{where}.index must be a whole number, got {index!r}")
        parsed.append(
            DiscreteAction(
                index,
                _number(entry["steering_angle"], f"{where}.steering_angle"),
                _speed(entry["speed"], f"{where}.speed"),
            )
        )
    indices = sorted(a.index for a in parsed)
    if indices != list(range(len(parsed))):
        raise ModelError(
            f"action indices must be exactly 0..{len(parsed) - 1} (each once), got {indices}"
        )
    if all(a.speed == 0 for a in parsed):
        raise ModelError("every action has speed 0: the model could never move the car")
    return DiscreteActionSpace(tuple(sorted(parsed, key=lambda a: a.index)))


def _range(space: dict[str, Any], key: str) -> tuple[float, float]:
    bounds = space.get(key)
    if not isinstance(bounds, dict) or "low" not in bounds or "high" not in bounds:
        raise ModelError(f"continuous action_space.{key} must be an object with low and high")
    low = _number(bounds["low"], f"action_space.{key}.low")
    high = _number(bounds["high"], f"action_space.{key}.high")
    if not high > low:
        raise ModelError(f"action_space.{key}: high ({high}) must be greater than low ({low})")
    return low, high


def _continuous(space: Any) -> ContinuousActionSpace:
    if not isinstance(space, dict):
        raise ModelError("continuous action_space must be an object with steering_angle and speed")
    steering_low, steering_high = _range(space, "steering_angle")
    speed_low, speed_high = _range(space, "speed")
    _speed(speed_low, "action_space.speed.low")
    return ContinuousActionSpace(steering_low, steering_high, speed_low, speed_high)


def _sensors(value: Any) -> tuple[str, ...]:
    if value is None:
        return ("observation",)
    if not isinstance(value, list) or not value or not all(isinstance(s, str) for s in value):
        raise ModelError(f"sensor must be a non-empty list of sensor names, got {value!r}")
    missing = [s for s in value if s in MISSING_SENSORS]
    if missing:
        raise ModelError(
            f"the model needs {', '.join(missing)}, but this car has a single front camera"
        )
    unknown = [s for s in value if s not in CAMERA_SENSORS]
    if unknown:
        raise ModelError(f"unknown sensor {', '.join(unknown)}; expected FRONT_FACING_CAMERA")
    return tuple(value)


def parse_metadata(data: Any) -> ModelMetadata:
    """Validate a decoded ``model_metadata.json``; raise ``ModelError`` naming the problem."""
    if not isinstance(data, dict):
        raise ModelError("model_metadata.json must hold a JSON object")
    kind = data.get("action_space_type", "discrete")
    if "action_space" not in data:
        raise ModelError("model_metadata.json has no action_space")
    if kind == "discrete":
        space: ActionSpace = _discrete(data["action_space"])
    elif kind == "continuous":
        space = _continuous(data["action_space"])
    else:
        raise ModelError(f"action_space_type must be discrete or continuous, got {kind!r}")
    return ModelMetadata(space, _sensors(data.get("sensor")), dict(data))


def load_metadata(path: Path) -> ModelMetadata:
    """Read and validate a metadata file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"cannot read {Path(path).name}: {one_line(exc)}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"{Path(path).name} is not valid JSON: {one_line(exc)}") from exc
    return parse_metadata(data)
