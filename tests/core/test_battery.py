"""The battery level on DeepRacer's 0..10 scale (-1: not connected), from each source: a
fake power_supply tree, DeepRacer's gauge on a fake SMBus, and the simulated pack; then
through the drive's status to the console's route."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from vehicle.config import BatterySettings, Settings
from vehicle.core.battery import (
    NOT_CONNECTED,
    BatteryError,
    BatteryMonitor,
    FuelGaugeBattery,
    NoBattery,
    PowerSupplyBattery,
    SimulatedBattery,
    find_gauge_bus,
    gauge_level,
    open_battery,
)
from vehicle.core.car import DriveCore
from vehicle.core.pwm.mock import MockPwm
from vehicle.core.pwm.sim import SimPwm

from ..pwm.conftest import smbus_module

GAUGE_ADDRESS, LEVEL_REGISTER = 0x3F, 0x03


class FakeGauge:
    """DeepRacer's fuel gauge: registers read over SMBus; it can stop answering."""

    def __init__(self, level_byte: int) -> None:
        self.registers = bytearray(256)
        self.registers[LEVEL_REGISTER] = level_byte
        self.present = True
        self.reads: list[int] = []

    def read(self, register: int) -> int:
        self.reads.append(register)
        return self.registers[register]


@pytest.fixture
def gauge(monkeypatch: pytest.MonkeyPatch) -> FakeGauge:
    chip = FakeGauge(0xD5)
    monkeypatch.setitem(sys.modules, "smbus2", smbus_module({7: {GAUGE_ADDRESS: chip}}))
    return chip


def supply(root: Path, name: str, kind: str, capacity: int | None, present: str | None = None):
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "type").write_text(f"{kind}\n")
    if capacity is not None:
        (folder / "capacity").write_text(f"{capacity}\n")
    if present is not None:
        (folder / "present").write_text(f"{present}\n")
    return folder


def dev_tree(root: Path, buses: dict[int, str]) -> Path:
    """/sys/class/i2c-dev with each bus linked below the named PCI device."""
    dev = root / "class" / "i2c-dev"
    dev.mkdir(parents=True)
    for number, pci in buses.items():
        target = (
            root / "devices" / "pci0000:00" / pci / f"i2c-{number}" / "i2c-dev" / f"i2c-{number}"
        )
        target.mkdir(parents=True)
        os.symlink(target, dev / f"i2c-{number}")
    return dev


@pytest.mark.parametrize(
    "byte, level",
    [(0xFF, 10), (0xEC, 10), (0xE0, 10), (0xDF, 9), (0xD3, 8), (0xC5, 4), (0xB4, 1), (0x8C, 0)],
)
def test_gauge_bytes_map_through_the_cars_table(byte: int, level: int) -> None:
    assert gauge_level(byte) == level


def test_below_the_table_the_gauge_reads_not_connected() -> None:
    assert gauge_level(0x8B) == NOT_CONNECTED
    assert gauge_level(0) == NOT_CONNECTED


def test_the_gauge_is_read_over_smbus(gauge: FakeGauge) -> None:
    battery = FuelGaugeBattery(7, GAUGE_ADDRESS, LEVEL_REGISTER)
    assert battery.read() == 8
    assert gauge.reads == [LEVEL_REGISTER]
    gauge.registers[LEVEL_REGISTER] = 0xC4
    assert battery.read() == 3
    gauge.present = False  # unplugged: the bus answers with an error
    assert battery.read() == NOT_CONNECTED
    assert FuelGaugeBattery(9, GAUGE_ADDRESS, LEVEL_REGISTER).read() == NOT_CONNECTED  # no bus


def test_without_smbus2_the_gauge_is_a_configuration_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "smbus2", None)
    with pytest.raises(BatteryError, match="smbus2"):
        FuelGaugeBattery(7, GAUGE_ADDRESS, LEVEL_REGISTER)


def test_the_gauges_bus_is_found_by_its_pci_device(tmp_path: Path) -> None:
    dev = dev_tree(tmp_path, {0: "0000:00:16.0", 7: "0000:00:17.3", 8: "0000:00:17.4"})
    assert find_gauge_bus(dev) == 7
    assert find_gauge_bus(dev_tree(tmp_path / "other", {1: "0000:00:16.0"})) is None
    assert find_gauge_bus(tmp_path / "missing") is None


@pytest.mark.parametrize(
    "capacity, present, level",
    [(100, None, 10), (99, None, 9), (41, "1", 4), (5, None, 0), (0, None, 0), (80, "0", -1)],
)
def test_power_supply_capacity_in_tenths_rounded_down(tmp_path, capacity, present, level) -> None:
    battery = PowerSupplyBattery(supply(tmp_path, "BAT0", "Battery", capacity, present))
    assert battery.read() == level


