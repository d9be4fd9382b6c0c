"""``vehicle bench --engines``: the table's shape and ratios, on the tiny sample (never the
figures themselves: those are for the README's one run)."""

from __future__ import annotations

import json

import pytest

from vehicle.bench import engines
from vehicle.cli import main


def test_ratios_are_against_the_fastest_anchor_at_that_thread_count():
    figures = {
        "stock": {"p50": 2.0},
        "community": {"p50": 1.6},
        "ours fp32": {"p50": 1.2},
        "ours int8": {"p50": 0.4},
    }
    roles = {"stock": "anchor", "community": "anchor", "ours fp32": "ours", "ours int8": "ours"}
    assert engines._with_ratios(figures, roles) == "community"
    assert [f["ratio"] for f in figures.values()] == [1.25, 1.0, 0.75, 0.25]
    assert engines._with_ratios({"ours": {"p50": 1.0}}, {"ours": "ours"}) is None


def test_a_short_run_writes_the_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(engines, "NETWORK", "ppo_discrete_tiny_camera")
    monkeypatch.setenv(engines.TF_PYTHON_ENV, "")
    monkeypatch.setattr(engines, "_tf_python", lambda given: None)  # CI has no TensorFlow
    out = tmp_path / "engines.json"
    argv = ["--data-dir", str(tmp_path / "data"), "bench", "--engines", "--duration", "0.6"]
    assert main([*argv, "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    roles = report["network"]["roles"]
    assert roles["openvino fp32 (stock car)"] == "anchor"
    ours = [name for name, role in roles.items() if role == "ours"]
    assert len(ours) == 1 and ours[0].endswith(" fp32")  # a tiny dense layer: no int8 form
    assert report["notes"] == ["no TensorFlow to make the .tflite files: TFLite rows left out"]
    for threads in ("1", "2"):
        figures = report["floor_ms"][threads]
        assert set(figures) == set(roles)
        assert report["fastest_anchor"][threads] == "openvino fp32 (stock car)"
        assert figures["openvino fp32 (stock car)"]["ratio"] == 1.0
        for summary in figures.values():
            assert 0 < summary["min"] <= summary["p50"] <= summary["p99"]
            assert summary["ratio"] == pytest.approx(
                summary["p50"] / figures["openvino fp32 (stock car)"]["p50"], abs=1e-3
            )
    capture = report["capture_to_pulse"]
    assert capture["precision"] == "fp32" and capture["latency_ms"]["p50"] > 0
    assert report["goals"]["reduced_ratio"] is None and not report["goals"]["reduced_met"]
    table = capsys.readouterr().out
    assert table.splitlines()[0].split()[:4] == ["engine", "1", "thread", "ms"]
    assert "fastest anchor: openvino fp32 (stock car)" in table
    assert "capture-to-pulse p50" in table and "goals: fp32" in table
