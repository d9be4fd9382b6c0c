"""Strict parser for the rig's line protocol (``PROTOCOL.md``).

A line is accepted only when its checksum, type, field count and every field are right; a
bad line is counted with its reason and dropped, never raised, because a noisy serial link
must not stop a test run (the harness decides whether the noise fails a scenario).
"""

from __future__ import annotations

import collections
import re
from dataclasses import dataclass, field

from hil_rig.firmware.wire import CHANNELS, MAX_LINE_BYTES, NO_PULSE, SEQ_MODULO, crc16

MAX_WIDTH_NS = 100_000_000  # a pulse can't outlast the longest PWM period we accept
MAX_T_US = 2**63 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_VERSION = re.compile(r"[0-9A-Za-z.+-]{1,32}")
_CHECKSUM = re.compile(r"[0-9A-F]{4}")


class ProtocolError(ValueError):
    """A line that is not valid protocol; the message says why."""


@dataclass(frozen=True, slots=True)
class Hello:
    seq: int
    t_us: int
    protocol: int
    firmware: str
    res_ns: int
    period_us: int
    lost_us: int


@dataclass(frozen=True, slots=True)
class Sample:
    """One PWM frame: the pulse widths seen on each channel (None: no pulse in this frame)."""

    seq: int
    t_us: int
    steering_ns: int | None
    throttle_ns: int | None


@dataclass(frozen=True, slots=True)
class Lost:
    seq: int
    t_us: int
    channel: str


Message = Hello | Sample | Lost


def _number(text: str, name: str, low: int = 0, high: int = MAX_T_US) -> int:
    if not _DECIMAL.fullmatch(text):
        raise ProtocolError(f"{name} must be a decimal number, got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise ProtocolError(f"{name} must be within {low}..{high}, got {value}")
    return value


def _width(text: str, name: str) -> int | None:
    return None if text == NO_PULSE else _number(text, name, 1, MAX_WIDTH_NS)


def _hello(seq: int, t_us: int, fields: list[str]) -> Hello:
    protocol, firmware, res_ns, period_us, lost_us = fields
    if not _VERSION.fullmatch(firmware):
        raise ProtocolError(f"firmware version {firmware!r} is not a version string")
    return Hello(
        seq,
        t_us,
        _number(protocol, "protocol", 1, 999),
        firmware,
        _number(res_ns, "res_ns", 1, 1_000_000),
        _number(period_us, "period_us", 1, 1_000_000),
        _number(lost_us, "lost_us", 1, 100_000_000),
    )


def _sample(seq: int, t_us: int, fields: list[str]) -> Sample:
    return Sample(seq, t_us, _width(fields[0], "steering"), _width(fields[1], "throttle"))


def _lost(seq: int, t_us: int, fields: list[str]) -> Lost:
    if fields[0] not in CHANNELS:
        raise ProtocolError(f"unknown channel {fields[0]!r}")
    return Lost(seq, t_us, fields[0])


_KINDS = {"HELLO": (5, _hello), "S": (2, _sample), "LOST": (1, _lost)}


def parse_line(line: bytes) -> Message:
    """One line, without its terminator (a trailing CR is tolerated)."""
    if line.endswith(b"\r"):
        line = line[:-1]
    if len(line) > MAX_LINE_BYTES:
        raise ProtocolError(f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError("line is not ASCII") from None
    body, star, checksum = text.rpartition("*")
    if not star or not _CHECKSUM.fullmatch(checksum):
        raise ProtocolError("missing or malformed checksum")
    if int(checksum, 16) != crc16(body.encode("ascii")):
        raise ProtocolError("checksum mismatch")
    fields = body.split(" ")
    kind = _KINDS.get(fields[0])
    if kind is None:
        raise ProtocolError(f"unknown line type {fields[0]!r}")
    count, build = kind
    if len(fields) != 3 + count:
        raise ProtocolError(f"{fields[0]} needs {count + 2} fields, got {len(fields) - 1}")
    seq = _number(fields[1], "seq", 0, SEQ_MODULO - 1)
    return build(seq, _number(fields[2], "t_us"), fields[3:])


@dataclass
class LinkStats:
    """What the parser saw: good lines, bad lines by reason, lines missing by sequence."""

    lines: int = 0
    malformed: int = 0
    missing: int = 0
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "malformed": self.malformed,
            "missing": self.missing,
            "reasons": dict(self.reasons),
        }


class StreamParser:
    """Bytes in, messages out; overlong and broken lines are counted and skipped.

    ``joined_midstream``: the port was opened while the rig was talking, so the first line may
    be the tail of one; if it does not parse it is dropped without counting as malformed.
    """

    def __init__(self, *, joined_midstream: bool = False) -> None:
        self.stats = LinkStats()
        self._buffer = bytearray()
        self._overlong = False
        self._first = joined_midstream
        self._last_seq: int | None = None

    def feed(self, data: bytes) -> list[Message]:
        messages: list[Message] = []
        self._buffer.extend(data)
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE_BYTES + 1:
                    self._buffer.clear()
                    self._overlong = True
                return messages
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            first, self._first = self._first, False
            try:
                if self._overlong:
                    self._overlong = False
                    raise ProtocolError(f"line longer than {MAX_LINE_BYTES} bytes")
                message = parse_line(line)
            except ProtocolError as exc:
                if not first:
                    self._reject(str(exc))
                continue
            self._count(message.seq)
            messages.append(message)

    def _reject(self, reason: str) -> None:
        self.stats.malformed += 1
        self.stats.reasons[reason.split(", got")[0]] += 1

    def _count(self, seq: int) -> None:
        self.stats.lines += 1
        if self._last_seq is not None:
            self.stats.missing += (seq - self._last_seq - 1) % SEQ_MODULO
        self._last_seq = seq
