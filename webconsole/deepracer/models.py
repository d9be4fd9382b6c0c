"""Models: list, upload, load, check and delete, in the car's shapes.

A model keeps the name of the file it was uploaded as (less ``.tar.gz``), as on the car, so a
tool can load or check it by that name; the name is still only ever a checked folder name.
Loading answers once the model drives (the car's load is synchronous too), or says why not.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from vehicle.device.info import human_size
from webconsole import models
from webconsole.context import console
from webconsole.deepracer.fields import body
from webconsole.deepracer.sensors import sensor_status
from webconsole.deepracer.shape import answers_with_message, refusal
from webconsole.policy import model_upload
from webconsole.responses import InputError, ok
from webconsole.uploads import require_disk_room, uploaded_file

bp = Blueprint("models", __name__)

BOTH = ["PUT", "POST"]
UNKNOWN = "--"
ALGORITHMS = {"clipped_ppo": "Clipped PPO", "sac": "Soft actor critic"}
SPACES = {"discrete": "Discrete", "continuous": "Continuous"}
SENSORS = {
    "observation": "Camera",
    "FRONT_FACING_CAMERA": "Front-facing camera",
    "LEFT_CAMERA": "Left camera",
    "STEREO_CAMERAS": "Stereo camera",
    "LIDAR": "LiDAR",
    "SECTOR_LIDAR": "LiDAR",
}
UPLOAD_SUFFIXES = (".tar.gz", ".tgz")


def _algorithm(info: dict[str, Any]) -> str:
    if info.get("error"):
        return UNKNOWN
    return ALGORITHMS.get(info.get("training_algorithm") or "clipped_ppo", UNKNOWN)


def _sensors(info: dict[str, Any]) -> list[str]:
    return [SENSORS.get(sensor, UNKNOWN) for sensor in info.get("sensors") or ()] or [UNKNOWN]


@bp.route("/api/models")
def list_models() -> Any:
    """The model picker's list, usable models first; a broken bundle is listed, disabled."""
    entries = [
        {
            "model_name": "model",
            "model_folder_name": info["name"],
            "model_training_algorithm": _algorithm(info),
            "model_action_space_type": SPACES.get(info.get("action_space_type") or "", UNKNOWN),
            "model_sensors": _sensors(info),
            "is_select_disabled": bool(info.get("error")),
        }
        for info in console().service.list_models()
    ]
    entries.sort(key=lambda entry: entry["is_select_disabled"])
    return jsonify(models=entries, sensor_status=sensor_status())


@bp.route("/api/uploaded_model_list")
def uploaded_model_list() -> Any:
    """A bare list, as the car answers (tools index it by ``name``)."""
    return jsonify(
        [
            {
                "name": info["name"],
                "size": human_size(info.get("size_bytes", 0)),
                "creation_time": info.get("mtime"),
                "status": "Error" if info.get("error") else "Ready",
                "training_algorithm": _algorithm(info),
                "action_space_type": SPACES.get(info.get("action_space_type") or "", UNKNOWN),
                "sensors": ", ".join(_sensors(info)),
            }
            for info in console().service.list_models()
        ]
    )


@bp.route("/api/uploadModels", methods=BOTH)
@model_upload
@answers_with_message("Failed to upload & optimize the model")
def upload_models() -> Any:
    require_disk_room()
    filename = uploaded_file().filename or ""
    if not filename.lower().endswith(UPLOAD_SUFFIXES):
        return jsonify(success=False, message="Failed to upload the model. Not a .tar.gz file")
    name = models.install_upload()
    return ok(message="Model uploaded successfully to your vehicle", name=name)


@bp.route("/api/models/<model_folder_name>/<model_name>", methods=BOTH)
def load_model(model_folder_name: str, model_name: str) -> Any:
    """Load the folder's model and answer once it drives (``model_name`` is the car's file
    name inside the folder; a bundle here has one model)."""
    service = console().service
    service.load_model(model_folder_name, wait=True)
    if service.model_error:
        return refusal(f"Model load failed! {service.model_error}")
    return ok()


@bp.route("/api/isModelLoading")
def is_model_loading() -> Any:
    """loading, loaded or error (the car's answer too before any model was loaded)."""
    status = console().service.status()
    if status["model_loading"]:
        state = "loading"
    elif status["model"] and not status["model_error"]:
        state = "loaded"
    else:
        state = "error"
    return ok(isModelLoading=state)


@bp.route("/api/is_model_installed")
def is_model_installed() -> Any:
    name = request.args.get("filename", "")
    installed = any(info["name"] == name for info in console().service.list_models())
    message = "Model is installed" if installed else "Model is not installed"
    return jsonify(success=installed, message=message)


@bp.route("/api/deleteModels", methods=BOTH)
@answers_with_message("Failed to delete the selected models")
def delete_models() -> Any:
    names = body().get("filenames")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InputError("filenames must be a list of model names")
    console().service.delete_models(names)
    return ok(message="Models deleted successfully from your vehicle")