def test_an_unreadable_power_supply_reads_not_connected(tmp_path: Path) -> None:
    folder = supply(tmp_path, "BAT0", "Battery", None)
    assert PowerSupplyBattery(folder).read() == NOT_CONNECTED
    (folder / "capacity").write_text("lots\n")
    assert PowerSupplyBattery(folder).read() == NOT_CONNECTED


def test_the_simulated_pack_drains_with_the_throttle() -> None:
    now = [0.0]
    throttle = [0.0]
    pack = SimulatedBattery(lambda: throttle[0], 10.0, clock=lambda: now[0])
    assert pack.read() == 10
    now[0] += 600  # ten minutes parked: 5 % of full-throttle drain
    assert pack.read() == 10 and pack.charge == pytest.approx(0.95)
    throttle[0] = -1.0  # full reverse drains as forward does
    now[0] += 300
    assert pack.read() == 5 and pack.charge == pytest.approx(0.45)
    now[0] += 3600
    assert pack.read() == 0 and pack.charge == 0.0


def settings_for(tmp_path: Path, **battery: object) -> BatterySettings:
    return BatterySettings(
        power_supply_root=tmp_path / "power_supply",
        i2c_dev_root=tmp_path / "class" / "i2c-dev",
        **battery,  # type: ignore[arg-type]
    )


def test_auto_prefers_a_power_supply_then_the_gauge_then_none(tmp_path, gauge) -> None:
    def auto() -> str:
        return open_battery(settings_for(tmp_path), simulated=False, throttle=float).name

    assert auto() == "none"
    dev_tree(tmp_path, {7: "0000:00:17.3"})
    assert auto() == "i2c"
    supply(tmp_path / "power_supply", "AC", "Mains", None)
    assert auto() == "i2c"  # mains is not a battery
    supply(tmp_path / "power_supply", "BAT1", "Battery", 73)
    assert auto() == "power_supply"
    simulated = open_battery(settings_for(tmp_path), simulated=True, throttle=float)
    assert simulated.name == "sim"


def test_named_sources_that_are_not_there(tmp_path, gauge) -> None:
    with pytest.raises(BatteryError, match="no battery under"):
        open_battery(settings_for(tmp_path, source="power_supply"), simulated=False, throttle=float)
    explicit = open_battery(settings_for(tmp_path, source="i2c"), simulated=False, throttle=float)
    assert explicit.name == "i2c" and explicit.read() == 8  # DeepRacer's bus 7 by default
    none = open_battery(settings_for(tmp_path, source="none"), simulated=True, throttle=float)
    assert isinstance(none, NoBattery) and none.read() == NOT_CONNECTED


def test_the_monitor_keeps_the_newest_reading_and_survives_a_broken_reader() -> None:
    class Flaky:
        name = "flaky"
        calls = 0

        def read(self) -> int:
            self.calls += 1
            if self.calls == 2:
                raise OSError("bus error")
            return 7

    monitor = BatteryMonitor(Flaky(), 60.0)
    assert monitor.level == NOT_CONNECTED
    assert monitor.poll() == 7
    assert monitor.poll() == NOT_CONNECTED
    assert monitor.poll() == 7


def test_the_drive_reports_its_battery_and_a_misconfigured_one_is_not_fatal(
    tmp_path: Path,
) -> None:
    power = tmp_path / "power_supply"
    supply(power, "BAT0", "Battery", 64)
    settings = Settings(
        data_dir=tmp_path / "data",
        battery=BatterySettings(source="power_supply", power_supply_root=power),
    )
    car = DriveCore(settings, MockPwm(), watchdog=False, shared_memory=False)
    car.battery.poll()
    assert (car.status()["battery_level"], car.status()["battery_source"]) == (6, "power_supply")
    car.close()
    missing = Settings(
        data_dir=tmp_path / "data",
        battery=BatterySettings(source="power_supply", power_supply_root=tmp_path / "nothing"),
    )
    car = DriveCore(missing, MockPwm(), watchdog=False, shared_memory=False)
    assert (car.status()["battery_level"], car.status()["battery_source"]) == (-1, "none")
    car.close()


def test_the_simulator_gets_a_simulated_pack_by_default(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        battery=BatterySettings(power_supply_root=tmp_path / "none"),
    )
    car = DriveCore(settings, SimPwm(), watchdog=False, shared_memory=False)
    assert car.battery.reader.name == "sim" and car.battery.poll() == 10
    car.close()
