"""``vehicle bench`` end to end, briefly: the JSON shape and the table, never the figures."""

import json
from pathlib import Path

import numpy as np
import pytest

from vehicle.bench.runner import BenchOptions
from vehicle.bench.targets import TARGETS
from vehicle.cli import main

FIGURES = {
    "viewers": int,
    "floor_ms": float,
    "paced_floor_ms": float,
    "rate_hz": float,
    "max_rate_hz": float,
    "cpu_ms_per_step": float,
    "rss_mb": float,
}


def _check_configuration(result: dict) -> None:
    assert "error" not in result, result.get("error")
    for key, kind in FIGURES.items():
        assert isinstance(result[key], kind), key
    assert set(result["latency_ms"]) == {"p50", "p99"}
    assert set(result["jitter_ms"]) == {"p50", "p99", "max"}
    assert 0 < result["latency_ms"]["p50"] <= result["latency_ms"]["p99"]
    assert (
        0 <= result["jitter_ms"]["p50"] <= result["jitter_ms"]["p99"] <= result["jitter_ms"]["max"]
    )
    assert result["floor_ms"] > 0 and result["max_rate_hz"] > 0 and result["rss_mb"] > 0
    assert result["latency_over_floor"]["p50"] == pytest.approx(
        result["latency_ms"]["p50"] / result["floor_ms"], abs=1e-3
    )


def test_short_run_writes_designs_json_and_a_table(
    tmp_path: Path, tiny_bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results" / "bench.json"
    args = ["--data-dir", str(tmp_path / "data"), "bench", "--json", str(out)]
    # 10 Hz: the governor's deadlines (100 ms inference bound) survive a loaded CI machine
    args += ["--duration", "0.6", "--viewers", "1", "--model", str(tiny_bundle), "--rate", "10"]
    args += ["--warmup", "0.2", "--rounds", "2"]
    assert main(args) == 0
    report = json.loads(out.read_text())
    for name in ("ours", "ours_viewers", "donkeycar"):
        _check_configuration(report[name])
        assert report[name]["rate_hz"] == 10.0
    assert report["ours"]["viewers"] == 0
    assert set(report["ours"]["latency_breakdown_p50_ms"]) == {
        "wake",
        "inference",
        "preprocess_and_output",
    }
    assert report["ours_viewers"]["viewers"] == 1
    assert len(report["ours_viewers"]["viewer_frames"]) == 1
    assert report["ours_viewers"]["viewer_frames"][0] > 0
    implementation = report["donkeycar"]["implementation"]
    assert implementation == "reproduced" or implementation.startswith("donkeycar ")
    cost = report["service_cost"]
    assert set(cost["medians_ms"]) == set(cost["pooled_jitter_p99_ms"])
    assert set(cost["medians_ms"]) == {"alone", "service", "viewers", "donkeycar"}
    jitter = report["targets"]["jitter_p99_over_donkeycar"]["value"]
    pooled = cost["pooled_jitter_p99_ms"]
    assert jitter == pytest.approx(pooled["service"] / pooled["donkeycar"], abs=1e-3)
    assert all(len(runs) == cost["rounds"] for runs in cost["windows_ms"].values())
    windows = cost["windows_ms"]  # costs: medians of the rounds' paired differences
    paired = [
        s["p50"] - a["p50"] for s, a in zip(windows["service"], windows["alone"], strict=True)
    ]
    assert cost["service_minus_alone_p50_by_round_ms"] == pytest.approx(paired, abs=2e-3)
    assert cost["service_minus_alone_p50_ms"] == pytest.approx(np.median(paired), abs=2e-3)
    low, high = report["targets"]["viewers_cost_p50_ms"]["spread"]
    assert (low, high) == (
        min(cost["viewers_minus_service_p50_by_round_ms"]),
        max(cost["viewers_minus_service_p50_by_round_ms"]),
    )
    low, high = cost["jitter_p99_ratio_interval"]
    assert low <= high and report["targets"]["jitter_p99_over_donkeycar"]["spread"] == [low, high]
    assert {"cpu", "cores", "python", "onnxruntime"} <= set(report["machine"])
    model = report["model"]  # the tiny network has no dense layer worth int8
    assert (model["precision"], model["reduced"].split(":")[0]) == ("fp32", "skipped")
    assert set(report["targets"]) == {t.name for t in TARGETS}
    assert all(t["met"] in (True, False) for t in report["targets"].values())
    table = capsys.readouterr().out
    assert f"driven by {model['engine']} fp32 (int8 skipped: " in table
    assert "ours+1 viewers" in table and "latency p99 ms" in table and str(out) in table
    assert "service_cost (2 interleaved rounds" in table
    assert "[chance: " in table
    assert "period jitter p99 over all rounds: alone " in table
    opening = report["model_open"]
    assert opening["open_ms"] > 0 and opening["worst_interval_while_opening_ms"] > 0
    assert "model_open: opening the model took" in table


@pytest.mark.parametrize(
    ("option", "value", "reason"),
    [
        ("--duration", "0", "duration must be > 0 s"),
        ("--rate", "-30", "rate must be > 0 Hz"),
        ("--rate", "5000", "rate must be at most 1000 Hz"),
        ("--viewers", "-1", "viewers must be between 0 and 12"),
        ("--rounds", "1", "rounds must be a whole number >= 2"),
        ("--model", "/nonexistent/model", "not found"),
    ],
)
def test_bad_options_are_rejected_with_a_reason(
    tmp_path: Path, option: str, value: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never.json"
    argv = ["--data-dir", str(tmp_path), "bench", "--json", str(out), option, value]
    assert main(argv) == 1
    assert reason in capsys.readouterr().err
    assert not out.exists()


def test_a_bundle_that_is_no_model_is_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "model.onnx").write_bytes(b"not onnx")
    (tmp_path / "model_metadata.json").write_text('{"action_space": []}')
    assert main(["bench", "--model", str(tmp_path), "--duration", "0.2"]) == 1
    assert capsys.readouterr().err.startswith("vehicle: ")


def test_non_numeric_duration_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--data-dir", str(tmp_path), "bench", "--duration", "soon"])
    assert exc.value.code == 2


def test_no_viewers_skips_the_viewers_configuration() -> None:
    assert BenchOptions(viewers=0).configurations() == (
        "ours_alone",
        "ours",
        "donkeycar",
        "service_cost",
        "model_open",
    )
    assert BenchOptions(viewers=2).configurations() == (
        "ours_alone",
        "ours",
        "ours_viewers",
        "donkeycar",
        "service_cost",
        "model_open",
    )
