"""The machine's health, facts and clock from fake /proc and /sys trees, in the shapes the
community car's ``get_device_status``, ``get_device_info`` and ``get_time`` answer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vehicle.device.clock import time_info, timezone_name, utc_offset
from vehicle.device.info import cpu_model, human_size, os_version, ram_amount
from vehicle.device.status import (
    CpuLoad,
    DeviceStatus,
    cpu_frequency_mhz,
    cpu_temperature_c,
    loop_figures,
    memory_used_percent,
)

MEMINFO = "MemTotal:        4000000 kB\nMemFree:          500000 kB\nMemAvailable:    1000000 kB\n"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def stat_line(user: int, idle: int) -> str:
    return f"cpu  {user} 0 0 {idle} 0 0 0 0 0 0\ncpu0 {user} 0 0 {idle} 0 0 0 0 0 0\n"


def test_cpu_load_is_measured_between_two_reads(tmp_path: Path) -> None:
    stat = write(tmp_path / "stat", stat_line(100, 300))
    load = CpuLoad(tmp_path)
    assert load.percent() == pytest.approx(25.0)  # since boot
    stat.write_text(stat_line(190, 310))
    assert load.percent() == pytest.approx(90.0)
    assert load.percent() == 0.0  # nothing elapsed


def test_memory_in_use_counts_what_is_available(tmp_path: Path) -> None:
    write(tmp_path / "meminfo", MEMINFO)
    assert memory_used_percent(tmp_path) == pytest.approx(75.0)
    assert memory_used_percent(tmp_path / "none") == 0.0
    assert ram_amount(tmp_path) == "4GB"


def test_frequency_from_cpufreq_else_cpuinfo(tmp_path: Path) -> None:
    cpus = tmp_path / "cpu"
    for n, cur in enumerate((1_200_000, 1_800_000)):
        write(cpus / f"cpu{n}" / "cpufreq" / "scaling_cur_freq", f"{cur}\n")
        write(cpus / f"cpu{n}" / "cpufreq" / "cpuinfo_max_freq", "2400000\n")
    assert cpu_frequency_mhz(cpus, tmp_path) == (1500.0, 2400.0)
    write(tmp_path / "cpuinfo", "processor\t: 0\ncpu MHz\t\t: 2445.404\n")
    assert cpu_frequency_mhz(tmp_path / "nocpufreq", tmp_path) == (2445.404, 2445.404)


def test_temperature_from_the_first_readable_zone(tmp_path: Path) -> None:
    write(tmp_path / "thermal_zone0" / "temp", "broken\n")
    write(tmp_path / "thermal_zone1" / "temp", "48750\n")
    assert cpu_temperature_c(tmp_path) == 48.75
    assert cpu_temperature_c(tmp_path / "none") is None


def test_loop_figures_from_the_drives_step_records() -> None:
    steps = [{"latency_ms": float(ms), "t_done": i / 15} for i, ms in enumerate(range(10, 30))]
    figures = loop_figures(steps)
    assert figures["latency_mean"] == pytest.approx(19.5)
    assert figures["latency_p95"] == pytest.approx(28.05)
    assert figures["fps_mean"] == pytest.approx(15.0)
    assert loop_figures([]) == {"latency_mean": 0.0, "latency_p95": 0.0, "fps_mean": 0.0}


def test_device_status_has_every_field_as_a_number(tmp_path: Path) -> None:
    write(tmp_path / "proc" / "stat", stat_line(1, 3))
    write(tmp_path / "proc" / "meminfo", MEMINFO)
    status = DeviceStatus(tmp_path, tmp_path / "proc", tmp_path / "thermal", tmp_path / "cpus")
    read = status.read([{"latency_ms": 12.0, "t_done": 0.0}, {"latency_ms": 14.0, "t_done": 0.1}])
    assert set(read) == {
        "cpu_percent",
        "cpu_temp",
        "cpu_freq",
        "cpu_freq_max",
        "memory_usage",
        "free_disk",
        "latency_mean",
        "latency_p95",
        "fps_mean",
    }
    assert all(isinstance(v, float) for v in read.values())
    assert read["cpu_temp"] == 0.0  # unknown: the community car's 0.0, never null
    assert 0.0 < read["free_disk"] <= 100.0 and read["fps_mean"] == pytest.approx(10.0)


@pytest.mark.parametrize(
    "n, shown",
    [(0, "0"), (1023, "1023"), (1024, "1.0K"), (24_000_000, "23M"), (7.3 * 1024**3, "7.3G")],
)
def test_sizes_print_as_du_and_df_print_them(n: float, shown: str) -> None:
    assert human_size(n) == shown


def test_cpu_model_and_os_version_from_their_files(tmp_path: Path) -> None:
    write(tmp_path / "cpuinfo", "model name\t: Intel(R) Atom(TM) Processor E3930 @ 1.30GHz\n")
    assert cpu_model(tmp_path) == "Intel Atom Processor E3930 @ 1.30GHz"
    write(tmp_path / "pi" / "cpuinfo", "processor\t: 0\nModel\t\t: Raspberry Pi 5 Model B\n")
    assert cpu_model(tmp_path / "pi") == "Raspberry Pi 5 Model B"
    release = write(tmp_path / "os-release", 'NAME="Ubuntu"\nPRETTY_NAME="Ubuntu 20.04.6 LTS"\n')
    assert os_version((tmp_path / "missing", release)) == "Ubuntu 20.04.6 LTS"
    assert os_version((tmp_path / "missing",)) == "--"


def test_time_zone_from_tz_then_etc(tmp_path: Path) -> None:
    assert timezone_name(tmp_path, {"TZ": ":Europe/Berlin"}) == "Europe/Berlin"
    write(tmp_path / "timezone", "America/Chicago\n")
    assert timezone_name(tmp_path, {}) == "America/Chicago"
    linked = tmp_path / "linked"
    linked.mkdir()
    os.symlink("/usr/share/zoneinfo/Asia/Tokyo", linked / "localtime")
    assert timezone_name(linked, {}) == "Asia/Tokyo"


@pytest.mark.parametrize("seconds, shown", [(0, "+0000"), (7200, "+0200"), (-12600, "-0330")])
def test_utc_offset_as_the_community_car_writes_it(seconds: int, shown: str) -> None:
    assert utc_offset(seconds) == shown


def test_time_info_fields() -> None:
    info = time_info(now=lambda: 0.0)
    assert set(info) == {"time", "timezone", "timezone_abbr", "utc_offset", "timezone_changed"}
    assert info["timezone_changed"] is False and len(info["time"]) == 19
