"""A DeepRacer export, as racers download it, through the console as their tools use it:
uploaded with ``PUT /api/uploadModels``, loaded with ``PUT /api/models/<folder>/<model>``,
``isModelLoading`` reaching "loaded", then driving."""

from __future__ import annotations

import tarfile
import time
from pathlib import Path

from vehicle.model.samples import SampleExport
from vehicle.service.facade import VehicleService

from .conftest import Api, upload, wait_loaded

TINY = "ppo_discrete_tiny_camera"


def export_tar(folder: Path) -> bytes:
    """The physical-car .tar.gz: a top folder with agent/model.pb and the metadata."""
    SampleExport.load(TINY).write_physical_export(folder / "racer")
    (folder / "racer" / "reward_function.py").write_text("def reward_function(p):\n    return 1\n")
    archive = folder / "racer.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder / "racer", arcname="racer")
    return archive.read_bytes()


def test_an_export_uploads_loads_and_drives(api: Api, service: VehicleService, tmp_path) -> None:
    sent = upload(api, export_tar(tmp_path), "racer.tar.gz", "/api/uploadModels", "PUT")
    assert sent.json["success"], sent.json
    (listed,) = api("GET", "/api/v1/models").json["models"]
    assert (listed["name"], listed["state"], listed["format"], listed["engine"]) == (
        "racer",
        "ready",
        "tensorflow",
        "openvino",
    )
    assert api("GET", "/api/models").json["models"][0]["model_folder_name"] == "racer"
    assert api("PUT", "/api/models/racer/model").json == {"success": True}
    assert wait_loaded(api) == "loaded"
    assert service.status()["model"] == "racer"
    assert api("PUT", "/api/drive_mode", json={"drive_mode": "auto"}).json["success"]
    assert api("PUT", "/api/start_stop", json={"start_stop": "start"}).json["success"]
    deadline = time.monotonic() + 10
    while service.status()["state"] != "autonomous" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert service.status()["state"] == "autonomous"
    api("PUT", "/api/start_stop", json={"start_stop": "stop"})


def test_a_stereo_export_is_refused_and_nothing_is_listed(api: Api, tmp_path) -> None:
    sample = SampleExport.load("ppo_discrete_tiny_stereo")
    sample.write_physical_export(tmp_path / "stereo")
    with tarfile.open(tmp_path / "stereo.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "stereo", arcname="stereo")
    sent = upload(
        api, (tmp_path / "stereo.tar.gz").read_bytes(), "stereo.tar.gz", "/api/uploadModels", "PUT"
    )
    assert sent.json["success"] is False
    reason = sent.json.get("message") or sent.json.get("reason")  # the car's upload: "message"
    assert "STEREO_CAMERAS" in reason
    assert api("GET", "/api/v1/models").json["models"] == []
