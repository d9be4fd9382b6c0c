"""The models page and our JSON API for bundles: upload, list, load, delete."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from webconsole.context import console
from webconsole.policy import model_upload
from webconsole.responses import InputError, ok, shown
from webconsole.uploads import require_disk_room, saved_upload, uploaded_file

bp = Blueprint("models", __name__)

BUNDLE_SUFFIXES = (".tar.gz", ".tgz")


def install_upload() -> str:
    """Validate and install the uploaded bundle; it is listed only once it has passed."""
    require_disk_room()
    upload = uploaded_file()
    filename = upload.filename or ""
    if not filename.lower().endswith(BUNDLE_SUFFIXES):
        raise InputError(f"a model bundle is uploaded as a .tar.gz file, got {shown(filename)}")
    with saved_upload(upload, suffix=".tar.gz") as path:
        return console().service.install_model(path, filename)


@bp.route("/models")
def page() -> Any:
    return render_template("models.html", page="models")


@bp.route("/api/v1/models")
def list_models() -> Any:
    status = console().service.status()
    return ok(
        models=console().service.list_models(),
        loaded=status["model"],
        engine=status.get("model_engine"),
        precision=status.get("model_precision"),
        loading=status["model_loading"],
        error=status["model_error"],
    )


@bp.route("/api/v1/models", methods=["POST"])
@model_upload
def upload() -> Any:
    return ok(name=install_upload())


@bp.route("/api/v1/models/<name>/load", methods=["POST"])
def load(name: str) -> Any:
    console().service.load_model(name)
    return ok()


@bp.route("/api/v1/models/<name>", methods=["DELETE"])
def delete(name: str) -> Any:
    console().service.delete_models([name])
    return ok()
