from typing import Any

from vehicle.bench.report import format_table
from vehicle.bench.targets import TARGETS, evaluate_targets


def _config(p50: float, p99: float, floor: float, jitter_p99: float, max_rate: float) -> dict:
    return {
        "implementation": "ours",
        "viewers": 0,
        "floor_ms": floor,
        "latency_ms": {"p50": p50, "p99": p99},
        "jitter_ms": {"p50": 0.1, "p99": jitter_p99, "max": jitter_p99 + 1},
        "rate_hz": 30.0,
        "achieved_hz": 30.0,
        "max_rate_hz": max_rate,
        "cpu_ms_per_step": 1.5,
        "rss_mb": 200.0,
    }


def _report() -> dict[str, Any]:
    donkey = _config(20.0, 35.0, 1.0, 5.0, 500.0)
    donkey["implementation"] = "reproduced"
    viewers = _config(1.2, 3.0, 1.0, 2.5, 700.0)
    viewers["viewers"] = 4
    return {
        "machine": {"cpu": "Test CPU", "cores": 2, "python": "3.11", "onnxruntime": "1"},
        "ours": _config(1.2, 1.9, 1.0, 0.5, 900.0),
        "ours_viewers": viewers,
        "donkeycar": donkey,
        "service_cost": {
            "rounds": 3,
            "window_s": 1.0,
            "medians_ms": {"alone": {"p50": 1.1, "p99": 1.8}, "service": {"p50": 1.2, "p99": 1.9}},
            "service_minus_alone_p50_ms": 0.1,
            "service_minus_alone_p50_by_round_ms": [0.05, 0.1, -0.02],
            "viewers_minus_service_p50_ms": 0.25,
            "viewers_minus_service_p50_by_round_ms": [0.2, 0.25, 0.4],
            "pooled_jitter_p99_ms": {"alone": 0.4, "service": 0.5, "donkeycar": 0.4},
            "jitter_p99_ratio_interval": [0.8, 1.6],
        },
    }


def test_every_target_is_judged_from_the_report() -> None:
    targets = evaluate_targets(_report())
    assert set(targets) == {t.name for t in TARGETS}
    assert targets["latency_p50_over_floor"]["value"] == 1.2
    assert targets["latency_p50_over_floor"]["met"] is True
    assert targets["latency_p99_over_floor"]["met"] is True
    assert targets["viewers_latency_p99_over_floor"] == {
        "description": "with viewers: p99 / floor",
        "limit": 2.0,
        "compare": "<=",
        "value": 3.0,
        "met": False,
    }
    assert targets["viewers_jitter_p99_ms"]["met"] is False
    assert targets["max_rate_times_floor"]["value"] == 0.9
    assert targets["max_rate_times_floor"]["met"] is True
    assert targets["latency_p50_over_donkeycar"]["value"] == 0.06
    assert targets["latency_p50_over_donkeycar"]["met"] is True
    # jitter against DonkeyCar's comes from the interleaved rounds, not the separate windows
    assert targets["jitter_p99_over_donkeycar"]["value"] == 1.25
    assert targets["jitter_p99_over_donkeycar"]["met"] is False
    assert targets["service_process_cost_p50_ms"]["met"] is True
    assert targets["viewers_cost_p50_ms"]["met"] is False


def test_a_verdict_is_resolved_only_when_chance_could_not_change_it() -> None:
    targets = evaluate_targets(_report())
    jitter = targets["jitter_p99_over_donkeycar"]
    assert (jitter["spread"], jitter["resolved"]) == ([0.8, 1.6], False)  # 1.0 is inside
    service = targets["service_process_cost_p50_ms"]  # every round at or under 0.1 ms
    assert (service["spread"], service["resolved"]) == ([-0.02, 0.1], True)
    viewers = targets["viewers_cost_p50_ms"]  # every round over 0.1 ms: a resolved miss
    assert (viewers["met"], viewers["spread"], viewers["resolved"]) == (False, [0.2, 0.4], True)
    assert "spread" not in targets["latency_p50_over_floor"]  # one window: no spread to give


def test_rate_target_is_a_lower_bound() -> None:
    report = _report()
    report["ours"]["max_rate_hz"] = 700.0  # 0.7 x 1/floor
    assert evaluate_targets(report)["max_rate_times_floor"]["met"] is False


def test_failed_or_skipped_configuration_is_not_measured_with_reason() -> None:
    report = _report()
    report["donkeycar"] = {"error": "BenchError: no latency samples"}
    del report["ours_viewers"]
    targets = evaluate_targets(report)
    donkey = targets["latency_p50_over_donkeycar"]
    assert donkey["met"] is None and donkey["value"] is None
    assert "no latency samples" in donkey["reason"]
    assert targets["viewers_jitter_p99_ms"]["reason"] == "ours_viewers: not run"
    assert targets["latency_p50_over_floor"]["met"] is True


def test_table_has_a_column_per_configuration_and_every_verdict() -> None:
    report = _report()
    report["targets"] = evaluate_targets(report)
    table = format_table(report, ("ours", "ours_viewers", "donkeycar"))
    header = table.splitlines()[0]
    assert "ours+4 viewers" in header and "donkeycar" in header
    assert "donkeycar: reproduced" in table
    assert "period jitter p99 over all rounds: alone 0.4, service 0.5, donkeycar 0.4 ms" in table
    assert "Test CPU, 2 cores" in table
    assert "MISSED" in table and " met" in table
    assert "(<= 1) MISSED [chance: 0.8 to 1.6, not resolved: within chance]" in table
    assert "(<= 0.1) MISSED [chance: 0.2 to 0.4, resolved]" in table
    verdicts = table.split("targets:\n")[1].splitlines()
    assert len(verdicts) == len(TARGETS)


def test_table_names_a_configuration_that_failed() -> None:
    report = _report()
    report["donkeycar"] = {"error": "ImportError: nothing"}
    report["targets"] = evaluate_targets(report)
    table = format_table(report, ("ours", "donkeycar"))
    assert "donkeycar: not measured: ImportError: nothing" in table
    assert "not measured" in table.split("targets:")[1]


def test_table_says_how_often_the_car_faulted_and_was_re_armed() -> None:
    report = _report()
    report["ours_viewers"]["faults"] = ["inference took 102 ms, bound 67 ms"] * 3
    table = format_table(report, ("ours", "ours_viewers"))
    assert (
        "ours_viewers: the car latched 3 safety fault(s), re-armed each time "
        "(first: inference took 102 ms, bound 67 ms)"
    ) in table
    assert "ours: the car latched" not in table
