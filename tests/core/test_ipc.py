"""The drive link's messages and channel: typed, bounded, non-blocking on the drive's side."""

from __future__ import annotations

import os
import socket

import pytest

from vehicle.core.ipc import (
    MAX_MESSAGE_BYTES,
    REQUESTS,
    BadMessage,
    Channel,
    IpcError,
    LoadModel,
    ManualDrive,
    PeerClosed,
    PreviewPulse,
    SetCalibration,
    decode_request,
    encode_request,
)


@pytest.fixture
def pair():
    a, b = Channel.pair()
    yield a, b
    a.close()
    b.close()


def test_every_request_round_trips_through_its_encoding() -> None:
    samples = {
        "hello": {"pid": 7},
        "set_mode": {"mode": "manual"},
        "manual": {"steer": 0.5, "throttle": -1},
        "throttle_limit": {"fraction": 0.4},
        "calibration": {"calibration": {"version": 1}},
        "calibration_mode": {"on": True},
        "preview": {"channel": "steering", "ns": 1_500_000},
        "load_model": {"path": "/x", "name": "x"},
        "want_frames": {"seconds": 2.0, "fps": 15.0},
        "set_led": {"red": 255, "green": 0, "blue": 40},
    }
    for op, cls in REQUESTS.items():
        request = cls(**samples.get(op, {}))
        request_id, decoded = decode_request(encode_request(request, 42))
        assert request_id == 42 and decoded == request


@pytest.mark.parametrize(
    "message, reason",
    [
        ({"op": "format_disk", "id": 1}, "unknown request"),
        ({"op": "manual", "id": "1", "steer": 0, "throttle": 0}, "id must be an integer"),
        ({"op": "manual", "id": True, "steer": 0, "throttle": 0}, "id must be an integer"),
        ({"op": "manual", "id": 1, "steer": "left", "throttle": 0}, "steer must be float"),
        ({"op": "manual", "id": 1, "steer": True, "throttle": 0}, "got a boolean"),
        ({"op": "manual", "id": 1, "steer": 0}, "throttle must be float"),
        ({"op": "manual", "id": 1, "steer": float("nan"), "throttle": 0}, "finite"),
        ({"op": "preview", "id": 1, "channel": "steering", "ns": 1.5e6}, "ns must be int"),
        ({"op": "calibration", "id": 1, "calibration": []}, "must be dict"),
        ({"op": "calibration_mode", "id": 1, "on": 1}, "on must be bool"),
    ],
)
def test_malformed_requests_are_refused_with_a_reason(message: dict, reason: str) -> None:
    with pytest.raises(BadMessage, match=reason):
        decode_request(message)


def test_messages_keep_their_boundaries_and_carry_descriptors(pair) -> None:
    a, b = pair
    r, w = os.pipe()
    try:
        a.send(encode_request(ManualDrive(0.25, -0.5), 1), block=True)
        a.send({"push": "status"}, fds=[r])
        message, fds = b.recv(1.0)
        assert decode_request(message) == (1, ManualDrive(0.25, -0.5)) and fds == []
        message, fds = b.recv(1.0)
        assert message == {"push": "status"} and len(fds) == 1
        os.write(w, b"x")
        assert os.read(fds[0], 1) == b"x"  # the same pipe, passed across
        os.close(fds[0])
    finally:
        os.close(r)
        os.close(w)


def test_recv_times_out_and_a_zero_timeout_polls(pair) -> None:
    _, b = pair
    assert b.recv(0.01) is None
    assert b.recv(0.0) is None


def test_a_full_peer_drops_non_blocking_sends_and_counts_them(pair) -> None:
    a, _ = pair
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    big = {"push": "status", "pad": "x" * 2000}
    sent = [a.send(big) for _ in range(2000)]
    assert not all(sent) and a.dropped == sent.count(False) > 0


def test_a_blocking_send_to_a_full_peer_times_out(pair) -> None:
    a, _ = pair
    a.send_timeout_s = 0.05
    a.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    with pytest.raises(IpcError, match="in time"):
        for _ in range(2000):
            a.send({"pad": "x" * 2000}, block=True)


def test_oversized_and_non_json_messages(pair) -> None:
    a, b = pair
    with pytest.raises(IpcError, match="too large"):
        a.send({"pad": "x" * MAX_MESSAGE_BYTES})
    a.sock.send(b"not json")
    with pytest.raises(BadMessage, match="not JSON"):
        b.recv(1.0)
    a.sock.send(b"[" * 100_000)
    with pytest.raises(BadMessage):
        b.recv(1.0)
    a.sock.send(b"[1, 2]")
    with pytest.raises(BadMessage, match="object"):
        b.recv(1.0)
    a.send({"ok": True})
    assert b.recv(1.0)[0] == {"ok": True}  # the channel is still usable


def test_the_peer_closing_is_seen_by_both_ends() -> None:
    a, b = Channel.pair()
    a.close()
    with pytest.raises(PeerClosed):
        b.recv(1.0)
    with pytest.raises(PeerClosed):
        b.send({"x": 1}, block=True)
    b.close()


def test_only_seqpacket_sockets_make_channels() -> None:
    left, right = socket.socketpair()
    try:
        with pytest.raises(IpcError, match="SOCK_SEQPACKET"):
            Channel(left)
    finally:
        left.close()
        right.close()


def test_requests_are_frozen_values() -> None:
    request = LoadModel("/models/a", "a")
    with pytest.raises(AttributeError):
        request.path = "/etc"  # type: ignore[misc]
    assert PreviewPulse("throttle", 1).op == "preview"
    assert SetCalibration({}).op == "calibration"
