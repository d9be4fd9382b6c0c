"""Faithful fakes of the hardware interfaces the PWM back-ends drive.

Each fake follows the real interface's rules and rejects what the real one rejects, so a
back-end that writes in the wrong order or with the wrong values fails here as on the car.
"""

from __future__ import annotations

import errno
import importlib.abc
import importlib.util
import os
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest


def _os_error(code: int, path: Path) -> OSError:
    return OSError(code, os.strerror(code), str(path))


class FakeSysfs:
    """A ``/sys/class/pwm`` tree in a temp dir; ``write`` applies the kernel's rules.

    ``chips`` maps a chip number to (npwm, I2C adapter name or None). ``export_lag_s`` delays
    the appearance of an exported ``pwmM`` directory, as udev does; None means never.
    """

    def __init__(
        self,
        base: Path,
        chips: dict[int, tuple[int, str | None]],
        export_lag_s: float | None = 0.0,
    ) -> None:
        self.root = base / "class" / "pwm"
        self.root.mkdir(parents=True)
        self.export_lag_s = export_lag_s
        self.writes: list[tuple[str, str]] = []
        self.errors: dict[str, int] = {}  # relative path -> errno to fail with
        self._timers: list[threading.Timer] = []
        for number, (npwm, adapter) in chips.items():
            chip = self.root / f"pwmchip{number}"
            chip.mkdir()
            (chip / "npwm").write_text(f"{npwm}\n")
            (chip / "export").write_text("")
            (chip / "unexport").write_text("")
            parent = (
                f"pci0000:00/{adapter}/{adapter[-1]}-0040" if adapter else f"platform/pwm{number}"
            )
            device = base / "devices" / parent
            device.mkdir(parents=True)
            (chip / "device").symlink_to(device)

    def channel_dir(self, chip: int, channel: int) -> Path:
        return self.root / f"pwmchip{chip}" / f"pwm{channel}"

    def make_channel(self, chip: int, channel: int, period: int = 0, duty: int = 0) -> Path:
        """What ``export`` creates (also used to stage a channel a previous run exported)."""
        directory = self.channel_dir(chip, channel)
        staging = directory.with_name(f".{directory.name}")  # the kernel adds all files at once
        staging.mkdir()
        for name, value in (
            ("period", period),
            ("duty_cycle", duty),
            ("enable", 0),
            ("polarity", "normal"),
        ):
            (staging / name).write_text(f"{value}\n")
        staging.rename(directory)
        return directory

    def read(self, chip: int, channel: int, name: str) -> str:
        return (self.channel_dir(chip, channel) / name).read_text().strip()

    def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
            timer.join()

    @staticmethod
    def _uint(value: str, path: Path) -> int:
        text = value.removesuffix("\n")
        if not text.isdigit():
            raise _os_error(errno.EINVAL, path)
        return int(text)

    def write(self, path: Path, value: str) -> None:
        rel = str(path.relative_to(self.root))
        self.writes.append((rel, value))
        if rel in self.errors:
            raise _os_error(self.errors[rel], path)
        if not path.is_file():
            raise _os_error(errno.ENOENT, path)
        if path.name not in ("export", "period", "duty_cycle", "enable"):
            raise _os_error(errno.EACCES, path)  # read-only here: npwm, unexport, polarity...
        if path.name == "enable":
            if value not in ("0", "1"):
                raise _os_error(errno.EINVAL, path)
            if value == "1" and self._uint((path.parent / "period").read_text(), path) == 0:
                raise _os_error(errno.EINVAL, path)
            path.write_text(f"{value}\n")
            return
        number = self._uint(value, path)
        if path.name == "export":
            self._export(path.parent, number, path)
            return
        period = self._uint((path.parent / "period").read_text(), path)
        duty = self._uint((path.parent / "duty_cycle").read_text(), path)
        enabled = (path.parent / "enable").read_text().strip() == "1"
        if path.name == "period" and (number < duty or (enabled and number == 0)):
            raise _os_error(errno.EINVAL, path)
        if path.name == "duty_cycle" and number > period:
            raise _os_error(errno.EINVAL, path)
        path.write_text(f"{number}\n")

    def _export(self, chip: Path, number: int, path: Path) -> None:
        if number >= int((chip / "npwm").read_text()):
            raise _os_error(errno.ENODEV, path)
        if (chip / f"pwm{number}").exists():
            raise _os_error(errno.EBUSY, path)
        chip_number = int(chip.name.removeprefix("pwmchip"))
        if self.export_lag_s == 0.0:
            self.make_channel(chip_number, number)
        elif self.export_lag_s is not None:
            timer = threading.Timer(self.export_lag_s, self.make_channel, (chip_number, number))
            self._timers.append(timer)
            timer.start()


