"""The model figures' code paths (``python -m vehicle.bench.models``), on the tiny sample."""

from __future__ import annotations

import json

from vehicle.bench import models


def test_a_short_run_reports_every_figure(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(models, "TOPOLOGIES", {"shallow": "ppo_discrete_tiny_camera"})
    out = tmp_path / "models.json"
    assert models.main(["--json", str(out), "--duration", "0.5"]) == 0
    report = json.loads(out.read_text())
    assert json.loads(capsys.readouterr().out) == report
    (conversion,) = report["conversion"].values()
    assert conversion["engine"] == "openvino"
    for key in ("prepare_s", "prepare_hit_s", "first_open_s", "open_s", "rss_mb"):
        assert conversion[key] > 0
    assert conversion["prepare_hit_s"] < conversion["prepare_s"]
    floors = report["floor_ms"]
    assert set(floors) == {
        "bench_net/onnxruntime",
        "bench_net/openvino",
        "export_shallow/openvino",
    }
    assert floors["bench_net/onnxruntime"]["ratio_to_onnxruntime"] == 1.0
    for floor in floors.values():
        assert 0 < floor["min"] <= floor["p50"] <= floor["p99"] and floor["runs"] >= 5
    assert report["machine"]["openvino"]
