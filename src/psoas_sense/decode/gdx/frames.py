"""Go Direct frames: checksum, command frames, reassembly, replies and measurement packets. Pure.

Every frame starts ``[type] [length] [counter] [checksum]``; the checksum is the plain 8-bit
sum of every byte of the frame except itself. Host frames start with ``0x58``; the device's
start with ``0x20`` (a measurement) or anything else (a reply: ``[4]`` the command echoed,
``[5]`` the host's counter echoed, then the payload). A frame longer than a notification comes
in pieces; :class:`FrameAssembler` joins them by the length byte and checks every checksum.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from psoas_sense.decode.gdx.const import (
    COMMAND_HEADER,
    HEADER_BYTES,
    KNOWN_COMMANDS,
    MAX_FRAME,
    MEASUREMENT,
    MIN_COMMAND_FRAME,
    MIN_REPLY_FRAME,
    REPLY_TYPE,
    TIMING_TYPES,
    WRITE_CHUNK_BYTES,
    Command,
    MeasurementType,
)
from psoas_sense.errors import DecodeError


def checksum(frame: bytes) -> int:
    """The 8-bit sum of the frame's bytes, its own checksum byte ``[3]`` left out."""
    return (sum(frame) - frame[3]) & 0xFF


def with_checksum(head_and_body: bytes | bytearray) -> bytes:
    """The frame with its length byte and checksum filled in."""
    out = bytearray(head_and_body)
    out[1] = len(out)
    out[3] = 0
    out[3] = checksum(bytes(out))
    return bytes(out)


def command_frame(command: int, counter: int, payload: bytes = b"") -> bytes:
    """A host command frame: ``58 LEN CNT CHK CMD payload``."""
    body = bytes([COMMAND_HEADER, 0, counter & 0xFF, 0, command & 0xFF]) + bytes(payload)
    if len(body) > MAX_FRAME:
        raise ValueError(f"command frame of {len(body)} bytes is too long")
    return with_checksum(body)


def write_chunks(frame: bytes, size: int = WRITE_CHUNK_BYTES) -> list[bytes]:
    """The writes a frame goes out as (pieces of at most ``size`` bytes)."""
    return [frame[i : i + size] for i in range(0, len(frame), size)]


def period_payload(period_us: int) -> bytes:
    """SET_MEASUREMENT_PERIOD: int8 channel (-1: all), a spare byte, u64 LE period in µs."""
    return struct.pack("<bBQ", -1, 0, int(period_us))


def start_payload(mask: int, start_timestamp_us: int = 0) -> bytes:
    """START_MEASUREMENTS: int8 -1, u8 sampleAtTime0flag = 1, u32 LE channel mask, int64 start
    time (µs since 1970; 0 = now)."""
    return struct.pack("<bBIq", -1, 1, mask & 0xFFFFFFFF, start_timestamp_us)


def stop_payload(mask: int = 0xFFFFFFFF) -> bytes:
    """STOP_MEASUREMENTS: int8 -1, a spare byte, u32 LE channel mask (all by default)."""
    return struct.pack("<bBI", -1, 0, mask & 0xFFFFFFFF)


def sensor_info_payload(channel: int) -> bytes:
    """GET_SENSOR_INFO: the channel number."""
    return bytes([channel & 0xFF])


# --------------------------------------------------------------------------- host frames


@dataclass(frozen=True, slots=True)
class CommandFrame:
    """A host-to-device command, as the device (or a recording of the writes) sees it."""

    command: int
    """The command byte."""
    counter: int
    """The host's rolling counter."""
    payload: bytes
    """Bytes after the command byte."""

    @property
    def period_us(self) -> int | None:
        """The period a SET_MEASUREMENT_PERIOD asks for, µs (None for other commands)."""
        if self.command != Command.SET_MEASUREMENT_PERIOD or len(self.payload) < 10:
            return None
        return int.from_bytes(self.payload[2:10], "little")

    @property
    def mask(self) -> int | None:
        """The channel mask of a START or STOP (None for other commands)."""
        if self.command not in (Command.START_MEASUREMENTS, Command.STOP_MEASUREMENTS) or len(self.payload) < 6:
            return None
        return int.from_bytes(self.payload[2:6], "little")