@pytest.fixture
def sysfs_factory(tmp_path: Path) -> Iterator:
    made: list[FakeSysfs] = []

    def make(
        chips: dict[int, tuple[int, str | None]] | None = None, export_lag_s: float | None = 0.0
    ) -> FakeSysfs:
        fake = FakeSysfs(tmp_path / f"sys{len(made)}", chips or {0: (16, "i2c-0")}, export_lag_s)
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.close()


class FakeGpio:
    """RPi.GPIO's module-level API with its real constants and its real refusals."""

    BCM, BOARD, OUT, IN, LOW, HIGH = 11, 10, 0, 1, 0, 1

    def __init__(self) -> None:
        self.mode: int | None = None
        self.outputs: dict[int, int] = {}  # pin -> initial level, for pins set up as outputs
        self.pwms: dict[int, FakePwmChannel] = {}
        self.cleaned: list[list[int] | None] = []

    def setmode(self, mode: int) -> None:
        if mode not in (self.BCM, self.BOARD):
            raise ValueError("An invalid mode was passed to setmode()")
        if self.mode is not None and mode != self.mode:
            raise ValueError("A different mode has already been set!")
        self.mode = mode

    def setup(self, pin: int, direction: int, initial: int = -1) -> None:
        if self.mode is None:
            raise RuntimeError(
                "Please set pin numbering mode using GPIO.setmode(GPIO.BOARD) or "
                "GPIO.setmode(GPIO.BCM)"
            )
        if not 0 <= pin <= 27:
            raise ValueError("The channel sent is invalid on a Raspberry Pi")
        if direction != self.OUT:
            raise ValueError("An invalid direction was passed to setup()")
        self.outputs[pin] = initial

    def PWM(self, pin: int, frequency: float) -> FakePwmChannel:
        if pin not in self.outputs:
            raise RuntimeError("You must setup() the GPIO channel as an output first")
        if pin in self.pwms:
            raise RuntimeError("A PWM object already exists for this GPIO channel")
        if frequency <= 0.0:
            raise ValueError("frequency must be greater than 0.0")
        self.pwms[pin] = FakePwmChannel(self, pin, frequency)
        return self.pwms[pin]

    def cleanup(self, channels: list[int] | None = None) -> None:
        self.cleaned.append(None if channels is None else list(channels))
        for pin in list(self.outputs) if channels is None else channels:
            self.outputs.pop(pin, None)
            self.pwms.pop(pin, None)

    def module(self) -> types.ModuleType:
        module = types.ModuleType("RPi.GPIO")
        for name in ("BCM", "BOARD", "OUT", "IN", "LOW", "HIGH"):
            setattr(module, name, getattr(self, name))
        for name in ("setmode", "setup", "PWM", "cleanup"):
            setattr(module, name, getattr(self, name))
        return module


class FakePwmChannel:
    """RPi.GPIO's PWM object: duty in percent, 0.0..100.0, as a float."""

    def __init__(self, gpio: FakeGpio, pin: int, frequency: float) -> None:
        self.gpio, self.pin, self.frequency = gpio, pin, frequency
        self.running = False
        self.duties: list[float] = []

    @staticmethod
    def _check(duty: float) -> None:
        if not 0.0 <= duty <= 100.0:
            raise ValueError("dutycycle must have a value from 0.0 to 100.0")

    def start(self, duty: float) -> None:
        self._check(duty)
        self.running = True
        self.duties.append(duty)

    def ChangeDutyCycle(self, duty: float) -> None:
        self._check(duty)
        self.duties.append(duty)

    def stop(self) -> None:
        self.running = False


@pytest.fixture
def fake_gpio(monkeypatch: pytest.MonkeyPatch) -> FakeGpio:
    gpio = FakeGpio()
    module = gpio.module()
    package = types.ModuleType("RPi")
    package.GPIO = module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "RPi", package)
    monkeypatch.setitem(sys.modules, "RPi.GPIO", module)
    return gpio


