"""The host's parser: strict on every field, never raises on a noisy line, counts losses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hil_rig.firmware.wire import MAX_LINE_BYTES, Reporter, format_line
from hil_rig.protocol import Hello, Lost, ProtocolError, Sample, StreamParser, parse_line


def line(*fields: str) -> bytes:
    return format_line(list(fields)).rstrip("\n").encode()


def test_valid_lines():
    assert parse_line(line("S", "7", "123", "1450000", "-")) == Sample(7, 123, 1_450_000, None)
    assert parse_line(line("LOST", "0", "5", "throttle")) == Lost(0, 5, "throttle")
    assert parse_line(line("HELLO", "1", "0", "1", "1.0.0", "16", "20000", "60000")) == Hello(
        1, 0, 1, "1.0.0", 16, 20_000, 60_000
    )
    assert parse_line(line("S", "7", "123", "-", "-") + b"\r") == Sample(7, 123, None, None)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"S 1 2 - -", "checksum"),
        (b"S 1 2 - -*12", "checksum"),
        (b"S 1 2 - -*abcd", "checksum"),
        (line("S", "1", "2", "-", "-").replace(b"S 1 2", b"S 1 3"), "checksum"),
        (line("X", "1", "2"), "unknown line type"),
        (line("S", "1", "2", "-"), "needs 4 fields"),
        (line("S", "1", "2", "-", "-", "-"), "needs 4 fields"),
        (line("S", "01", "2", "-", "-"), "seq must be a decimal"),
        (line("S", "-1", "2", "-", "-"), "seq must be a decimal"),
        (line("S", "65536", "2", "-", "-"), "seq must be within"),
        (line("S", "1", "2", "0", "-"), "steering must be within"),
        (line("S", "1", "2", "100000001", "-"), "steering must be within"),
        (line("S", "1", "2", "1e6", "-"), "steering must be a decimal"),
        (line("S", "1", "2", "", "-"), "steering must be a decimal"),
        (line("S", "1", "99999999999999999999", "-", "-"), "t_us must be a decimal"),
        (line("LOST", "1", "2", "brake"), "unknown channel"),
        (line("HELLO", "1", "0", "1", "v 1", "16", "20000", "60000"), "needs 7 fields"),
        (line("HELLO", "1", "0", "1", "1.0/0", "16", "20000", "60000"), "not a version"),
        (line("HELLO", "1", "0", "0", "1.0.0", "16", "20000", "60000"), "protocol must be"),
        (b"S 1 2 - -*" + "é".encode(), "not ASCII"),
        (b"S " + b"1" * MAX_LINE_BYTES, "longer than"),
    ],
)
def test_malformed_lines_are_rejected_with_a_reason(raw: bytes, reason: str):
    with pytest.raises(ProtocolError, match=reason):
        parse_line(raw)


def test_stream_reassembles_lines_split_anywhere_and_counts_nothing_wrong():
    reporter = Reporter(16)
    data = "".join(reporter.poll(0) + reporter.pulse(0, 1, 10) + reporter.pulse(1, 2, 10))
    parser = StreamParser()
    messages = [m for byte in data.encode() for m in parser.feed(bytes([byte]))]
    assert messages == [Hello(0, 0, 1, "1.0.0", 16, 20_000, 60_000), Sample(1, 10, 1, 2)]
    assert (parser.stats.lines, parser.stats.malformed, parser.stats.missing) == (2, 0, 0)


def test_stream_counts_malformed_and_missing_lines():
    reporter = Reporter(16)
    good = [reporter.hello(t) for t in range(5)]
    broken = good[2].replace("HELLO", "HELL0")
    parser = StreamParser()
    messages = parser.feed((good[0] + good[1] + broken + good[4]).encode())
    assert [m.seq for m in messages] == [0, 1, 4]
    assert parser.stats.malformed == 1
    assert parser.stats.missing == 2  # seq 2 (broken) and 3 (never sent)
    assert parser.stats.reasons == {"checksum mismatch": 1}


def test_overlong_garbage_is_one_malformed_line_and_the_stream_recovers():
    parser = StreamParser()
    assert parser.feed(b"x" * 1000) == []
    assert parser.feed(b"y" * 1000 + b"\n" + line("LOST", "0", "1", "steering") + b"\n") == [
        Lost(0, 1, "steering")
    ]
    assert parser.stats.malformed == 1


def test_joining_midstream_forgives_only_the_first_line():
    parser = StreamParser(joined_midstream=True)
    tail = line("LOST", "0", "1", "steering")[5:]
    assert parser.feed(tail + b"\n" + b"junk\n" + line("LOST", "1", "1", "throttle") + b"\n")
    assert parser.stats.malformed == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data: bytes):
    parser = StreamParser()
    for message in parser.feed(data):
        assert isinstance(message, Hello | Sample | Lost)
    assert parser.stats.lines + parser.stats.malformed <= data.count(b"\n")


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.integers(1, 2_500_000), st.integers(1, 2_500_000)),
            st.binary(max_size=60).filter(lambda b: b"\n" not in b),
        ),
        max_size=30,
    )
)
def test_valid_lines_survive_any_garbage_between_them(items):
    reporter = Reporter(16)
    data = b""
    expected = []
    for item in items:
        if isinstance(item, tuple):
            t = reporter.seq * 20_000
            reporter.pulse(0, item[0], t)
            (text,) = reporter.pulse(1, item[1], t)
            expected.append((item[0], item[1]))
            data += text.encode()
        else:
            data += item + b"\n"
    parser = StreamParser()
    got = [(m.steering_ns, m.throttle_ns) for m in parser.feed(data) if isinstance(m, Sample)]
    assert got == expected
    assert parser.stats.missing == 0
