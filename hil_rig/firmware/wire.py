"""The rig's pure logic: pulse widths from PIO counts, frame assembly, and the line format.

This file runs unchanged on the Pico (MicroPython) and on the host (CPython): the emulator
reports through the same ``Reporter`` and the parser checks lines with the same ``crc16``, so
the two ends cannot drift apart. Hence no typing, dataclasses or f-string tricks here.
See ``hil_rig/PROTOCOL.md`` for the format this module writes.
"""

PROTOCOL_VERSION = 1
FIRMWARE_VERSION = "1.0.0"
CHANNELS = ("steering", "throttle")  # index 0 and 1 in every per-channel list below
SEQ_MODULO = 65536
MAX_LINE_BYTES = 96  # every valid line is shorter; the parser discards anything longer
NO_PULSE = "-"


def crc16(data):
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF): cheap on a Pico, catches line noise."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def format_line(fields):
    """``FIELD FIELD ...*CRC\\n``: the checksum covers everything before the ``*``."""
    body = " ".join(fields)
    return f"{body}*{crc16(body.encode()):04X}\n"


def count_to_ns(count, sm_freq_hz, cycles_per_count=2):
    """High time of a pulse from the PIO loop count (two state-machine cycles per count)."""
    return (count * cycles_per_count * 1000000000 + sm_freq_hz // 2) // sm_freq_hz


class Reporter:
    """Turns per-channel pulse observations into protocol lines.

    A frame opens with the first pulse that ends and takes the other channel's pulse if it
    ends within 3/4 of a period; it closes when every live channel has reported, when a
    channel reports again, or when that window has passed (then the silent channel shows
    ``-``). The window, not the arrival order, pairs the pulses, so the pairing cannot slip
    by a frame when the two pulses swap order (they do, as their widths change). A
    channel with no pulse for ``lost_periods`` periods is reported LOST, and again every such
    interval while it stays lost, which doubles as a heartbeat when both channels are silent.
    Times are microseconds of a monotonic clock that does not wrap.
    """

    def __init__(self, res_ns, period_us=20000, lost_periods=3, hello_every_us=1000000):
        self.res_ns = res_ns
        self.period_us = period_us
        self.lost_us = period_us * lost_periods
        self.window_us = period_us * 3 // 4
        self.hello_every_us = hello_every_us
        self.seq = 0
        self._pending = [None, None]
        self._frame_t = None
        self._seen = [None, None]
        self._lost_at = [None, None]
        self._start = None
        self._next_hello = None

    def _line(self, kind, t_us, fields):
        head = [kind, str(self.seq), str(t_us)]
        head.extend(fields)  # no [*a, b] unpacking: MicroPython lacks PEP 448
        line = format_line(head)
        self.seq = (self.seq + 1) % SEQ_MODULO
        return line

    def hello(self, t_us):
        """Identify the rig: protocol and firmware versions, resolution, timing."""
        fields = [PROTOCOL_VERSION, FIRMWARE_VERSION, self.res_ns, self.period_us, self.lost_us]
        return self._line("HELLO", t_us, [str(field) for field in fields])

    def _flush(self):
        fields = [NO_PULSE if ns is None else str(ns) for ns in self._pending]
        line = self._line("S", self._frame_t, fields)
        self._pending = [None, None]
        self._frame_t = None
        return line

    def _complete(self):
        for channel in range(2):
            if self._pending[channel] is None and self._lost_at[channel] is None:
                return False
        return True

    def _expired(self, t_us):
        return self._frame_t is not None and t_us - self._frame_t >= self.window_us

    def pulse(self, channel, width_ns, t_us):
        """A pulse of ``width_ns`` ended on ``channel`` (0 or 1) at ``t_us``; lines to send."""
        out = []
        if self._pending[channel] is not None or self._expired(t_us):
            out.append(self._flush())
        if self._frame_t is None:
            self._frame_t = t_us
        self._pending[channel] = width_ns
        self._seen[channel] = t_us
        self._lost_at[channel] = None
        if self._complete():
            out.append(self._flush())
        return out

    def poll(self, t_us):
        """Time-driven lines: HELLO every second, overdue frames, LOST channels."""
        out = []
        if self._start is None:
            self._start = t_us
            self._next_hello = t_us
        if t_us >= self._next_hello:
            out.append(self.hello(t_us))
            self._next_hello = t_us + self.hello_every_us
        if self._expired(t_us):
            out.append(self._flush())
        for channel in range(2):
            seen = self._seen[channel]
            silent_us = t_us - (self._start if seen is None else seen)
            lost_at = self._lost_at[channel]
            if silent_us > self.lost_us and (lost_at is None or t_us - lost_at >= self.lost_us):
                out.append(self._line("LOST", t_us, [CHANNELS[channel]]))
                self._lost_at[channel] = t_us
        return out
