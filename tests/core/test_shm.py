"""Shared memory between the processes: the drive writes, the service reads, nobody waits."""

from __future__ import annotations

import mmap
import os

import numpy as np
import pytest

from vehicle.core.shm import (
    MAX_OUTPUTS,
    NO_ACTION,
    FrameReader,
    FrameRing,
    ShmError,
    StepReader,
    StepRing,
)


@pytest.fixture
def frames():
    ring = FrameRing()
    reader = FrameReader(ring.reader_fd())
    yield ring, reader
    reader.close()
    ring.close()


def image(value: int, shape=(480, 640, 3)) -> np.ndarray:
    rng = np.random.default_rng(value)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def test_the_newest_frame_is_read_as_published(frames) -> None:
    ring, reader = frames
    assert reader.latest() is None
    for seq in (1, 2, 3, 4, 5):  # more than the ring's slots
        ring.publish(image(seq), seq, seq * 0.1)
    got = reader.latest()
    assert got.seq == 5 and got.t_capture == pytest.approx(0.5)
    np.testing.assert_array_equal(got.image, image(5))
    assert reader.latest(after_seq=5) is None


def test_gray_and_small_frames_keep_their_shape(frames) -> None:
    ring, reader = frames
    ring.publish(image(1, (120, 160)), 1, 0.0)
    assert reader.latest().image.shape == (120, 160)
    ring.publish(image(2, (120, 160, 3)), 2, 0.0)
    assert reader.latest().image.shape == (120, 160, 3)


def test_frames_larger_than_vga_are_scaled_down(frames) -> None:
    ring, reader = frames
    ring.publish(np.full((720, 1280, 3), 77, np.uint8), 1, 0.0)
    got = reader.latest()
    assert got.image.shape == (360, 640, 3) and int(got.image.mean()) == 77


def test_a_slot_being_rewritten_is_skipped_not_torn(frames) -> None:
    ring, reader = frames
    ring.publish(image(1), 1, 0.0)
    ring._latest[0] = 4  # the writer has announced 4 but slot 1 still holds frame 1
    assert reader.latest() is None and reader.torn == 1


def test_the_reader_maps_the_memory_read_only_and_cannot_resize_it(frames) -> None:
    ring, _ = frames
    fd = ring.reader_fd()
    try:
        with pytest.raises(OSError):
            os.ftruncate(fd, 10)  # a read-only descriptor, and sealed besides
        with pytest.raises(PermissionError):
            mmap.mmap(fd, 4096, access=mmap.ACCESS_WRITE)
    finally:
        os.close(fd)


def test_descriptors_that_are_not_our_rings_are_refused() -> None:
    fd = os.memfd_create("other", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, 1 << 16)
        with pytest.raises(ShmError, match="sealed"):
            FrameReader(fd)
    finally:
        os.close(fd)
    steps = StepRing(4)
    try:
        with pytest.raises(ShmError, match="VFRM"):
            FrameReader(steps.reader_fd())
    finally:
        steps.close()


def append(ring: StepRing, seq: int, n_outputs: int = 5, action: int | None = 2) -> None:
    ring.append(
        seq,
        seq * 1.0,
        seq * 1.0 + 0.002,
        (0.3, 1.1, 2.0),
        action,
        (0.5, -0.25),
        (1_450_000, 1_400_000),
        1,
        np.arange(n_outputs, dtype=np.float32),
    )


def test_each_step_is_one_record_with_everything_the_issue_lists() -> None:
    ring = StepRing(8)
    reader = StepReader(ring.reader_fd())
    try:
        append(ring, 11)
        append(ring, 12, n_outputs=2, action=None)
        records = reader.read_new()
        assert list(records["seq"]) == [11, 12]
        first = records[0]
        assert first["t_capture"] == 11.0 and first["t_done"] == pytest.approx(11.002)
        assert first["preprocess_ms"] == pytest.approx(0.3)
        assert first["inference_ms"] == pytest.approx(1.1)
        assert first["latency_ms"] == pytest.approx(2.0)
        assert first["action"] == 2 and records[1]["action"] == NO_ACTION
        assert (first["steering_ns"], first["throttle_ns"]) == (1_450_000, 1_400_000)
        assert first["steer_norm"] == 0.5 and first["throttle_norm"] == -0.25
        assert first["n_outputs"] == 5
        np.testing.assert_array_equal(first["outputs"][:5], np.arange(5))
        assert len(reader.read_new()) == 0
    finally:
        reader.close()
        ring.close()


def test_a_slow_reader_misses_records_and_counts_them() -> None:
    ring = StepRing(8)
    reader = StepReader(ring.reader_fd())
    try:
        for seq in range(1, 21):
            append(ring, seq)
        records = reader.read_new()
        assert list(records["seq"]) == list(range(13, 21))
        assert reader.missed == 12
    finally:
        reader.close()
        ring.close()


def test_outputs_beyond_the_record_are_cut_and_a_reader_starts_from_now() -> None:
    ring = StepRing(8)
    try:
        append(ring, 1, n_outputs=MAX_OUTPUTS + 10)
        reader = StepReader(ring.reader_fd())
        assert len(reader.read_new()) == 0  # history before the reader attached is not news
        append(ring, 2, n_outputs=MAX_OUTPUTS + 10)
        (record,) = reader.read_new()
        assert record["n_outputs"] == MAX_OUTPUTS
        reader.close()
    finally:
        ring.close()


def test_appending_allocates_nothing_per_step() -> None:
    import tracemalloc

    ring = StepRing(64)
    outputs = np.arange(15, dtype=np.float32)
    try:
        for seq in range(1, 10):  # warm up
            ring.append(seq, 1.0, 2.0, (0.1, 0.2, 0.3), 1, (0.1, 0.2), (1, 2), 1, outputs)
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for seq in range(10, 1010):
            ring.append(seq, 1.0, 2.0, (0.1, 0.2, 0.3), 1, (0.1, 0.2), (1, 2), 1, outputs)
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        grown = sum(s.size_diff for s in after.compare_to(before, "filename") if s.size_diff > 0)
        assert grown < 4096, f"{grown} bytes kept over 1000 steps"
    finally:
        ring.close()
