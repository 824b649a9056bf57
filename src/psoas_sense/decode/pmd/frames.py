"""PMD data frames: header, raw and delta-compressed content, ACC and ECG. Pure.

A data notification is ``type | uint64 LE ns since 2000-01-01 of the LAST sample | frame type |
content``. Frame type bit 7 = delta-compressed. ACC 0x00/0x01/0x02 = int8/int16/int24 x,y,z in
mG; ECG 0x00 = int24 µV. Delta frames: a reference sample, then blocks of
``bit width | count | packed deltas``, one LSB-first bit stream, sample-major. The encoders
marked "emulator" build frames for the emulated strap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from psoas_sense.decode.pmd.const import (
    COMPRESSED_BIT,
    HEADER_BYTES,
    MEASUREMENT_NAMES,
    MEASUREMENT_TYPE_MASK,
    MeasurementType,
)
from psoas_sense.errors import DecodeError

ACC_RAW_SAMPLE_BYTES: Mapping[int, int] = {0x00: 1, 0x01: 2, 0x02: 3}
"""Uncompressed ACC frame type -> bytes per axis value (int8, int16, int24 mG)."""
ACC_DELTA_TYPE_G = 0x00
"""Compressed ACC frame type whose values are G x FACTOR (the SDK multiplies by 1000 for mG)."""
ACC_DELTA_TYPE_MG = 0x01
"""Compressed ACC frame type whose values are mG (x FACTOR when one is given)."""
ACC_RAW_INT16_BYTE = 0x01
"""Frame type byte of a raw int16 mG ACC frame (what a real H10 sends)."""
ACC_DELTA_MG_BYTE = COMPRESSED_BIT | ACC_DELTA_TYPE_MG
"""Frame type byte of a delta-compressed mG ACC frame (0x81)."""
ECG_RAW_TYPE = 0x00
"""ECG frame type: int24 µV samples."""
MAX_DELTA_BITS = 32
"""Widest reference value or delta a delta frame may hold."""


@dataclass(frozen=True, slots=True, eq=False)
class PmdFrame:
    """One decoded PMD data notification, before timing."""

    measurement_type: int
    """Measurement type (a :class:`MeasurementType` value)."""
    timestamp_ns: int
    """Device time of the LAST sample, ns since 2000-01-01 (device clock)."""
    frame_type: int
    """Frame type number (bit 7 removed)."""
    compressed: bool
    """Delta-compressed content (frame type bit 7)."""
    samples: np.ndarray
    """Shape (n, channels), float64, in the measurement's unit (ACC mG, ECG µV)."""

    @property
    def n(self) -> int:
        """Number of samples."""
        return int(self.samples.shape[0])


def _signed(values: np.ndarray, bits: int) -> np.ndarray:
    values = values.astype(np.int64)
    sign = np.int64(1) << (bits - 1)
    return (values ^ sign) - sign


def _le_ints(content: bytes, size: int, channels: int) -> np.ndarray:
    """Consecutive little-endian signed ints of ``size`` bytes, shaped (n, channels)."""
    per = size * channels
    if len(content) % per:
        raise DecodeError(f"PMD frame content of {len(content)} bytes is not a multiple of {per}")
    raw = np.frombuffer(content, dtype=np.uint8).reshape(-1, channels, size).astype(np.int64)
    vals = np.zeros(raw.shape[:2], dtype=np.int64)
    for k in range(size):
        vals |= raw[:, :, k] << (8 * k)
    return _signed(vals, 8 * size)


