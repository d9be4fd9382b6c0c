"""Our JSON API, through Flask's test client, against the real service (DeepRacer's routes:
test_deepracer_api.py)."""

from __future__ import annotations

import io
import json
import logging
import tarfile
import time
from pathlib import Path

import pytest

from calibration.model import Calibration
from vehicle.config import ConsoleSettings, Settings
from vehicle.core.pwm.mock import MockPwm
from vehicle.service.facade import VehicleService

from .conftest import DATA, Api, FakeClock, bundle_tar, make_app, upload, wait_loaded

STEER_MID, THROTTLE_MID = 1_450_000, 1_446_000  # DeepRacer's default calibration


# -- status and driving ------------------------------------------------------------------


def test_status_has_the_contract_fields(api: Api) -> None:
    status = api("GET", "/api/v1/status").json["status"]
    for key in (
        "state",
        "mode",
        "running",
        "fault",
        "throttle_limit",
        "loop_hz",
        "latency_ms",
        "action",
        "model",
        "model_loading",
        "model_engine",
        "model_precision",
        "pulses",
        "uptime_s",
    ):
        assert key in status
    assert status["state"] == "disarmed"


@pytest.mark.parametrize(
    "body", [{"mode": "auto"}, {"mode": None}, {}, ["manual"], {"mode": "MANUAL"}]
)
def test_bad_mode_is_refused_and_nothing_changes(api: Api, service: VehicleService, body) -> None:
    response = api("PUT", "/api/v1/mode", json=body)
    assert response.status_code == 400
    assert response.json["success"] is False and response.json["reason"]
    assert service.status()["mode"] == "manual"


@pytest.mark.parametrize("value", [-0.1, 1.5, "0.5", True, None, float("nan")])
def test_bad_throttle_limit_is_refused(api: Api, service: VehicleService, value) -> None:
    before = service.status()["throttle_limit"]
    body = json.dumps({"throttle_limit": value}).replace("NaN", "NaN")
    response = api("PUT", "/api/v1/throttle-limit", data=body, content_type="application/json")
    assert response.status_code == 400
    assert service.status()["throttle_limit"] == before


def test_throttle_limit_is_set_and_persisted(api: Api, service: VehicleService, settings) -> None:
    assert api("PUT", "/api/v1/throttle-limit", json={"throttle_limit": 0.35}).json["success"]
    assert service.status()["throttle_limit"] == pytest.approx(0.35)
    assert json.loads(settings.runtime_state_path.read_text())["throttle_limit"] == 0.35


def test_manual_driving_reaches_the_outputs(api: Api, pwm: MockPwm) -> None:
    assert api("POST", "/api/v1/manual", json={"steer": 0, "throttle": 0.5}).status_code == 400
    assert api("PUT", "/api/v1/throttle-limit", json={"throttle_limit": 1.0}).json["success"]
    assert api("POST", "/api/v1/start").json["success"]
    assert api("POST", "/api/v1/manual", json={"steer": 1.0, "throttle": 0.0}).json["success"]
    assert pwm.current["steering"] == 1_700_000  # full left (polarity +1: max)
    for bad in ({"steer": 2, "throttle": 0}, {"steer": 0}, {"steer": "left", "throttle": 0}):
        assert api("POST", "/api/v1/manual", json=bad).status_code == 400
    assert api("POST", "/api/v1/stop").json["success"]
    assert pwm.current == {"steering": STEER_MID, "throttle": THROTTLE_MID}


def test_a_released_joystick_stops_the_car(make_linked, settings: Settings, pwm: MockPwm) -> None:
    """The dead-man: a manual command expires after 500 ms and the governor goes neutral."""
    clock = FakeClock()
    linked = make_linked(clock=clock, watchdog=False)
    service = linked.car
    api = Api(make_app(linked.service, settings).test_client())
    api("PUT", "/api/v1/throttle-limit", json={"throttle_limit": 1.0})
    api("POST", "/api/v1/start")
    for _ in range(20):  # the ramp brings the throttle up while the command is repeated
        assert api("POST", "/api/v1/manual", json={"steer": 0, "throttle": 1.0}).json["success"]
        clock.advance(0.1)
        service.governor.tick()
    assert pwm.current["throttle"] != THROTTLE_MID
    clock.advance(0.5)
    service.governor.tick()
    assert pwm.current["throttle"] == THROTTLE_MID


def test_autonomous_start_needs_a_model(api: Api, service: VehicleService) -> None:
    assert api("PUT", "/api/v1/mode", json={"mode": "autonomous"}).json["success"]
    response = api("POST", "/api/v1/start")
    assert response.status_code == 400
    assert "no model" in response.json["reason"]
    assert service.status()["state"] == "disarmed"


