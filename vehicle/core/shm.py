"""Shared memory the drive process writes and the service process reads, with no locks.

Two rings live in anonymous memory (``memfd``), sealed against resizing and handed to the
service as read-only descriptors over the drive link, so the service can neither write into
the drive's memory nor shrink it under the drive's feet:

- ``FrameRing``: the newest camera frames, for console viewers (written only while someone
  watches, after the drive step for that frame: never between capture and pulse);
- ``StepRing``: one record per drive step (sequence, capture time, action, outputs, pulses,
  timings, governor state), for the console's live figures and for run recording.

Each slot carries a sequence number that the writer clears first and sets last; a reader
checks it before and after copying (a seqlock). A reader that is overtaken sees the number
change and skips that slot, counting it; the writer never waits for anyone.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import struct
from dataclasses import dataclass

import cv2
import numpy as np

_HEADER = struct.Struct("<4sIII")  # magic, version, slots or capacity, bytes per slot/record
_HEADER_BYTES = 64
_LATEST_OFFSET = 16  # u64: sequence of the newest complete frame / count of records written
_VERSION = 1
_SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL


class ShmError(RuntimeError):
    """Shared memory that cannot be created or is not what it claims to be."""


class _Block:
    """A sealed memfd mapping: the writer's read-write one, or a reader's read-only one."""

    def __init__(self, fd: int, size: int, *, writable: bool) -> None:
        self.fd = fd
        self.size = size
        access = mmap.ACCESS_WRITE if writable else mmap.ACCESS_READ
        self.map = mmap.mmap(fd, size, access=access)

    @classmethod
    def create(cls, name: str, size: int) -> _Block:
        fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            os.ftruncate(fd, size)
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
            return cls(fd, size, writable=True)
        except BaseException:
            os.close(fd)
            raise

    @classmethod
    def attach(cls, fd: int, magic: bytes) -> tuple[_Block, int, int]:
        """Map a received descriptor read-only after checking its seals and header."""
        try:
            seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
            size = os.fstat(fd).st_size
        except OSError as exc:
            raise ShmError(f"not a shared-memory descriptor: {exc}") from exc
        if seals & _SEALS != _SEALS:
            raise ShmError("shared memory is not sealed against resizing")
        if size < _HEADER_BYTES:
            raise ShmError(f"shared memory too small: {size} bytes")
        block = cls(fd, size, writable=False)
        found, version, count, item_bytes = _HEADER.unpack_from(block.map, 0)
        if found != magic or version != _VERSION:
            block.close()
            raise ShmError(f"shared memory is not a {magic.decode()} ring v{_VERSION}")
        if _HEADER_BYTES + count * item_bytes > size:
            block.close()
            raise ShmError("shared memory is smaller than its header says")
        return block, count, item_bytes

    def read_only_fd(self) -> int:
        """A new read-only descriptor of the same memory, to hand to a reader."""
        return os.open(f"/proc/self/fd/{self.fd}", os.O_RDONLY | os.O_CLOEXEC)

    def u64(self, offset: int) -> np.ndarray:
        return np.ndarray((1,), dtype="<u8", buffer=self.map, offset=offset)

    def close(self) -> None:
        """Unmap (once the owner has dropped its numpy views) and close the descriptor."""
        with contextlib.suppress(BufferError):  # a view still lives; the GC unmaps it later
            self.map.close()
        os.close(self.fd)


# -- frames ------------------------------------------------------------------------------

FRAME_MAGIC = b"VFRM"
FRAME_SLOTS = 3
MAX_FRAME_HEIGHT, MAX_FRAME_WIDTH = 480, 640
_FRAME_MAX_BYTES = MAX_FRAME_HEIGHT * MAX_FRAME_WIDTH * 3
_FRAME_SLOT_HEADER = struct.Struct("<QdIII")  # seq, t_capture, height, width, channels
_FRAME_SLOT_HEADER_BYTES = 32


@dataclass(frozen=True)
class SharedFrame:
    seq: int
    t_capture: float
    image: np.ndarray  # the reader's own copy


class FrameRing:
    """The drive side: ``publish`` copies a frame into the next slot."""

    def __init__(self) -> None:
        slot_bytes = _FRAME_SLOT_HEADER_BYTES + _FRAME_MAX_BYTES
        self._block = _Block.create("vehicle-frames", _HEADER_BYTES + FRAME_SLOTS * slot_bytes)
        self._slot_bytes = slot_bytes
        _HEADER.pack_into(self._block.map, 0, FRAME_MAGIC, _VERSION, FRAME_SLOTS, slot_bytes)
        self._latest = self._block.u64(_LATEST_OFFSET)
        self.published = 0

    def reader_fd(self) -> int:
        return self._block.read_only_fd()

    def close(self) -> None:
        del self._latest
        self._block.close()

    def publish(self, image: np.ndarray, seq: int, t_capture: float) -> None:
        """Copy ``image`` (HxWx3 or HxW uint8; larger than 640x480 is scaled down) in."""
        height, width = image.shape[:2]
        if height > MAX_FRAME_HEIGHT or width > MAX_FRAME_WIDTH:
            scale = min(MAX_FRAME_HEIGHT / height, MAX_FRAME_WIDTH / width)
            size = (max(1, int(width * scale)), max(1, int(height * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
            height, width = image.shape[:2]
        channels = 1 if image.ndim == 2 else image.shape[2]
        offset = _HEADER_BYTES + (seq % FRAME_SLOTS) * self._slot_bytes
        data = np.ndarray(
            image.shape, np.uint8, buffer=self._block.map, offset=offset + _FRAME_SLOT_HEADER_BYTES
        )
        _FRAME_SLOT_HEADER.pack_into(self._block.map, offset, 0, 0.0, 0, 0, 0)  # busy
        np.copyto(data, image)
        _FRAME_SLOT_HEADER.pack_into(
            self._block.map, offset, seq, t_capture, height, width, channels
        )
        self._latest[0] = seq
        self.published += 1


class FrameReader:
    """The service side: ``latest(after_seq)`` copies the newest frame out, or None."""

    def __init__(self, fd: int) -> None:
        self._block, self._slots, self._slot_bytes = _Block.attach(fd, FRAME_MAGIC)
        if self._slot_bytes < _FRAME_SLOT_HEADER_BYTES:
            raise ShmError("frame slots too small")
        self._latest = self._block.u64(_LATEST_OFFSET)
        self.torn = 0  # frames overwritten while being copied (skipped)

    def latest(self, after_seq: int = 0) -> SharedFrame | None:
        seq = int(self._latest[0])
        if seq <= after_seq:
            return None
        offset = _HEADER_BYTES + (seq % self._slots) * self._slot_bytes
        found, t_capture, height, width, channels = _FRAME_SLOT_HEADER.unpack_from(
            self._block.map, offset
        )
        size = height * width * channels
        if found != seq or channels not in (1, 3) or size > self._slot_bytes - 32 or not size:
            self.torn += 1
            return None
        shape = (height, width) if channels == 1 else (height, width, 3)
        start = offset + _FRAME_SLOT_HEADER_BYTES
        image = np.frombuffer(self._block.map, np.uint8, size, start).reshape(shape).copy()
        if _FRAME_SLOT_HEADER.unpack_from(self._block.map, offset)[0] != seq:
            self.torn += 1
            return None
        return SharedFrame(seq, t_capture, image)

    def close(self) -> None:
        del self._latest
        self._block.close()


# -- steps -------------------------------------------------------------------------------

STEP_MAGIC = b"VSTP"
STEP_CAPACITY = 1024  # about a minute at 15 Hz: a reader polling twice a second never misses
MAX_OUTPUTS = 64  # outputs kept per record; DeepRacer action spaces are far smaller
NO_ACTION = -1  # ``action`` of a continuous model's step

STEP_DTYPE = np.dtype(
    [
        ("seq", "<u8"),  # the frame's sequence number; 0 while the slot is being written
        ("t_capture", "<f8"),  # CLOCK_MONOTONIC seconds, the same clock in both processes
        ("t_done", "<f8"),  # the command reached the governor
        ("preprocess_ms", "<f4"),
        ("inference_ms", "<f4"),
        ("latency_ms", "<f4"),  # capture to command
        ("action", "<i2"),
        ("n_outputs", "<u2"),
        ("steer_norm", "<f4"),
        ("throttle_norm", "<f4"),
        ("steering_ns", "<u4"),  # what the outputs hold after the step
        ("throttle_ns", "<u4"),
        ("state", "<u1"),  # index into GOVERNOR_STATES of vehicle.core.safety
        ("outputs", "<f4", (MAX_OUTPUTS,)),
    ],
    align=True,
)


class StepRing:
    """The drive side: ``append`` writes one record per step, allocation-free."""

    def __init__(self, capacity: int = STEP_CAPACITY) -> None:
        size = _HEADER_BYTES + capacity * STEP_DTYPE.itemsize
        self._block = _Block.create("vehicle-steps", size)
        _HEADER.pack_into(self._block.map, 0, STEP_MAGIC, _VERSION, capacity, STEP_DTYPE.itemsize)
        self._capacity = capacity
        self._count = self._block.u64(_LATEST_OFFSET)
        records = np.ndarray((capacity,), STEP_DTYPE, buffer=self._block.map, offset=_HEADER_BYTES)
        self._records = records
        self._seq = records["seq"]
        self._outputs = records["outputs"]
        self._written = 0

    def reader_fd(self) -> int:
        return self._block.read_only_fd()

    def append(
        self,
        seq: int,
        t_capture: float,
        t_done: float,
        timings_ms: tuple[float, float, float],
        action: int | None,
        norms: tuple[float, float],
        pulses: tuple[int, int],
        state: int,
        outputs: np.ndarray,
    ) -> None:
        i = self._written % self._capacity
        self._seq[i] = 0  # busy
        record = self._records
        record["t_capture"][i] = t_capture
        record["t_done"][i] = t_done
        record["preprocess_ms"][i], record["inference_ms"][i], record["latency_ms"][i] = timings_ms
        record["action"][i] = NO_ACTION if action is None else action
        n = min(outputs.size, MAX_OUTPUTS)
        record["n_outputs"][i] = n
        record["steer_norm"][i], record["throttle_norm"][i] = norms
        record["steering_ns"][i], record["throttle_ns"][i] = pulses
        record["state"][i] = state
        self._outputs[i, :n] = outputs.reshape(-1)[:n]
        self._seq[i] = seq
        self._written += 1
        self._count[0] = self._written

    def close(self) -> None:
        del self._count, self._records, self._seq, self._outputs
        self._block.close()


class StepReader:
    """The service side: ``read_new()`` returns the records written since the last call."""

    def __init__(self, fd: int) -> None:
        self._block, self._capacity, record_bytes = _Block.attach(fd, STEP_MAGIC)
        if record_bytes != STEP_DTYPE.itemsize:
            raise ShmError("step records have another layout (drive and service differ)")
        self._records = np.ndarray(
            (self._capacity,), STEP_DTYPE, buffer=self._block.map, offset=_HEADER_BYTES
        )
        self._count = self._block.u64(_LATEST_OFFSET)
        self._read = int(self._count[0])  # start from now: old records are history
        self.missed = 0  # records overwritten before this reader got to them

    def read_new(self) -> np.ndarray:
        count = int(self._count[0])
        if count - self._read > self._capacity:
            self.missed += count - self._read - self._capacity
            self._read = count - self._capacity
        indices = np.arange(self._read, count) % self._capacity
        copy = self._records[indices].copy()
        # Records the writer reused while we copied no longer carry the number we took.
        current = self._records["seq"][indices]
        intact = (copy["seq"] == current) & (copy["seq"] != 0)
        self.missed += int((~intact).sum())
        self._read = count
        return copy[intact]

    def close(self) -> None:
        del self._count, self._records
        self._block.close()
