"""The short table ``vehicle bench`` prints: one column per configuration, then the targets."""

from __future__ import annotations

from typing import Any

ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("floor ms (preprocess+infer)", ("floor_ms",)),
    ("floor ms at the rate", ("paced_floor_ms",)),
    ("latency p50 ms", ("latency_ms", "p50")),
    ("latency p99 ms", ("latency_ms", "p99")),
    ("  of which wake-up", ("latency_breakdown_p50_ms", "wake")),
    ("  of which inference", ("latency_breakdown_p50_ms", "inference")),
    ("  of which preprocess+output", ("latency_breakdown_p50_ms", "preprocess_and_output")),
    ("latency p50 / floor", ("latency_over_floor", "p50")),
    ("latency p50 / floor at rate", ("latency_over_paced_floor", "p50")),
    ("jitter p50 ms", ("jitter_ms", "p50")),
    ("jitter p99 ms", ("jitter_ms", "p99")),
    ("jitter max ms", ("jitter_ms", "max")),
    ("rate Hz (target)", ("rate_hz",)),
    ("rate Hz (achieved)", ("achieved_hz",)),
    ("max rate Hz", ("max_rate_hz",)),
    ("cpu ms / step", ("cpu_ms_per_step",)),
    ("rss MB", ("rss_mb",)),
)


def _cell(result: dict[str, Any], path: tuple[str, ...]) -> str:
    value: Any = result
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return "-"
        value = value[key]
    if isinstance(value, float):
        return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def _heading(name: str, result: dict[str, Any]) -> str:
    if name == "ours_viewers":
        return f"ours+{result.get('viewers', '?')} viewers"
    return name


INTERLEAVED = "service_cost"  # not a loop of its own: a line of differences, not a column
MODEL_OPEN = "model_open"  # likewise: one line


def _interleaved_line(result: dict[str, Any]) -> str:
    medians = result["medians_ms"]
    parts = [
        f"{name} p50 {figures['p50']:.3g} / p99 {figures['p99']:.3g} ms"
        for name, figures in medians.items()
    ]
    jitter = ", ".join(f"{name} {ms:.3g}" for name, ms in result["pooled_jitter_p99_ms"].items())
    return (
        f"{INTERLEAVED} ({result['rounds']} interleaved rounds of {result['window_s']:g} s): "
        + "; ".join(parts)
        + f"; period jitter p99 over all rounds: {jitter} ms"
    )


def format_table(report: dict[str, Any], configurations: tuple[str, ...]) -> str:
    columns = [
        (name, report[name])
        for name in configurations
        if name in report and name not in (INTERLEAVED, MODEL_OPEN)
    ]
    header = ["", *(_heading(name, result) for name, result in columns)]
    rows = [header] + [[label, *(_cell(r, path) for _, r in columns)] for label, path in ROWS]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    for name, result in columns:
        if "error" in result:
            lines.append(f"{name}: not measured: {result['error']}")
        elif name == "donkeycar":
            lines.append(f"donkeycar: {result['implementation']}")
        if result.get("faults"):
            faults = result["faults"]
            lines.append(
                f"{name}: the car latched {len(faults)} safety fault(s), re-armed each time "
                f"(first: {faults[0]})"
            )
    interleaved = report.get(INTERLEAVED)
    if interleaved is not None:
        if "error" in interleaved:
            lines.append(f"{INTERLEAVED}: not measured: {interleaved['error']}")
        else:
            lines.append(_interleaved_line(interleaved))
    opening = report.get(MODEL_OPEN)
    if opening is not None:
        lines.append(
            f"{MODEL_OPEN}: not measured: {opening['error']}"
            if "error" in opening
            else f"{MODEL_OPEN}: opening the model took {opening['open_ms']:g} ms while driving; "
            f"worst pulse interval {opening['worst_interval_while_opening_ms']:g} ms "
            f"(quiet: {opening['worst_interval_quiet_ms']:g} ms), a stall of "
            f"{opening['stall_periods']:g} periods"
        )
    model = report.get("model", {})
    if "engine" in model:
        lines.append(
            f"model: {model['path']}, driven by {model['engine']} {model['precision']}"
            + (f" (int8 {model['reduced']})" if model["reduced"] else "")
        )
    machine = report.get("machine", {})
    lines.append(
        f"machine: {machine.get('cpu')}, {machine.get('cores')} cores, "
        f"python {machine.get('python')}, onnxruntime {machine.get('onnxruntime')}"
    )
    lines.append("targets:")
    for target in report.get("targets", {}).values():
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        value = "-" if target["value"] is None else f"{target['value']:.3g}"
        spread = ""
        if "spread" in target:
            low, high = target["spread"]
            within = "resolved" if target["resolved"] else "not resolved: within chance"
            spread = f" [chance: {low:.3g} to {high:.3g}, {within}]"
        lines.append(
            f"  {target['description']}: {value} ({target['compare']} "
            f"{target['limit']:g}) {verdict}{spread}"
        )
    return "\n".join(lines)