def parse_command(frame: bytes) -> CommandFrame:
    """A whole host command frame; raises :class:`DecodeError` when it is not one."""
    if len(frame) < MIN_COMMAND_FRAME or frame[0] != COMMAND_HEADER:
        raise DecodeError(f"not a Go Direct command frame: {frame[:8].hex()}")
    if frame[1] != len(frame):
        raise DecodeError(f"Go Direct command frame length byte {frame[1]} but {len(frame)} bytes")
    if checksum(frame) != frame[3]:
        raise DecodeError(f"Go Direct command checksum {frame[3]:#04x}, expected {checksum(frame):#04x}")
    return CommandFrame(frame[4], frame[2], bytes(frame[5:]))


# --------------------------------------------------------------------------- device frames


@dataclass(frozen=True, slots=True)
class Reply:
    """A command reply from the device."""

    command: int
    """The command it answers (echoed)."""
    counter: int
    """The host counter it answers (echoed)."""
    payload: bytes
    """Bytes from offset 6 on."""
    reply_type: int = REPLY_TYPE
    """Byte 0 (0x98 on a real GDX-RB; not checked)."""
    device_counter: int = 0
    """Byte 2, the device's own counter (its meaning is not public)."""

    @property
    def status(self) -> int | None:
        """Byte 6: 0 when a START or STOP worked (None when the reply has no payload)."""
        return self.payload[0] if self.payload else None


def reply_frame(command: int, counter: int, payload: bytes, device_counter: int = 0,
                reply_type: int = REPLY_TYPE) -> bytes:
    """A device reply frame (the emulator's)."""
    body = bytes([reply_type, 0, device_counter & 0xFF, 0, command & 0xFF, counter & 0xFF]) + bytes(payload)
    return with_checksum(body)


@dataclass(frozen=True, slots=True, eq=False)
class Measurement:
    """One measurement packet: ``n`` samples of the channels in ``channels`` (ascending)."""

    kind: int
    """The measurement type (byte 4)."""
    channels: tuple[int, ...]
    """Channel numbers, ascending (empty for timing packets)."""
    values: np.ndarray
    """Shape ``(n, len(channels))``: sample after sample, one column per channel."""
    device_counter: int = 0
    """Byte 2 of the packet (its meaning is not public)."""

    @property
    def n(self) -> int:
        """Samples in the packet."""
        return int(self.values.shape[0])

    @property
    def timing_only(self) -> bool:
        """A START_TIME, DROPPED or PERIOD packet: layout not public, no samples."""
        return self.kind in TIMING_TYPES


def _channels(mask: int) -> tuple[int, ...]:
    return tuple(i for i in range(32) if mask >> i & 1)


def _layout(frame: bytes) -> tuple[tuple[int, ...], int, int, str] | None:
    """(channels, samples, data offset, struct code) of a sample packet, or None for timing
    packets; raises :class:`DecodeError` for an unknown type or a packet too short to say."""
    if len(frame) < 5:
        raise DecodeError("Go Direct measurement packet cut short")
    kind = frame[4]
    if kind in TIMING_TYPES:
        return None
    if kind == MeasurementType.NORMAL_REAL32:
        if len(frame) < 9:
            raise DecodeError("Go Direct measurement packet cut short")
        return _channels(int.from_bytes(frame[5:7], "little")), frame[7], 9, "f"
    if kind == MeasurementType.WIDE_REAL32:
        if len(frame) < 11:
            raise DecodeError("Go Direct measurement packet cut short")
        return _channels(int.from_bytes(frame[5:9], "little")), frame[9], 11, "f"
    if kind in (MeasurementType.SINGLE_CHANNEL_REAL32, MeasurementType.APERIODIC_REAL32,
                MeasurementType.SINGLE_CHANNEL_INT32, MeasurementType.APERIODIC_INT32):
        if len(frame) < 8:
            raise DecodeError("Go Direct measurement packet cut short")
        real = kind in (MeasurementType.SINGLE_CHANNEL_REAL32, MeasurementType.APERIODIC_REAL32)
        return (frame[6],), frame[7], 8, "f" if real else "i"
    raise DecodeError(f"unknown Go Direct measurement type {kind:#04x}")


def expected_length(frame: bytes) -> int | None:
    """The length a measurement packet must have from its own header (None: cannot tell)."""
    try:
        layout = _layout(frame)
    except DecodeError:
        return None
    if layout is None:
        return None
    channels, n, offset, _ = layout
    return offset + 4 * n * len(channels)


