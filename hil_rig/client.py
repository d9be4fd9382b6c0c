"""Host side of the serial link: open the rig, read its lines in a thread, keep what it said.

Any pyserial URL works (``/dev/ttyACM0``, ``loop://``, ``rfc2217://host:port``, the emulator's
pseudo-terminal). Every message is stored with the host's ``time.monotonic()`` at receipt, so
the harness can put the rig's clock and the car's frame times on one axis.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from hil_rig.firmware.wire import PROTOCOL_VERSION
from hil_rig.protocol import Hello, LinkStats, Message, Sample, StreamParser
from vehicle.core.closeable import Closeable

BAUD = 115_200  # ignored by USB CDC and ptys, required by real UARTs


class RigError(RuntimeError):
    """The rig cannot be opened, is silent, or speaks another protocol version."""


@dataclass(frozen=True, slots=True)
class Received:
    t_host: float  # time.monotonic() when the line arrived
    message: Message


class RigClient(Closeable):
    """A connection to a rig (or its emulator). Context manager; ``close()`` is idempotent."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        try:
            self._port = serial.serial_for_url(url, baudrate=BAUD, timeout=0.05)
        except (serial.SerialException, ValueError) as exc:
            raise RigError(f"cannot open rig at {url!r}: {exc}") from exc
        self.url = url
        self.clock = clock
        self.parser = StreamParser(joined_midstream=True)
        self.received: list[Received] = []
        self.read_error: str | None = None
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="hil-rig-reader", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> LinkStats:
        return self.parser.stats

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._port.read(max(1, self._port.in_waiting))
            except (serial.SerialException, OSError) as exc:
                if not self._stop.is_set():
                    self.read_error = f"serial read failed: {exc}"
                break
            if not data:
                continue
            now = self.clock()
            messages = self.parser.feed(data)
            if messages:
                with self._cond:
                    self.received.extend(Received(now, m) for m in messages)
                    self._cond.notify_all()

    def request_hello(self) -> None:
        self._port.write(b"?")

    def wait_hello(self, timeout: float = 3.0) -> Hello:
        """The rig's HELLO (asked for at once; the rig also repeats it every second)."""
        start = len(self.received)
        self.request_hello()
        found = self.wait_for(lambda r: isinstance(r.message, Hello), timeout, start)
        if found is None:
            raise RigError(
                f"no HELLO from {self.url} within {timeout:g} s "
                f"({self.stats.malformed} malformed lines): is the rig flashed and connected?"
            )
        assert isinstance(found.message, Hello)
        if found.message.protocol != PROTOCOL_VERSION:
            raise RigError(
                f"rig speaks protocol {found.message.protocol}, this host speaks "
                f"{PROTOCOL_VERSION}: flash hil_rig/firmware from this checkout"
            )
        return found.message

    def wait_for(
        self, predicate: Callable[[Received], bool], timeout: float, start: int = 0
    ) -> Received | None:
        """The first message from index ``start`` on that satisfies ``predicate``, or None."""
        deadline = self.clock() + timeout
        index = start
        with self._cond:
            while True:
                for item in self.received[index:]:
                    if predicate(item):
                        return item
                index = len(self.received)
                left = deadline - self.clock()
                if left <= 0 or not self._thread.is_alive():
                    return None
                self._cond.wait(min(left, 0.1))

    def samples(self, t_from: float = float("-inf"), t_to: float = float("inf")) -> list[Received]:
        """Sample messages received in [t_from, t_to) on the host clock."""
        with self._cond:
            items = list(self.received)
        return [r for r in items if isinstance(r.message, Sample) and t_from <= r.t_host < t_to]

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=1.0)
            self._port.close()