def decode_delta(content: bytes, channels: int, resolution_bits: int) -> np.ndarray:
    """Delta-compressed content -> (n, channels) int64 (reference sample first).

    Raises :class:`DecodeError` on a truncated or inconsistent block.
    """
    if channels < 1 or resolution_bits < 1 or resolution_bits > MAX_DELTA_BITS:
        raise DecodeError(f"PMD delta frame: bad channels {channels} or resolution {resolution_bits}")
    ref_size = math.ceil(resolution_bits / 8)
    pos = ref_size * channels
    if len(content) < pos:
        raise DecodeError("PMD delta frame shorter than its reference sample")
    ref = np.zeros(channels, dtype=np.int64)
    for c in range(channels):
        v = int.from_bytes(content[c * ref_size : (c + 1) * ref_size], "little")
        v &= (1 << resolution_bits) - 1
        if v & (1 << (resolution_bits - 1)):
            v -= 1 << resolution_bits
        ref[c] = v
    rows = [ref[None, :]]
    current = ref
    while pos < len(content):
        if pos + 2 > len(content):
            raise DecodeError(f"PMD delta frame: truncated block header at byte {pos}")
        width, count = content[pos], content[pos + 1]
        pos += 2
        if width < 1 or width > MAX_DELTA_BITS:
            raise DecodeError(f"PMD delta frame: bad delta bit width {width}")
        nbits = width * channels * count
        nbytes = (nbits + 7) // 8
        if pos + nbytes > len(content):
            raise DecodeError(f"PMD delta frame: block needs {nbytes} bytes, {len(content) - pos} left")
        if count:
            stream = np.unpackbits(np.frombuffer(content[pos : pos + nbytes], dtype=np.uint8), bitorder="little")
            bits = stream[:nbits].reshape(count * channels, width).astype(np.int64)
            deltas = bits @ (np.int64(1) << np.arange(width, dtype=np.int64))
            deltas = _signed(deltas, width).reshape(count, channels)
            block = current[None, :] + np.cumsum(deltas, axis=0)
            rows.append(block)
            current = block[-1]
        pos += nbytes
    return np.concatenate(rows, axis=0)


def encode_delta(samples: np.ndarray, resolution_bits: int = 16, max_block: int = 255) -> bytes:
    """Encode (n, channels) ints as delta content (emulator). Inverse of :func:`decode_delta`."""
    s = np.asarray(samples, dtype=np.int64)
    n, channels = s.shape
    ref_size = math.ceil(resolution_bits / 8)
    out = bytearray()
    for c in range(channels):
        out += int(s[0, c] & ((1 << (8 * ref_size)) - 1)).to_bytes(ref_size, "little")
    deltas = np.diff(s, axis=0)
    i = 0
    while i < deltas.shape[0]:
        block = deltas[i : i + max_block]
        peak = int(np.max(np.abs(block))) if block.size else 0
        width = max(1, int(peak).bit_length() + 1)
        out += bytes([width, block.shape[0]])
        flat = (block.reshape(-1) & ((1 << width) - 1)).astype(np.int64)
        bits = ((flat[:, None] >> np.arange(width)) & 1).astype(np.uint8).reshape(-1)
        out += np.packbits(bits, bitorder="little").tobytes()
        i += block.shape[0]
    return bytes(out)


def bytes_per_delta_frame(samples: np.ndarray, resolution_bits: int = 16) -> int:
    """Size of the delta frame (header included) that would carry these samples."""
    return HEADER_BYTES + len(encode_delta(samples, resolution_bits))


DEFAULT_LAYOUT: Mapping[int, tuple[int, int]] = {MeasurementType.ACC: (3, 16), MeasurementType.ECG: (1, 14)}
"""(channels, resolution bits) used for delta frames when no settings are known (as the SDK)."""


def _decode_acc(
    content: bytes, ftype: int, ftype_byte: int, compressed: bool, factor: float, channels: int | None, bits: int | None
) -> np.ndarray:
    if compressed:
        ch, res = DEFAULT_LAYOUT[MeasurementType.ACC]
        raw = decode_delta(content, channels or ch, bits or res).astype(np.float64)
        if ftype == ACC_DELTA_TYPE_G:
            # "type 0" delta frames are in G x FACTOR (the SDK multiplies by 1000 for mG)
            return raw * factor * 1000.0
        if ftype == ACC_DELTA_TYPE_MG:
            return raw * factor if factor != 1.0 else raw
        raise DecodeError(f"PMD ACC: unsupported compressed frame type {ftype_byte:#04x}")
    size = ACC_RAW_SAMPLE_BYTES.get(ftype)
    if size is None:
        raise DecodeError(f"PMD ACC: unsupported frame type {ftype_byte:#04x}")
    return _le_ints(content, size, 3).astype(np.float64)


