"""The battery level, on DeepRacer's scale: 0..10, or -1 when no battery is connected.

Read in the drive process, which has the devices (the console's process has none), by a small
thread that never touches the drive loop. Sources:

- a Linux power_supply of type Battery (``capacity`` in percent): laptops, UPS hats, and any
  fuel gauge with a kernel driver;
- DeepRacer's own gauge: one byte from register 3 of I2C address 0x3f, mapped through the
  table its battery node uses;
- a simulated pack that drains with the throttle, for the simulator.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from vehicle.config import BatterySettings

log = logging.getLogger(__name__)

NOT_CONNECTED = -1
FULL = 10
# DeepRacer's gauge byte -> level, highest first; below the last step: not connected. The
# car's table has an 11 above 0xe0; the API's scale ends at 10, so that step reads 10 here.
GAUGE_LEVELS = (
    (0xE0, 10),
    (0xD9, 9),
    (0xD3, 8),
    (0xCF, 7),
    (0xCB, 6),
    (0xC8, 5),
    (0xC5, 4),
    (0xC3, 3),
    (0xC0, 2),
    (0xB4, 1),
    (0x8C, 0),
)
DEEPRACER_GAUGE_ADAPTER = "0000:00:17.3"  # the PCI device whose I2C adapter has the gauge
DEEPRACER_GAUGE_BUS = 7
SIM_IDLE_SHARE = 0.05  # a parked simulated car still draws this share of full-throttle power


class BatteryError(ValueError):
    """A battery source that is configured but cannot be used."""


class BatteryReader(Protocol):
    name: str

    def read(self) -> int:
        """The level now: 0..10, or -1 when no battery can be read."""
        ...


class NoBattery:
    name = "none"

    def read(self) -> int:
        return NOT_CONNECTED


def gauge_level(byte: int) -> int:
    for threshold, level in GAUGE_LEVELS:
        if byte >= threshold:
            return level
    return NOT_CONNECTED


def find_power_supply(root: Path, name: str = "") -> Path | None:
    """The named supply, else the first one of type Battery."""
    if name:
        path = root / name
        return path if (path / "capacity").is_file() else None
    try:
        supplies = sorted(root.iterdir())
    except OSError:
        return None
    for supply in supplies:
        try:
            if (supply / "type").read_text().strip() == "Battery":
                return supply
        except OSError:
            continue
    return None


class PowerSupplyBattery:
    """``capacity`` percent of a kernel power_supply, in tenths (rounded down: never more
    than there is); a supply that reports itself absent reads as not connected."""

    name = "power_supply"

    def __init__(self, supply: Path) -> None:
        self.supply = supply

    def read(self) -> int:
        try:
            present = self.supply / "present"
            if present.is_file() and present.read_text().strip() == "0":
                return NOT_CONNECTED
            capacity = int((self.supply / "capacity").read_text().strip())
        except (OSError, ValueError):
            return NOT_CONNECTED
        return max(0, min(FULL, capacity // 10))


def find_gauge_bus(i2c_dev_root: Path) -> int | None:
    """The I2C bus on DeepRacer's gauge adapter, found as the car's battery node finds it."""
    try:
        entries = sorted(i2c_dev_root.iterdir())
    except OSError:
        return None
    for entry in entries:
        number = entry.name.removeprefix("i2c-")
        if number.isdigit() and DEEPRACER_GAUGE_ADAPTER in os.path.realpath(entry):
            return int(number)
    return None


class FuelGaugeBattery:
    """DeepRacer's gauge over smbus2: one byte read, mapped through the car's own table."""

    name = "i2c"

    def __init__(self, bus: int, address: int, register: int) -> None:
        try:
            from smbus2 import SMBus  # lazy: only this source needs it
        except ImportError as exc:
            raise BatteryError(
                "the i2c battery needs smbus2: pip install 'vehicle[pca9685]'"
            ) from exc
        self._smbus = SMBus
        self.bus, self.address, self.register = bus, address, register

    def read(self) -> int:
        try:
            bus: Any = self._smbus(self.bus)
        except OSError:
            return NOT_CONNECTED
        try:
            return gauge_level(bus.read_byte_data(self.address, self.register))
        except OSError:
            return NOT_CONNECTED
        finally:
            bus.close()


class SimulatedBattery:
    """A pack that empties in ``minutes_at_full_throttle`` of full throttle (and slowly when
    parked), sampled at each read; it reads 10 while nearly full, as a fresh pack does."""

    name = "sim"

    def __init__(
        self,
        throttle: Callable[[], float],
        minutes_at_full_throttle: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not minutes_at_full_throttle > 0:
            raise BatteryError(
                f"sim_minutes_at_full_throttle must be > 0, got {minutes_at_full_throttle}"
            )
        self._throttle = throttle
        self._full_s = minutes_at_full_throttle * 60.0
        self._clock = clock
        self._t = clock()
        self.charge = 1.0

    def read(self) -> int:
        now = self._clock()
        draw = SIM_IDLE_SHARE + (1.0 - SIM_IDLE_SHARE) * min(1.0, abs(self._throttle()))
        self.charge = max(0.0, self.charge - (now - self._t) / self._full_s * draw)
        self._t = now
        return math.ceil(self.charge * FULL)


def open_battery(
    settings: BatterySettings, *, simulated: bool, throttle: Callable[[], float]
) -> BatteryReader:
    """The configured source; ``auto`` picks what this machine has (BatteryError when a
    source named explicitly is not there)."""
    source = settings.source
    if source == "sim" or (source == "auto" and simulated):
        return SimulatedBattery(throttle, settings.sim_minutes_at_full_throttle)
    if source in ("auto", "power_supply"):
        supply = find_power_supply(settings.power_supply_root, settings.power_supply_name)
        if supply is not None:
            return PowerSupplyBattery(supply)
        if source == "power_supply":
            raise BatteryError(f"no battery under {settings.power_supply_root}")
    if source in ("auto", "i2c"):
        bus = settings.i2c_bus
        if bus is None:
            bus = find_gauge_bus(settings.i2c_dev_root)
        if bus is None and source == "i2c":
            bus = DEEPRACER_GAUGE_BUS
        if bus is not None:
            return FuelGaugeBattery(bus, settings.i2c_address, settings.i2c_register)
    return NoBattery()


class BatteryMonitor:
    """Reads the battery every ``interval_s`` in its own thread; ``level`` is the newest."""

    def __init__(self, reader: BatteryReader, interval_s: float) -> None:
        self.reader = reader
        self.interval_s = interval_s
        self.level = NOT_CONNECTED
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or isinstance(self.reader, NoBattery):
            return
        self._thread = threading.Thread(target=self._run, name="battery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def poll(self) -> int:
        try:
            self.level = self.reader.read()
        except Exception:  # a battery reading must never take the drive process down
            log.exception("battery read failed")
            self.level = NOT_CONNECTED
        return self.level

    def _run(self) -> None:
        self.poll()
        while not self._stop.wait(self.interval_s):
            self.poll()
