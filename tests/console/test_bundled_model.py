"""The bundled model (the shipped ``models/default``, or ``--model PATH``): listed by every
model route, marked as bundled, loadable again, never deleted."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from vehicle.config import Settings
from vehicle.service.facade import VehicleService

from .conftest import Api, LinkedCar, bundle_dir, bundle_tar, make_app, upload, wait_loaded


@pytest.fixture
def shipped(tmp_path: Path) -> Path:
    return bundle_dir(tmp_path / "shipped" / "default")


@pytest.fixture
def bundled_api(make_linked: Callable[..., LinkedCar], settings: Settings, shipped: Path) -> Api:
    return Api(make_app(make_linked(model_path=shipped).service, settings).test_client())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())}


def names(api: Api) -> list[tuple[str, bool, bool]]:
    """(name, bundled, active) of every model our API lists."""
    return [
        (m["name"], m["bundled"], m["active"]) for m in api("GET", "/api/v1/models").json["models"]
    ]


def test_the_loaded_bundled_model_is_listed_and_marked(bundled_api: Api, shipped: Path) -> None:
    listed = bundled_api("GET", "/api/v1/models").json
    assert listed["loaded"] == "default"
    (model,) = listed["models"]
    assert model == {
        "name": "default",
        "bundled": True,
        "active": True,
        "state": "ready",
        "format": "onnx",  # the shipped bundle runs as it is: no prepared stamp, no checksum
        "engine": "onnxruntime",
        "sha256": None,
        "action_space_type": "discrete",
        "action_count": 15,
        "size_bytes": sum(len(data) for data in snapshot(shipped).values()),
        "mtime": shipped.stat().st_mtime,
        "error": None,
        "training_algorithm": None,
        "sensors": ["observation"],
    }


def test_deepracer_listings_show_the_bundled_model(bundled_api: Api) -> None:
    (entry,) = bundled_api("GET", "/api/models").json["models"]
    assert entry["model_folder_name"] == "default"
    assert entry["model_action_space_type"] == "Discrete"
    assert entry["is_select_disabled"] is False
    (uploaded,) = bundled_api("GET", "/api/uploaded_model_list").json
    assert (uploaded["name"], uploaded["status"]) == ("default", "Ready")
    assert bundled_api("GET", "/api/is_model_installed?filename=default").json["success"]


def test_deleting_the_bundled_model_is_refused_and_changes_nothing(
    bundled_api: Api, shipped: Path
) -> None:
    upload(bundled_api, bundle_tar(), "other.tar.gz")
    before = snapshot(shipped)
    refused = bundled_api("DELETE", "/api/v1/models/default")
    assert refused.status_code == 400
    assert refused.json["reason"] == (
        "model default is the bundled model (shipped, or given with --model), not an upload: "
        "it cannot be deleted"
    )
    # DeepRacer's route refuses the whole request: "other" is not deleted either.
    refused = bundled_api("POST", "/api/deleteModels", json={"filenames": ["other", "default"]})
    assert refused.status_code == 200 and refused.json["success"] is False
    assert "bundled" in refused.json["message"]
    assert snapshot(shipped) == before
    assert names(bundled_api) == [("default", True, True), ("other", False, False)]
    assert bundled_api("POST", "/api/deleteModels", json={"filenames": ["other"]}).json["success"]
    assert names(bundled_api) == [("default", True, True)]


def test_switching_away_and_back_to_the_bundled_model(bundled_api: Api, settings: Settings) -> None:
    upload(bundled_api, bundle_tar(), "track.tar.gz")
    assert bundled_api("POST", "/api/v1/models/track/load").json["success"]
    assert wait_loaded(bundled_api) == "loaded"
    assert names(bundled_api) == [("default", True, False), ("track", False, True)]
    assert json.loads(settings.runtime_state_path.read_text())["active_model"] == "track"
    # Loaded again by name; the saved choice goes back to "the bundled one" for the next start.
    assert bundled_api("PUT", "/api/models/default/model").json["success"]
    assert wait_loaded(bundled_api) == "loaded"
    assert names(bundled_api) == [("default", True, True), ("track", False, False)]
    assert json.loads(settings.runtime_state_path.read_text())["active_model"] is None
    assert bundled_api("DELETE", "/api/v1/models/track").json["success"]


def test_a_store_model_of_the_same_name_takes_the_name(bundled_api: Api) -> None:
    """Names address the store first; the bundled one stays listed while it drives."""
    upload(bundled_api, bundle_tar(), "default.tar.gz")
    assert names(bundled_api) == [("default", True, True), ("default", False, False)]
    assert bundled_api("POST", "/api/v1/models/default/load").json["success"]
    assert wait_loaded(bundled_api) == "loaded"
    assert names(bundled_api) == [("default", False, True)]
    refused = bundled_api("DELETE", "/api/v1/models/default")
    assert refused.status_code == 400 and "is loaded" in refused.json["reason"]


def test_a_store_model_given_with_model_is_not_bundled(
    make_linked: Callable[..., LinkedCar], settings: Settings
) -> None:
    store = make_linked().service.model_store
    store.install(bundle_dir(settings.data_dir / "incoming" / "mine"))
    service: VehicleService = make_linked(model_path=store.path("mine")).service
    api = Api(make_app(service, settings).test_client())
    assert names(api) == [("mine", False, True)]
    refused = api("DELETE", "/api/v1/models/mine")
    assert refused.status_code == 400 and "is loaded" in refused.json["reason"]


def test_without_a_bundled_model_nothing_extra_is_listed(api: Api) -> None:
    assert api("GET", "/api/v1/models").json["models"] == []
    refused = api("DELETE", "/api/v1/models/default")
    assert refused.status_code == 400 and "no model named 'default'" in refused.json["reason"]