def _decode_ecg(
    content: bytes, ftype: int, ftype_byte: int, compressed: bool, channels: int | None, bits: int | None
) -> np.ndarray:
    if compressed:
        ch, res = DEFAULT_LAYOUT[MeasurementType.ECG]
        return decode_delta(content, channels or ch, bits or res).astype(np.float64)
    if ftype == ECG_RAW_TYPE:
        return _le_ints(content, 3, 1).astype(np.float64)
    raise DecodeError(f"PMD ECG: unsupported frame type {ftype_byte:#04x}")


def decode_pmd_frame(
    data: bytes,
    *,
    factor: float = 1.0,
    channels: int | None = None,
    resolution_bits: int | None = None,
) -> PmdFrame:
    """Decode one PMD data notification (ACC 0x00/0x01/0x02/0x80/0x81, ECG 0x00).

    Args:
        data: the notification's bytes.
        factor: FACTOR from the start response (1.0 when none was given).
        channels: delta-frame channels (default 3 for ACC, 1 for ECG).
        resolution_bits: delta-frame resolution (default 16 bit for ACC, 14 for ECG).

    Raises:
        DecodeError: malformed or unsupported frame.
    """
    if len(data) < HEADER_BYTES:
        raise DecodeError(f"PMD data frame too short ({len(data)} bytes, header is 10)")
    mtype = data[0] & MEASUREMENT_TYPE_MASK
    ts = int.from_bytes(data[1:9], "little")
    ftype_byte = data[9]
    compressed = bool(ftype_byte & COMPRESSED_BIT)
    ftype = ftype_byte & ~COMPRESSED_BIT & 0xFF
    content = bytes(data[HEADER_BYTES:])
    if mtype == MeasurementType.ACC:
        samples = _decode_acc(content, ftype, ftype_byte, compressed, factor, channels, resolution_bits)
    elif mtype == MeasurementType.ECG:
        samples = _decode_ecg(content, ftype, ftype_byte, compressed, channels, resolution_bits)
    else:
        raise DecodeError(f"PMD data: unsupported measurement type {mtype} ({MEASUREMENT_NAMES.get(mtype, '?')})")
    if samples.shape[0] == 0:
        raise DecodeError(f"PMD {MEASUREMENT_NAMES[mtype].upper()} frame holds no samples")
    return PmdFrame(mtype, ts, ftype, compressed, samples)


def acc_frame_bytes(timestamp_ns: int, samples_mg: np.ndarray, *, compressed: bool) -> bytes:
    """Encode an ACC frame (emulator): raw 0x01 (int16 mG) or delta 0x81 (16-bit, mG)."""
    s = np.clip(np.rint(np.asarray(samples_mg, dtype=np.float64)), -32768, 32767).astype(np.int64)
    head = bytes([MeasurementType.ACC]) + int(timestamp_ns).to_bytes(8, "little")
    if compressed:
        return head + bytes([ACC_DELTA_MG_BYTE]) + encode_delta(s, 16)
    return head + bytes([ACC_RAW_INT16_BYTE]) + s.astype("<i2").tobytes()


def ecg_frame_bytes(timestamp_ns: int, samples_uv: np.ndarray) -> bytes:
    """Encode an ECG frame type 0x00 (int24 µV) (emulator)."""
    s = np.asarray(samples_uv, dtype=np.int64) & 0xFFFFFF
    body = b"".join(int(v).to_bytes(3, "little") for v in s)
    return bytes([MeasurementType.ECG]) + int(timestamp_ns).to_bytes(8, "little") + bytes([ECG_RAW_TYPE]) + body
