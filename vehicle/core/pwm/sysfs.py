"""Linux kernel PWM through sysfs (``/sys/class/pwm/pwmchipN/pwmM/...``).

On the DeepRacer car the PCA9685 behind ``i2c-0`` (``i2c-1`` on a Raspberry Pi overlay) is a
kernel PWM chip: throttle on pwm0, steering on pwm1. A channel is exported, its ``period``
written before any ``duty_cycle`` (the kernel rejects a duty longer than the period), and it is
enabled after its first duty. Closing does not unexport: the kernel driver would stop the
pulse, and the outputs must keep the last (neutral) pulse, as after a crash. The tail light's
outputs (pwm2-4 on DeepRacer) are exported the first time a colour is set.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from calibration.model import Channel
from vehicle.config import PWM_PERIOD_NS
from vehicle.core.pwm.base import PwmBackend, PwmError
from vehicle.core.pwm.outputs import led_outputs, output_map

DEFAULT_ROOT = Path("/sys/class/pwm")
I2C_ADAPTERS = ("i2c-0", "i2c-1")
DEEPRACER_LED = (2, 3, 4)
AttributeWriter = Callable[[Path, str], None]


def write_attribute(path: Path, value: str) -> None:
    """One ``write()`` of the whole value, as sysfs attributes require."""
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _chip_number(path: Path) -> int:
    suffix = path.name.removeprefix("pwmchip")
    return int(suffix) if suffix.isdigit() else -1


def _on_i2c_adapter(chip: Path) -> bool:
    """Whether the chip's ``device`` link resolves below ``i2c-0`` or ``i2c-1``."""
    return any(part in I2C_ADAPTERS for part in Path(os.path.realpath(chip / "device")).parts)


def find_chip(root: Path, chip: int | None = None) -> Path:
    """The explicit chip; else the only one; else the one on DeepRacer's I2C adapter."""
    if chip is not None:
        path = root / f"pwmchip{chip}"
        if not path.is_dir():
            raise PwmError(f"sysfs: no PWM chip at {path}")
        return path
    if not root.is_dir():
        raise PwmError(f"sysfs: {root} does not exist (kernel without PWM support?)")
    chips = sorted(root.glob("pwmchip*"), key=_chip_number)
    if not chips:
        raise PwmError(f"sysfs: no pwmchip* under {root}")
    if len(chips) == 1:
        return chips[0]
    on_i2c = [path for path in chips if _on_i2c_adapter(path)]
    if len(on_i2c) == 1:
        return on_i2c[0]
    names = ", ".join(path.name for path in chips)
    which = "none is" if not on_i2c else "several are"
    raise PwmError(
        f"sysfs: {len(chips)} PWM chips under {root} ({names}) and {which} on "
        f"{' or '.join(I2C_ADAPTERS)}; choose one with --pwm-chip N"
    )


class SysfsPwm(PwmBackend):
    """Two channels of one kernel PWM chip."""

    name = "sysfs"

    def __init__(
        self,
        root: Path = DEFAULT_ROOT,
        chip: int | None = None,
        outputs: Mapping[str, int] | None = None,
        period_ns: int = PWM_PERIOD_NS,
        export_timeout_s: float = 5.0,
        write: AttributeWriter = write_attribute,
        led: Sequence[int] | None = DEEPRACER_LED,
    ) -> None:
        super().__init__(period_ns)
        self._write_attribute = write
        self._export_timeout_s = export_timeout_s
        self.chip_dir = find_chip(Path(root), chip)
        npwm = self._read_npwm()
        self.outputs = output_map(
            outputs if outputs is not None else {"throttle": 0, "steering": 1},
            npwm,
            f"output of {self.chip_dir.name}",
            self.name,
        )
        self.led_outputs = led_outputs(led, npwm, self.outputs, self.name)
        self._dirs: dict[Channel, Path] = {}
        self._enabled: set[Channel] = set()
        self._led_dirs: dict[int, Path] = {}
        for channel, number in self.outputs.items():
            directory = self._export(number, export_timeout_s)
            self._set(directory / "period", str(period_ns))
            self._dirs[channel] = directory

    def _read_npwm(self) -> int:
        path = self.chip_dir / "npwm"
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError) as exc:
            raise PwmError(f"sysfs: cannot read the channel count {path}: {exc}") from exc

    def _set(self, path: Path, value: str) -> None:
        try:
            self._write_attribute(path, value)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise PwmError(f"sysfs: cannot write {value} to {path}: {reason}") from exc

    def _export(self, number: int, timeout_s: float) -> Path:
        """Export ``pwm<number>`` unless a previous run did, and wait until udev settles."""
        directory = self.chip_dir / f"pwm{number}"
        if not directory.is_dir():
            self._set(self.chip_dir / "export", str(number))
        deadline = time.monotonic() + timeout_s
        ready = directory / "duty_cycle"
        while not (ready.exists() and os.access(ready, os.W_OK)):
            if time.monotonic() >= deadline:
                raise PwmError(
                    f"sysfs: {ready} did not become writable within {timeout_s:g} s of export"
                )
            time.sleep(0.01)
        return directory

    def _write(self, channel: Channel, ns: int) -> None:
        directory = self._dirs[channel]
        self._set(directory / "duty_cycle", str(ns))
        if channel not in self._enabled:
            self._set(directory / "enable", "1")
            self._enabled.add(channel)

    def _write_led(self, duties_ns: tuple[int, int, int]) -> None:
        assert self.led_outputs is not None  # set_led checked it
        for number, ns in zip(self.led_outputs, duties_ns, strict=True):
            directory = self._led_dirs.get(number)
            first = directory is None
            if directory is None:
                directory = self._export(number, self._export_timeout_s)
                self._set(directory / "period", str(self.period_ns))
            self._set(directory / "duty_cycle", str(ns))
            if first:
                self._set(directory / "enable", "1")
                self._led_dirs[number] = directory
