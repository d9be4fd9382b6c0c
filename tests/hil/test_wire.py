"""The firmware's pure core: the same code runs on the Pico and in the emulator."""

from __future__ import annotations

from hil_rig.firmware.wire import (
    SEQ_MODULO,
    Reporter,
    count_to_ns,
    crc16,
    format_line,
)
from hil_rig.protocol import Hello, Lost, Sample, parse_line


def parse(lines: list[str]) -> list:
    return [parse_line(line.rstrip("\n").encode()) for line in lines]


def test_crc16_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1  # the standard check value
    assert crc16(b"") == 0xFFFF


def test_format_line_appends_checksum_and_newline():
    assert format_line(["S", "1", "2", "-", "-"]) == f"S 1 2 - -*{crc16(b'S 1 2 - -'):04X}\n"


def test_count_to_ns_two_cycles_per_count():
    assert count_to_ns(1, 125_000_000) == 16
    assert count_to_ns(93_750, 125_000_000) == 1_500_000
    assert count_to_ns(0, 125_000_000) == 0
    assert count_to_ns(1, 3_000_000) == 667  # rounded, not truncated


def test_first_poll_says_hello_then_every_second():
    reporter = Reporter(16)
    (hello,) = parse(reporter.poll(0))
    assert hello == Hello(0, 0, 1, hello.firmware, 16, 20_000, 60_000)
    assert not any(isinstance(m, Hello) for m in parse(reporter.poll(999_999)))
    assert isinstance(parse(reporter.poll(1_000_000))[0], Hello)


def test_both_channels_make_one_frame_whatever_the_order():
    reporter = Reporter(16)
    reporter.poll(0)
    assert reporter.pulse(1, 1_446_000, 20_000) == []
    (sample,) = parse(reporter.pulse(0, 1_450_000, 20_100))
    assert sample == Sample(1, 20_000, 1_450_000, 1_446_000)


def test_pairing_does_not_slip_when_a_frame_lacks_a_channel():
    reporter = Reporter(16)
    reporter.poll(0)
    reporter.pulse(1, 1_446_000, 20_000)  # steering silent in this frame
    lines = reporter.pulse(0, 1_450_000, 40_000) + reporter.pulse(1, 1_446_000, 40_000)
    assert parse(lines) == [
        Sample(1, 20_000, None, 1_446_000),
        Sample(2, 40_000, 1_450_000, 1_446_000),
    ]


def test_a_channel_reporting_twice_closes_the_frame():
    reporter = Reporter(16)
    reporter.poll(0)
    reporter.pulse(0, 1_450_000, 20_000)
    assert parse(reporter.pulse(0, 1_460_000, 25_000)) == [Sample(1, 20_000, 1_450_000, None)]


def test_an_open_frame_is_flushed_by_time():
    reporter = Reporter(16)
    reporter.poll(0)
    reporter.pulse(0, 1_450_000, 20_000)
    assert reporter.poll(34_999) == []
    assert parse(reporter.poll(35_000)) == [Sample(1, 20_000, 1_450_000, None)]


def test_silent_channel_is_lost_after_three_periods_and_repeated():
    reporter = Reporter(16)
    reporter.poll(0)
    assert reporter.poll(60_000) == []
    assert parse(reporter.poll(60_001)) == [
        Lost(1, 60_001, "steering"),
        Lost(2, 60_001, "throttle"),
    ]
    assert reporter.poll(100_000) == []
    assert len(reporter.poll(120_001)) == 2


def test_a_lost_channel_does_not_hold_frames_back():
    reporter = Reporter(16)
    reporter.poll(0)
    reporter.poll(70_000)  # both lost
    (sample,) = parse(reporter.pulse(0, 1_450_000, 80_000))
    assert sample == Sample(3, 80_000, 1_450_000, None)


def test_sequence_wraps():
    reporter = Reporter(16)
    reporter.seq = SEQ_MODULO - 1
    first, second = parse([reporter.hello(0), reporter.hello(1)])
    assert (first.seq, second.seq) == (SEQ_MODULO - 1, 0)
