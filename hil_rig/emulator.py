"""The rig without the hardware: a pseudo-terminal speaking the firmware's protocol.

Once per PWM period it reads what the mock back-end's state file says the car outputs (the
mock "hardware", which keeps its last pulse after the car process dies, as real PWM does)
and reports it through ``wire.Reporter``, the very code the Pico runs. Faults can be
injected so that tests prove the harness notices them:

- ``offset``: every pulse measures 50 us wider than the car wrote (a miscalibrated output);
- ``drop``: every fifth PWM frame is missing (an output that skips frames);
- ``freeze``: the first pulses seen on both channels are reported forever (outputs stuck);
- ``garbage``: noise on the serial line (random bytes, and corrupted bytes inside lines).

Run standalone with ``python -m hil_rig.emulator --state FILE``; it prints the device path.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import sys
import threading
import time
import tty
from pathlib import Path

from calibration.model import CHANNELS
from hil_rig.firmware.wire import Reporter
from vehicle.core.closeable import Closeable
from vehicle.core.pwm.base import PwmError
from vehicle.core.pwm.mock import read_mock_state

FAULTS = ("offset", "drop", "freeze", "garbage")
OFFSET_NS = 50_000
DROP_EVERY = 5
GARBAGE_EVERY = 7
MAX_CATCH_UP = 50  # periods reported after a stall (a second); longer: the rig was gone
RES_NS = 16  # the Pico's resolution at 125 MHz, announced in HELLO like the firmware does


class EmulatorError(ValueError):
    """An emulator that cannot be set up as asked."""


class Emulator(Closeable):
    """A thread behind a pty; ``path`` is the device a client opens. Context manager."""

    def __init__(
        self,
        state_file: Path,
        *,
        fault: str | None = None,
        period_us: int = 20_000,
        seed: int = 0,
    ) -> None:
        if fault is not None and fault not in FAULTS:
            raise EmulatorError(f"unknown fault {fault!r}; expected one of {', '.join(FAULTS)}")
        if not 2_500 < period_us <= 100_000:
            raise EmulatorError(f"period must be within 2.5..100 ms, got {period_us} us")
        self.state_file = Path(state_file)
        self.fault = fault
        self.period_us = period_us
        self.reporter = Reporter(RES_NS, period_us=period_us)
        self.errors: list[str] = []
        self._random = random.Random(seed)
        self._frozen: dict[str, int] | None = None
        self._frame = 0
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._origin_ns = time.monotonic_ns()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hil-emulator", daemon=True)
        self._thread.start()

    def _now_us(self) -> int:
        return (time.monotonic_ns() - self._origin_ns) // 1000

    def _pulses(self) -> dict[str, int]:
        """What the rig measures this frame, faults applied."""
        try:
            state = read_mock_state(self.state_file)
        except PwmError as exc:
            self.errors.append(str(exc))
            return {}
        pulses = {} if state is None else dict(state.pulses)
        if self.fault == "freeze":
            if self._frozen is None and len(pulses) == len(CHANNELS):
                self._frozen = pulses
            return self._frozen or {}
        if self.fault == "offset":
            return {channel: ns + OFFSET_NS for channel, ns in pulses.items()}
        if self.fault == "drop" and self._frame % DROP_EVERY == DROP_EVERY - 1:
            return {}
        return pulses

    def _send(self, lines: list[str]) -> None:
        data = "".join(lines).encode()
        if self.fault == "garbage" and data and self._frame % GARBAGE_EVERY == 0:
            noise = bytes(self._random.randrange(256) for _ in range(self._random.randrange(1, 40)))
            if self._frame % (2 * GARBAGE_EVERY) == 0:
                data = noise + b"\n" + data  # a line of pure noise
            else:
                at = self._random.randrange(len(data) - 1)  # a byte flipped inside a line
                data = data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1 :]
        try:
            os.write(self._master, data)
        except BlockingIOError:
            pass  # nobody reads: lost, as USB serial output is when no host listens
        except OSError as exc:
            self.errors.append(f"pty write failed: {exc}")

    def _requests(self, t_us: int) -> list[str]:
        try:
            data = os.read(self._master, 256)
        except (BlockingIOError, OSError):
            return []
        return [self.reporter.hello(t_us)] if b"?" in data else []

    def _report(self, pulses: dict[str, int], t_us: int) -> list[str]:
        lines: list[str] = []
        for index, channel in enumerate(CHANNELS):
            if channel in pulses:
                lines.extend(self.reporter.pulse(index, pulses[channel], t_us))
        return lines

    def _run(self) -> None:
        next_tick = time.monotonic()
        t_previous: int | None = None
        previous: dict[str, int] = {}
        while not self._stop.is_set():
            pulses = self._pulses()
            t_us = self._now_us()  # stamped after the read: a sample never predates its pulses
            lines = self._requests(t_us)
            if t_previous is not None:
                # Periods this thread overslept: the hardware kept sending what it sent before.
                late = round((t_us - t_previous) / self.period_us) - 1
                for k in range(1, min(late, MAX_CATCH_UP) + 1):
                    lines.extend(self._report(previous, t_previous + k * self.period_us))
            lines.extend(self._report(pulses, t_us))
            lines.extend(self.reporter.poll(t_us))
            self._send(lines)
            self._frame += 1
            t_previous, previous = t_us, pulses
            next_tick += self.period_us / 1e6
            delay = next_tick - time.monotonic()
            if delay < 0:
                next_tick = time.monotonic()
            else:
                self._stop.wait(delay)

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=1.0)
            os.close(self._master)
            os.close(self._slave)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hil_rig.emulator", description=__doc__)
    parser.add_argument("--state", type=Path, required=True, help="MockPwm state file")
    parser.add_argument("--inject", choices=FAULTS, help="fault to inject")
    args = parser.parse_args(argv)
    with Emulator(args.state, fault=args.inject) as emulator:
        print(emulator.path, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