def parse_measurement(frame: bytes) -> Measurement:
    """A whole measurement packet (checksum already verified); :class:`DecodeError` when bad."""
    if len(frame) < 5 or frame[0] != MEASUREMENT:
        raise DecodeError("not a Go Direct measurement packet")
    layout = _layout(frame)
    if layout is None:
        return Measurement(frame[4], (), np.zeros((0, 0)), frame[2])
    channels, n, offset, code = layout
    need = offset + 4 * n * len(channels)
    if len(frame) != need:
        raise DecodeError(f"Go Direct measurement packet of {len(frame)} bytes; its header says {need}")
    flat = struct.unpack_from(f"<{n * len(channels)}{code}", frame, offset)
    values = np.asarray(flat, dtype=np.float64).reshape(n, len(channels))
    return Measurement(frame[4], channels, values, frame[2])


def measurement_frame(channels: tuple[int, ...], values: np.ndarray, device_counter: int = 0,
                      spare: int = 0) -> bytes:
    """A NORMAL_REAL32 packet (the emulator's): ``values`` shape ``(n, len(channels))``.

    ``spare`` is byte 8, which every parser skips (0xFC in the captured packet)."""
    mask = sum(1 << c for c in channels)
    v = np.asarray(values, dtype=np.float64).reshape(-1, len(channels))
    data = struct.pack(f"<{v.size}f", *v.ravel().tolist())
    body = bytes([MEASUREMENT, 0, device_counter & 0xFF, 0, MeasurementType.NORMAL_REAL32]) + struct.pack(
        "<HBB", mask & 0xFFFF, v.shape[0], spare & 0xFF
    ) + data
    return with_checksum(body)


def parse_reply(frame: bytes) -> Reply:
    """A whole reply frame (checksum already verified)."""
    if len(frame) < MIN_REPLY_FRAME or frame[0] == MEASUREMENT:
        raise DecodeError("not a Go Direct reply")
    return Reply(frame[4], frame[5], bytes(frame[6:]), frame[0], frame[2])


# --------------------------------------------------------------------------- reassembly


class FrameAssembler:
    """Joins notification pieces into whole device frames, checking every checksum.

    A frame starts at the start of a notification (the device never begins one mid-way), so at
    a frame boundary a notification must look like a frame's start: a measurement whose length
    byte agrees with its own header, or a reply echoing a known command. Anything else (a stray
    piece after a lost or bad frame) is dropped and counted; a frame whose checksum fails is
    dropped whole and counted. Nothing here grows without bound: at most one frame is held.

    Args:
        host: assemble host command frames (``0x58 ...``: a recording of the writes) instead.
    """

    def __init__(self, *, host: bool = False) -> None:
        self._buf = bytearray()
        self._host = host
        self.bad_checksums = 0
        """Frames dropped for a wrong checksum."""
        self.strays = 0
        """Pieces dropped because they could not start a frame."""

    def reset(self) -> None:
        """Forget a partial frame (a new link)."""
        self._buf.clear()

    def _plausible_start(self, piece: bytes) -> bool:
        if len(piece) < 2:
            return False
        length = piece[1]
        if self._host:
            return piece[0] == COMMAND_HEADER and length >= MIN_COMMAND_FRAME
        if piece[0] == MEASUREMENT:
            if length < 5:
                return False
            need = expected_length(piece)
            return need is None or need == length
        return length >= MIN_REPLY_FRAME and (len(piece) < 5 or piece[4] in KNOWN_COMMANDS)

    def feed(self, data: bytes) -> tuple[list[bytes], list[str]]:
        """One notification's bytes in; the whole frames it completes out, and what was dropped
        (one line each)."""
        frames: list[bytes] = []
        dropped: list[str] = []
        if not self._buf:
            if not self._plausible_start(data):
                self.strays += 1
                dropped.append(f"Go Direct piece that starts no frame ({bytes(data[:6]).hex()}...)")
                return frames, dropped
        self._buf += data
        while len(self._buf) >= 2 and len(self._buf) >= self._buf[1]:
            length = self._buf[1]
            frame = bytes(self._buf[:length])
            del self._buf[:length]
            if length < HEADER_BYTES + 1 or checksum(frame) != frame[3]:
                self.bad_checksums += 1
                dropped.append(f"Go Direct frame with a bad checksum ({frame[:6].hex()}...)")
                self._buf.clear()
                break
            frames.append(frame)
            if self._buf and not self._plausible_start(bytes(self._buf)):
                self.strays += 1
                dropped.append("Go Direct bytes after a frame that start no frame")
                self._buf.clear()
        return frames, dropped