class _RefusingLoader(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``name`` by raising RuntimeError, as RPi.GPIO does off a Raspberry Pi."""

    def __init__(self, name: str, message: str) -> None:
        self.name, self.message = name, message

    def find_spec(self, fullname, path, target=None):  # type: ignore[no-untyped-def]
        if fullname == self.name:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):  # type: ignore[no-untyped-def]
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        raise RuntimeError(self.message)


@pytest.fixture
def gpio_off_a_pi(monkeypatch: pytest.MonkeyPatch) -> None:
    package = types.ModuleType("RPi")
    package.__path__ = []  # a package, so that RPi.GPIO is looked up through meta_path
    monkeypatch.setitem(sys.modules, "RPi", package)
    monkeypatch.delitem(sys.modules, "RPi.GPIO", raising=False)
    loader = _RefusingLoader("RPi.GPIO", "This module can only be run on a Raspberry Pi!")
    monkeypatch.setattr(sys, "meta_path", [loader, *sys.meta_path])


MODE1, MODE2, PRESCALE = 0x00, 0x01, 0xFE
RESTART, AUTO_INCREMENT, SLEEP = 0x80, 0x20, 0x10


class FakePca9685:
    """PCA9685 registers with the datasheet's rules that matter to a driver.

    PRESCALE writes are ignored unless SLEEP is set; block writes advance the register only
    with auto-increment (AI) set; writing RESTART=1 clears a pending restart.
    """

    def __init__(self) -> None:
        self.registers = bytearray(256)
        self.registers[MODE1] = 0x11  # power-on: SLEEP | ALLCALL
        self.registers[MODE2] = 0x04
        self.registers[PRESCALE] = 0x1E  # power-on: 200 Hz
        self.log: list[tuple] = []
        self.restarted = False
        self.present = True  # False: the chip stops answering (unplugged, brown-out)

    def read(self, register: int) -> int:
        self.log.append(("read", register))
        return self.registers[register]

    def write(self, register: int, value: int) -> None:
        self.log.append(("write", register, value))
        self._store(register, value)

    def write_block(self, register: int, data: list[int]) -> None:
        self.log.append(("block", register, list(data)))
        auto_increment = bool(self.registers[MODE1] & AUTO_INCREMENT)
        for offset, value in enumerate(data):
            self._store(register + offset if auto_increment else register, value)

    def _store(self, register: int, value: int) -> None:
        if register == PRESCALE and not self.registers[MODE1] & SLEEP:
            return  # the chip blocks PRESCALE writes while the oscillator runs
        if register == MODE1:
            if value & RESTART:
                self.restarted = True
            value &= ~RESTART
        self.registers[register] = value

    @property
    def sleeping(self) -> bool:
        return bool(self.registers[MODE1] & SLEEP)

    def off_count(self, channel: int) -> int:
        base = 0x06 + 4 * channel
        on = self.registers[base] | (self.registers[base + 1] << 8)
        assert on == 0, "pulses start at tick 0"
        return self.registers[base + 2] | ((self.registers[base + 3] & 0x0F) << 8)


def smbus_module(buses: dict[int, dict[int, FakePca9685]]) -> types.ModuleType:
    """An ``smbus2`` module whose SMBus reaches the fake chips on ``buses``."""

    class SMBus:
        def __init__(self, bus: int) -> None:
            if bus not in buses:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), f"/dev/i2c-{bus}")
            self.bus, self.open = bus, True

        def _chip(self, address: int) -> FakePca9685:
            if not self.open:
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            if address not in buses[self.bus] or not buses[self.bus][address].present:
                raise OSError(errno.EREMOTEIO, os.strerror(errno.EREMOTEIO))
            return buses[self.bus][address]

        @staticmethod
        def _check_byte(value: int) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 255:
                raise ValueError(f"not a byte: {value!r}")

        def read_byte_data(self, address: int, register: int) -> int:
            return self._chip(address).read(register)

        def write_byte_data(self, address: int, register: int, value: int) -> None:
            self._check_byte(value)
            self._chip(address).write(register, value)

        def write_i2c_block_data(self, address: int, register: int, data: list[int]) -> None:
            if len(data) > 32:
                raise ValueError("Data length cannot exceed 32 bytes")
            for value in data:
                self._check_byte(value)
            self._chip(address).write_block(register, data)

        def close(self) -> None:
            self.open = False

    module = types.ModuleType("smbus2")
    module.SMBus = SMBus  # type: ignore[attr-defined]
    return module


@pytest.fixture
def pca_chip(monkeypatch: pytest.MonkeyPatch) -> FakePca9685:
    """One PCA9685 at 0x40 on /dev/i2c-1, reachable through a fake smbus2."""
    chip = FakePca9685()
    monkeypatch.setitem(sys.modules, "smbus2", smbus_module({1: {0x40: chip}}))
    return chip
