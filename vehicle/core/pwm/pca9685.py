"""PCA9685 16-channel PWM controller over I2C (smbus2), without the kernel driver.

The chip counts 4096 ticks per period from a 25 MHz oscillator divided by PRESCALE + 1, so
the real period is a little off the requested one (19.988 ms for 20 ms); pulse widths are
converted with the real period. PRESCALE can only be written while the oscillator sleeps.
Each pulse is one auto-incremented block write of LEDn_ON_L..LEDn_OFF_H, so the chip never
outputs a half-updated width. The tail light (outputs 2-4 on DeepRacer) shares the bus, so
every bus transfer holds one lock; a colour of 0 is the chip's full-off bit, not a 0-tick
pulse.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from calibration.model import Channel
from vehicle.config import PWM_PERIOD_NS
from vehicle.core.pwm.base import PwmBackend, PwmError
from vehicle.core.pwm.outputs import led_outputs, output_map

OSCILLATOR_HZ = 25_000_000
TICKS = 4096
CHANNELS = 16
MODE1, MODE2, PRESCALE, LED0_ON_L = 0x00, 0x01, 0xFE, 0x06
RESTART, AUTO_INCREMENT, SLEEP = 0x80, 0x20, 0x10  # MODE1 bits
OUTDRV = 0x04  # MODE2: totem-pole outputs, what servos and ESCs want
FULL_OFF = 0x10  # LEDn_OFF_H bit 4: the output stays low
DEEPRACER_LED = (2, 3, 4)
PRESCALE_MIN, PRESCALE_MAX = 3, 255
OSCILLATOR_SETTLE_S = 0.0005


def prescale_for(period_ns: int) -> int:
    """PRESCALE = round(osc / (4096 * f)) - 1: 121 for 50 Hz."""
    prescale = round(OSCILLATOR_HZ * period_ns / (TICKS * 1e9)) - 1
    if not PRESCALE_MIN <= prescale <= PRESCALE_MAX:
        raise PwmError(f"pca9685: period {period_ns} ns is outside what the prescaler can make")
    return prescale


class Pca9685Pwm(PwmBackend):
    """Steering and throttle on two of the chip's sixteen outputs."""

    name = "pca9685"

    def __init__(
        self,
        bus: int = 1,
        address: int = 0x40,
        outputs: Mapping[str, int] | None = None,
        period_ns: int = PWM_PERIOD_NS,
        led: Sequence[int] | None = DEEPRACER_LED,
    ) -> None:
        super().__init__(period_ns)
        self.outputs = output_map(
            outputs if outputs is not None else {"throttle": 0, "steering": 1},
            CHANNELS,
            "output",
            self.name,
        )
        self.led_outputs = led_outputs(led, CHANNELS, self.outputs, self.name)
        self._bus_lock = threading.Lock()  # the drive loop and the tail light share the bus
        if isinstance(address, bool) or not isinstance(address, int) or not 0x03 <= address <= 0x77:
            raise PwmError(f"pca9685: I2C address must be 0x03..0x77, got {address!r}")
        self.prescale = prescale_for(period_ns)
        # The tick in ns: (prescale + 1) oscillator cycles of 40 ns.
        self.tick_ns = (self.prescale + 1) * 1e9 / OSCILLATOR_HZ
        self.address = address
        self._where = f"0x{address:02x} on /dev/i2c-{bus}"
        try:
            from smbus2 import SMBus  # lazy: only needed on this hardware
        except ImportError as exc:
            raise PwmError(
                "pca9685: smbus2 is not installed; install the pca9685 extra: "
                "pip install 'vehicle[pca9685]'"
            ) from exc
        try:
            self._bus: Any = SMBus(bus)
        except OSError as exc:
            raise PwmError(f"pca9685: cannot open /dev/i2c-{bus}: {exc}") from exc
        try:
            self._start_oscillator()
        except OSError as exc:
            self._bus.close()
            raise PwmError(f"pca9685: no answer from {self._where}: {exc}") from exc

    def _start_oscillator(self) -> None:
        """Sleep, set PRESCALE, wake, restart the channels, enable register auto-increment."""
        bus, address = self._bus, self.address
        bus.write_byte_data(address, MODE2, OUTDRV)
        awake = bus.read_byte_data(address, MODE1) & ~(RESTART | SLEEP) & 0xFF
        bus.write_byte_data(address, MODE1, awake | SLEEP)
        bus.write_byte_data(address, PRESCALE, self.prescale)
        bus.write_byte_data(address, MODE1, awake)
        time.sleep(OSCILLATOR_SETTLE_S)
        bus.write_byte_data(address, MODE1, awake | RESTART | AUTO_INCREMENT)

    def ticks_for(self, ns: int) -> int:
        """OFF count for a pulse starting at tick 0: 1.5 ms at 50 Hz is 307."""
        ticks = round(ns / self.tick_ns)
        if ticks >= TICKS:
            raise PwmError(
                f"pca9685: pulse {ns} ns does not fit in the {self.tick_ns * TICKS:.0f} ns period"
            )
        return ticks

    def _write(self, channel: Channel, ns: int) -> None:
        off = self.ticks_for(ns)
        self._block(self.outputs[channel], [0, 0, off & 0xFF, off >> 8], channel)

    def _write_led(self, duties_ns: tuple[int, int, int]) -> None:
        assert self.led_outputs is not None  # set_led checked it
        for number, ns in zip(self.led_outputs, duties_ns, strict=True):
            off = self.ticks_for(ns)
            data = [0, 0, off & 0xFF, off >> 8] if off else [0, 0, 0, FULL_OFF]
            self._block(number, data, f"tail light output {number}")

    def _block(self, output: int, data: list[int], what: str) -> None:
        try:
            with self._bus_lock:
                self._bus.write_i2c_block_data(self.address, LED0_ON_L + 4 * output, data)
        except OSError as exc:
            raise PwmError(f"pca9685: cannot write {what} to {self._where}: {exc}") from exc

    def _close(self) -> None:
        """Release the bus; the chip keeps generating the last pulses."""
        self._bus.close()