# -- models ------------------------------------------------------------------------------


def test_upload_list_load_delete(api: Api, service: VehicleService) -> None:
    response = upload(api, bundle_tar(), "track-model.tar.gz")
    assert response.json == {"success": True, "name": "track-model"}
    listed = api("GET", "/api/v1/models").json
    assert [m["name"] for m in listed["models"]] == ["track-model"]
    assert listed["models"][0]["action_space_type"] == "discrete"
    assert api("POST", "/api/v1/models/track-model/load").json["success"]
    assert wait_loaded(api) == "loaded"
    assert service.status()["model"] == "track-model"
    refused = api("DELETE", "/api/v1/models/track-model")
    assert refused.status_code == 400 and "loaded" in refused.json["reason"]
    upload(api, bundle_tar(), "second.tar.gz")
    assert api("DELETE", "/api/v1/models/second").json["success"]
    assert [m["name"] for m in api("GET", "/api/v1/models").json["models"]] == ["track-model"]


def tar_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "filename", "reason"),
    [
        (b"not a tarball", "model.tar.gz", ""),
        (bundle_tar(), "model.zip", ".tar.gz"),
        (tar_with({"model_metadata.json": b"{}"}), "nometa.tar.gz", ""),
        (tar_with({"../../escape.txt": b"x"}), "slip.tar.gz", ""),
        (bundle_tar(), "../../etc/evil.tar.gz", None),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_listed(
    api: Api, settings: Settings, tmp_path: Path, data: bytes, filename: str, reason: str | None
) -> None:
    response = upload(api, data, filename)
    if reason is None:  # a hostile file name is reduced to a plain name, never a path
        assert response.json["name"] == "evil"
        assert (settings.models_dir / "evil").is_dir()
        assert not (tmp_path / "etc").exists()
        return
    assert response.status_code == 400
    assert reason in response.json["reason"]
    assert api("GET", "/api/v1/models").json["models"] == []
    assert not list(tmp_path.rglob("escape.txt"))


def test_corrupt_upload_is_named_a_bad_archive_without_server_paths(api: Api) -> None:
    response = upload(api, b"random bytes, not gzip", "model.tar.gz")
    assert response.status_code == 400
    assert "archive" in response.json["reason"]
    assert "vehicle-upload-" not in response.json["reason"]


def test_no_upload_field(api: Api) -> None:
    response = api("POST", "/api/v1/models", data={"other": (io.BytesIO(b"x"), "a.tar.gz")})
    assert response.status_code == 400
    assert "'file'" in response.json["reason"]


def test_oversized_upload_is_413(service: VehicleService, settings: Settings) -> None:
    small = Settings(data_dir=settings.data_dir, console=ConsoleSettings(max_upload_bytes=1000))
    api = Api(make_app(service, small).test_client())
    response = upload(api, bundle_tar(), "big.tar.gz")
    assert response.status_code == 413
    assert response.json["success"] is False and "limit" in response.json["reason"]


@pytest.mark.parametrize("name", ["..", ".hidden", "a;b", "x" * 101])
def test_model_names_never_become_paths(api: Api, name: str) -> None:
    assert api("POST", f"/api/v1/models/{name}/load").status_code in (400, 404)
    assert api("DELETE", f"/api/v1/models/{name}").status_code in (400, 404)


# -- calibration -------------------------------------------------------------------------


def test_calibration_preview_save_reset(api: Api, service: VehicleService, pwm: MockPwm) -> None:
    assert api("POST", "/api/v1/calibration/enter").json["success"]
    assert api("GET", "/api/v1/calibration").json["calibrating"] is True
    ok = api("POST", "/api/v1/calibration/preview", json={"channel": "steering", "ns": 1_480_000})
    assert ok.json["success"]
    assert pwm.current["steering"] == 1_480_000
    for bad in ({"channel": "brakes", "ns": 1_500_000}, {"channel": "steering", "ns": 3_000_000}):
        assert api("POST", "/api/v1/calibration/preview", json=bad).status_code == 400
    body = api("GET", "/api/v1/calibration").json["calibration"]
    body["steering"]["mid_ns"] = 1_480_000
    assert api("PUT", "/api/v1/calibration", json=body).json["success"]
    assert service.calibration().steering.mid_ns == 1_480_000
    body["throttle"]["min_ns"] = 1_500_000  # above mid
    assert api("PUT", "/api/v1/calibration", json=body).status_code == 400
    assert service.calibration().throttle.min_ns == 1_311_000
    assert api("POST", "/api/v1/calibration/reset").json["success"]
    assert service.calibration() == Calibration()
    assert api("POST", "/api/v1/calibration/exit").json["success"]


def test_calibration_import_export(api: Api, service: VehicleService) -> None:
    deepracer_file = (DATA / "calibration.json").read_bytes()
    imported = api(
        "POST",
        "/api/v1/calibration/import",
        data={"file": (io.BytesIO(deepracer_file), "calibration.json")},
    )
    assert imported.json["success"]
    exported = api("GET", "/api/v1/calibration/export?format=deepracer")
    assert json.loads(exported.data) == json.loads(deepracer_file)
    assert "attachment" in exported.headers["Content-Disposition"]
    native = json.loads(api("GET", "/api/v1/calibration/export").data)
    assert native["steering"]["mid_ns"] == 1_450_000
    assert api("GET", "/api/v1/calibration/export?format=xml").status_code == 400
    for junk in (b"not json", b'{"Calibration": {"Servo": {}}}'):
        bad = api("POST", "/api/v1/calibration/import", data={"file": (io.BytesIO(junk), "c.json")})
        assert bad.status_code == 400


# -- system and device -------------------------------------------------------------------


def test_system_and_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    system = api("GET", "/api/v1/system").json["system"]
    assert "vehicle" in system["versions"]
    assert api("POST", "/api/v1/start").json["success"]  # logs a line
    lines = api("GET", "/api/v1/logs?n=50").json["lines"]
    assert any("started" in line for line in lines)
    for bad in ("0", "501", "x", "../../etc/passwd"):
        assert api("GET", f"/api/v1/logs?n={bad}").status_code == 400


def test_unknown_api_route_is_json_404(api: Api) -> None:
    response = api("GET", "/api/logs/../../etc/passwd")
    assert response.status_code == 404
    assert response.json["success"] is False


# -- the drive's step records ------------------------------------------------------------


def test_each_drive_step_reaches_the_console_as_one_record(
    make_linked, settings: Settings, tmp_path: Path
) -> None:
    """Frames through the real drive core; records through the shared-memory step ring."""
    from vehicle.core.camera import SyntheticSource

    from .conftest import bundle_dir

    linked = make_linked(
        source=SyntheticSource(fps=30.0),
        model_path=bundle_dir(tmp_path / "shipped" / "m"),
        mode="autonomous",
        throttle_limit=1.0,
    ).running()
    api = Api(make_app(linked.service, settings).test_client())
    assert api("POST", "/api/v1/start").json["success"]
    deadline = time.monotonic() + 20
    records: list[dict] = []
    while len(records) < 10 and time.monotonic() < deadline:
        time.sleep(0.1)
        records = api("GET", "/api/v1/steps?n=50").json["steps"]
    assert len(records) >= 10
    seqs = [r["seq"] for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    last = records[-1]
    assert last["state"] == "autonomous" and 0 <= last["action"] < 15
    assert len(last["outputs"]) == 15 and abs(sum(last["outputs"]) - 1) < 1e-4
    assert last["latency_ms"] >= last["inference_ms"] > 0 and last["preprocess_ms"] > 0
    table = linked.car.drive.active.table
    row = table.rows()[last["action"]]
    assert last["pulses"]["steering"] == row["steer_ns"]  # what the outputs held
    assert api("GET", "/api/v1/steps?n=0").status_code == 400


def test_a_calibration_refused_while_driving_changes_nothing(
    api: Api, service: VehicleService, settings: Settings
) -> None:
    """The drive refuses a new mapping while driving; the file and the GET keep the old one
    (issue 13, item 7: it used to be written anyway and take effect at the next start)."""
    before_file = (
        settings.calibration_path.read_bytes() if settings.calibration_path.exists() else None
    )
    before = api("GET", "/api/v1/calibration").json["calibration"]
    assert api("PUT", "/api/v1/mode", json={"mode": "manual"}).json["success"]
    assert api("POST", "/api/v1/start").json["success"]
    changed = json.loads(json.dumps(before))
    changed["steering"]["mid_ns"] += 10_000
    refused = api("PUT", "/api/v1/calibration", json=changed)
    assert refused.status_code == 400 and "stop driving" in refused.json["reason"]
    deepracer = api(
        "PUT", "/api/set_calibration/angle", json={"min": -30, "mid": 5, "max": 30, "polarity": 1}
    )
    assert deepracer.status_code == 200 and deepracer.json["success"] is False
    assert api("GET", "/api/v1/calibration").json["calibration"] == before
    after_file = (
        settings.calibration_path.read_bytes() if settings.calibration_path.exists() else None
    )
    assert after_file == before_file
    assert service.status()["state"] == "manual"
