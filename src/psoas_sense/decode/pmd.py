"""Polar Measurement Data (PMD): control-point requests and responses, data frames. Pure.

Sources (see ``firmware_notes/pmd.md``): Polar's "Polar Measurement Data Specification for
3rd Party" (2021) and "online measurement" (2024) documents, and the Polar BLE SDK's Kotlin
sources and unit tests, which are the better reference where they disagree.

Wire facts used here:

* Control point (CP) ``fb005c81-...``: read gives the feature bitmap (``0F`` + bitmaps); the client
  writes ``[op, request byte, settings TLVs...]``; the device answers by indication
  ``F0 op type status more [params]`` (params only when status is 0), or sends ``01 types...``
  when it stopped a stream by itself. An H10 start response carries one trailing reserved byte
  (``F0 02 02 00 00 01``), which is not a settings block.
* Settings TLVs: ``type count value*count``; values are 2 bytes, except CHANNELS (1), FACTOR
  (4, float32) RANGE_MILLIUNIT (4) and SECURITY (16).
* Data ``fb005c82-...``: ``type | uint64 LE ns since 2000-01-01 of the LAST sample | frame type |
  content``. Frame type bit 7 = delta-compressed. ACC 0x00/0x01/0x02 = int8/int16/int24 x,y,z in
  mG; ECG 0x00 = int24 µV. Delta frames: a reference sample, then blocks of
  ``bit width | count | packed deltas``, one LSB-first bit stream, sample-major.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from psoas_sense.errors import DecodeError

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

POLAR_EPOCH_UNIX_S = 946_684_800
"""Seconds from 1970-01-01 to 2000-01-01, the PMD timestamp epoch."""

# measurement types (byte0 of a data frame, masked with 0x3F)
ECG = 0
PPG = 1
ACC = 2
PPI = 3
GYRO = 5
MAGNETOMETER = 6
MEASUREMENT_NAMES = {
    0: "ecg",
    1: "ppg",
    2: "acc",
    3: "ppi",
    4: "rfu",
    5: "gyro",
    6: "magnetometer",
    7: "skin_temp",
    9: "sdk_mode",
    10: "location",
    11: "pressure",
    12: "temperature",
    13: "offline_recording",
    14: "offline_hr",
}
_FEATURE_BITS = [
    (1, 0x01, "ecg"),
    (1, 0x02, "ppg"),
    (1, 0x04, "acc"),
    (1, 0x08, "ppi"),
    (1, 0x10, "rfu"),
    (1, 0x20, "gyro"),
    (1, 0x40, "magnetometer"),
    (1, 0x80, "skin_temp"),
    (2, 0x02, "sdk_mode"),
    (2, 0x04, "location"),
    (2, 0x08, "pressure"),
    (2, 0x10, "temperature"),
    (2, 0x20, "offline_recording"),
    (2, 0x40, "offline_hr"),
]

# control-point op codes
OP_GET_SETTINGS = 0x01
OP_START = 0x02
OP_STOP = 0x03
OP_NAMES = {
    0x01: "get_measurement_settings",
    0x02: "start_measurement",
    0x03: "stop_measurement",
    0x04: "get_sdk_mode_settings",
    0x05: "get_measurement_status",
    0x06: "get_sdk_mode_status",
}
CP_RESPONSE = 0xF0
CP_FEATURES = 0x0F
CP_MEASUREMENT_STOPPED = 0x01

ERROR_NAMES = {
    0: "SUCCESS",
    1: "ERROR_INVALID_OP_CODE",
    2: "ERROR_INVALID_MEASUREMENT_TYPE",
    3: "ERROR_NOT_SUPPORTED",
    4: "ERROR_INVALID_LENGTH",
    5: "ERROR_INVALID_PARAMETER",
    6: "ERROR_ALREADY_IN_STATE",
    7: "ERROR_INVALID_RESOLUTION",
    8: "ERROR_INVALID_SAMPLE_RATE",
    9: "ERROR_INVALID_RANGE",
    10: "ERROR_INVALID_MTU",
    11: "ERROR_INVALID_NUMBER_OF_CHANNELS",
    12: "ERROR_INVALID_STATE",
    13: "ERROR_DEVICE_IN_CHARGER",
    14: "ERROR_DISK_FULL",
}
ERROR_ALREADY_IN_STATE = 6

# settings TLV types -> (name, value size in bytes)
SETTING_SAMPLE_RATE = 0
SETTING_RESOLUTION = 1
SETTING_RANGE = 2
SETTING_RANGE_MILLIUNIT = 3
SETTING_CHANNELS = 4
SETTING_FACTOR = 5
SETTING_SECURITY = 6
SETTING_TYPES: Mapping[int, tuple[str, int]] = {
    0: ("sample_rate", 2),
    1: ("resolution", 2),
    2: ("range", 2),
    3: ("range_milliunit", 4),
    4: ("channels", 1),
    5: ("factor", 4),
    6: ("security", 16),
}
SETTING_IDS = {name: code for code, (name, _) in SETTING_TYPES.items()}

HEADER_BYTES = 10
"""Data frame header: type (1) + timestamp (8) + frame type (1)."""


# --------------------------------------------------------------------------- settings


def parse_settings(params: bytes) -> dict[str, tuple[float, ...]]:
    """Settings TLVs -> ``{name: values}``. A block of at most one byte holds no settings.

    FACTOR values are float32; SECURITY values are returned as integers of their 16 bytes.
    """
    out: dict[str, tuple[float, ...]] = {}
    if len(params) <= 1:
        return out
    pos = 0
    while pos < len(params):
        if pos + 2 > len(params):
            raise DecodeError(f"PMD settings: truncated TLV header at byte {pos}")
        code, count = params[pos], params[pos + 1]
        pos += 2
        spec = SETTING_TYPES.get(code)
        if spec is None:
            raise DecodeError(f"PMD settings: unknown setting type {code}")
        name, size = spec
        end = pos + size * count
        if end > len(params):
            raise DecodeError(f"PMD settings: {name} needs {size * count} bytes, {len(params) - pos} left")
        values: list[float] = []
        for i in range(count):
            chunk = params[pos + i * size : pos + (i + 1) * size]
            if code == SETTING_FACTOR:
                values.append(float(struct.unpack("<f", chunk)[0]))
            else:
                values.append(int.from_bytes(chunk, "little"))
        out[name] = out.get(name, ()) + tuple(values)
        pos = end
    return out


def serialize_settings(settings: Mapping[str, float]) -> bytes:
    """One value per setting (a start request); FACTOR is never sent by clients."""
    out = bytearray()
    for name, value in settings.items():
        code = SETTING_IDS.get(name)
        if code is None:
            raise ValueError(f"unknown PMD setting {name!r}")
        size = SETTING_TYPES[code][1]
        out += bytes([code, 1])
        if code == SETTING_FACTOR:
            out += struct.pack("<f", float(value))
        else:
            out += int(value).to_bytes(size, "little")
    return bytes(out)


# --------------------------------------------------------------------------- control point


def get_settings_request(measurement_type: int) -> bytes:
    """``01 type``: ask for the settings a measurement allows (online streaming)."""
    return bytes([OP_GET_SETTINGS, measurement_type & 0x3F])


def start_request(measurement_type: int, settings: Mapping[str, float]) -> bytes:
    """``02 type TLVs``: start streaming with one value per setting (send every offered one)."""
    return bytes([OP_START, measurement_type & 0x3F]) + serialize_settings(settings)


def stop_request(measurement_type: int) -> bytes:
    """``03 type``: stop a stream."""
    return bytes([OP_STOP, measurement_type & 0x3F])


@dataclass(frozen=True, slots=True)
class CpRequest:
    """A control-point write as the device sees it."""

    op_code: int
    measurement_type: int
    """Measurement type (request byte masked with 0x3F)."""
    offline: bool
    """Request byte bit 7: offline recording rather than online streaming."""
    settings: dict[str, tuple[float, ...]] = field(default_factory=dict)


def parse_cp_request(data: bytes) -> CpRequest:
    """Parse a CP write (used by the emulated strap)."""
    if len(data) < 1:
        raise DecodeError("PMD control point request is empty")
    op = data[0]
    if op in (OP_GET_SETTINGS, OP_START, OP_STOP, 0x04):
        if len(data) < 2:
            raise DecodeError(f"PMD request op {op:#04x} lacks its measurement type")
        settings = parse_settings(data[2:]) if op == OP_START else {}
        return CpRequest(op, data[1] & 0x3F, bool(data[1] & 0x80), settings)
    return CpRequest(op, 0, False, {})


@dataclass(frozen=True, slots=True)
class CpResponse:
    """A control-point response (``F0 ...``)."""

    op_code: int
    measurement_type: int
    status: int
    more_frames: bool
    params: bytes
    """Parameter bytes after ``more_frames`` (success only)."""
    settings: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def status_name(self) -> str:
        return ERROR_NAMES.get(self.status, f"ERROR_{self.status}")


@dataclass(frozen=True, slots=True)
class CpFeatures:
    """The feature bitmap (``0F ...``, a CP read, or its echo as a notification on BlueZ)."""

    measurements: frozenset[str]


@dataclass(frozen=True, slots=True)
class CpMeasurementStopped:
    """The device stopped streams by itself (``01 types...``)."""

    measurement_types: tuple[int, ...]


CpMessage = CpResponse | CpFeatures | CpMeasurementStopped


def parse_features(data: bytes) -> CpFeatures:
    """Feature read: ``0F`` then bitmaps (17 bytes on real devices; 2 are enough here)."""
    if len(data) < 2 or data[0] != CP_FEATURES:
        raise DecodeError("PMD feature read must start with 0x0F and hold a bitmap")
    found = {name for idx, bit, name in _FEATURE_BITS if idx < len(data) and data[idx] & bit}
    return CpFeatures(frozenset(found))


def features_bytes(measurements: set[str] | frozenset[str]) -> bytes:
    """The 17-byte feature read a device with these measurements gives (emulator)."""
    out = bytearray(17)
    out[0] = CP_FEATURES
    for idx, bit, name in _FEATURE_BITS:
        if name in measurements:
            out[idx] |= bit
    return bytes(out)


def parse_cp_message(data: bytes) -> CpMessage:
    """Any CP indication/notification; raises :class:`DecodeError` for anything else."""
    if not data:
        raise DecodeError("PMD control point message is empty")
    head = data[0]
    if head == CP_RESPONSE:
        if len(data) < 4:
            raise DecodeError(f"PMD control point response too short ({len(data)} bytes)")
        op, mtype, status = data[1], data[2] & 0x3F, data[3]
        if status != 0:
            return CpResponse(op, mtype, status, False, b"", {})
        more = bool(data[4]) if len(data) > 4 else False
        params = bytes(data[5:])
        return CpResponse(op, mtype, status, more, params, parse_settings(params))
    if head == CP_FEATURES:
        return parse_features(data)
    if head == CP_MEASUREMENT_STOPPED:
        return CpMeasurementStopped(tuple(b & 0x3F for b in data[1:]))
    raise DecodeError(f"PMD control point message with unknown first byte {head:#04x}")


def cp_response_bytes(op: int, mtype: int, status: int = 0, params: bytes = b"", more: bool = False) -> bytes:
    """Encode a CP response (emulator). Error responses carry no ``more`` byte."""
    if status:
        return bytes([CP_RESPONSE, op, mtype, status])
    return bytes([CP_RESPONSE, op, mtype, 0, 1 if more else 0]) + params


def available_settings_bytes(settings: Mapping[str, tuple[float, ...]]) -> bytes:
    """Settings TLVs listing every allowed value (a get-settings response, emulator)."""
    out = bytearray()
    for name, values in settings.items():
        code = SETTING_IDS[name]
        size = SETTING_TYPES[code][1]
        out += bytes([code, len(values)])
        for v in values:
            out += struct.pack("<f", float(v)) if code == SETTING_FACTOR else int(v).to_bytes(size, "little")
    return bytes(out)


# --------------------------------------------------------------------------- data frames


@dataclass(frozen=True, slots=True, eq=False)
class PmdFrame:
    """One decoded PMD data notification, before timing."""

    measurement_type: int
    timestamp_ns: int
    """Device time of the LAST sample, ns since 2000-01-01 (device clock)."""
    frame_type: int
    """Frame type number (bit 7 removed)."""
    compressed: bool
    samples: np.ndarray
    """Shape (n, channels), float64, in the measurement's unit (ACC mG, ECG µV)."""

    @property
    def n(self) -> int:
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
    if channels < 1 or resolution_bits < 1 or resolution_bits > 32:
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
        if width < 1 or width > 32:
            raise DecodeError(f"PMD delta frame: bad delta bit width {width}")
        nbits = width * channels * count
        nbytes = (nbits + 7) // 8
        if pos + nbytes > len(content):
            raise DecodeError(f"PMD delta frame: block needs {nbytes} bytes, {len(content) - pos} left")
        if count:
            bits = np.unpackbits(np.frombuffer(content[pos : pos + nbytes], dtype=np.uint8), bitorder="little")
            bits = bits[:nbits].reshape(count * channels, width).astype(np.int64)
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
    return HEADER_BYTES + len(encode_delta(samples, resolution_bits))


DEFAULT_LAYOUT: Mapping[int, tuple[int, int]] = {ACC: (3, 16), ECG: (1, 14)}
"""(channels, resolution bits) used for delta frames when no settings are known (as the SDK)."""


def decode_pmd_frame(
    data: bytes,
    *,
    factor: float = 1.0,
    channels: int | None = None,
    resolution_bits: int | None = None,
) -> PmdFrame:
    """Decode one PMD data notification (ACC 0x00/0x01/0x02/0x80/0x81, ECG 0x00).

    Args:
        factor: FACTOR from the start response (1.0 when none was given).
        channels, resolution_bits: delta-frame layout (default 3 x 16 bit for ACC).

    Raises:
        DecodeError: malformed or unsupported frame.
    """
    if len(data) < HEADER_BYTES:
        raise DecodeError(f"PMD data frame too short ({len(data)} bytes, header is 10)")
    mtype = data[0] & 0x3F
    ts = int.from_bytes(data[1:9], "little")
    ftype_byte = data[9]
    compressed = bool(ftype_byte & 0x80)
    ftype = ftype_byte & 0x7F
    content = bytes(data[HEADER_BYTES:])
    if mtype == ACC:
        if compressed:
            ch, res = DEFAULT_LAYOUT[ACC]
            raw = decode_delta(content, channels or ch, resolution_bits or res).astype(np.float64)
            if ftype == 0:
                # "type 0" delta frames are in G x FACTOR (the SDK multiplies by 1000 for mG)
                samples = raw * factor * 1000.0
            elif ftype == 1:
                samples = raw * factor if factor != 1.0 else raw
            else:
                raise DecodeError(f"PMD ACC: unsupported compressed frame type {ftype_byte:#04x}")
        else:
            size = {0: 1, 1: 2, 2: 3}.get(ftype)
            if size is None:
                raise DecodeError(f"PMD ACC: unsupported frame type {ftype_byte:#04x}")
            samples = _le_ints(content, size, 3).astype(np.float64)
        if samples.shape[0] == 0:
            raise DecodeError("PMD ACC frame holds no samples")
        return PmdFrame(mtype, ts, ftype, compressed, samples)
    if mtype == ECG:
        if compressed:
            ch, res = DEFAULT_LAYOUT[ECG]
            samples = decode_delta(content, channels or ch, resolution_bits or res).astype(np.float64)
        elif ftype == 0:
            samples = _le_ints(content, 3, 1).astype(np.float64)
        else:
            raise DecodeError(f"PMD ECG: unsupported frame type {ftype_byte:#04x}")
        if samples.shape[0] == 0:
            raise DecodeError("PMD ECG frame holds no samples")
        return PmdFrame(mtype, ts, ftype, compressed, samples)
    raise DecodeError(f"PMD data: unsupported measurement type {mtype} ({MEASUREMENT_NAMES.get(mtype, '?')})")


def acc_frame_bytes(timestamp_ns: int, samples_mg: np.ndarray, *, compressed: bool) -> bytes:
    """Encode an ACC frame (emulator): raw 0x01 (int16 mG) or delta 0x81 (16-bit, mG)."""
    s = np.clip(np.rint(np.asarray(samples_mg, dtype=np.float64)), -32768, 32767).astype(np.int64)
    head = bytes([ACC]) + int(timestamp_ns).to_bytes(8, "little")
    if compressed:
        return head + b"\x81" + encode_delta(s, 16)
    return head + b"\x01" + s.astype("<i2").tobytes()


def ecg_frame_bytes(timestamp_ns: int, samples_uv: np.ndarray) -> bytes:
    """Encode an ECG frame type 0x00 (int24 µV) (emulator)."""
    s = np.asarray(samples_uv, dtype=np.int64) & 0xFFFFFF
    body = b"".join(int(v).to_bytes(3, "little") for v in s)
    return bytes([ECG]) + int(timestamp_ns).to_bytes(8, "little") + b"\x00" + body


# --------------------------------------------------------------------------- timing


def sample_times_ns(last_ns: int, n: int, prev_last_ns: int | None, rate_hz: float | None) -> np.ndarray:
    """Device time of every sample of a frame (Polar SDK rule).

    With the previous frame's last-sample time ``P``: spacing = (T - P) / n, first = P + spacing;
    without it, spacing = 1e9 / rate. The last sample gets ``T`` exactly.

    Raises:
        DecodeError: no previous frame and no rate, or a time before the epoch.
    """
    if n <= 0:
        raise DecodeError("frame without samples")
    if prev_last_ns is not None and prev_last_ns < last_ns:
        step = (last_ns - prev_last_ns) / n
        first = prev_last_ns + step
    else:
        if not rate_hz or rate_hz <= 0:
            raise DecodeError("no sample rate to time the first frame")
        step = 1e9 / rate_hz
        first = last_ns - step * (n - 1)
    t = np.rint(first + step * np.arange(n, dtype=np.float64))
    t[-1] = last_ns
    if t[0] < 0:
        raise DecodeError("sample time before the device epoch")
    return t


CLOCK_RESET_S = 5.0
"""A frame whose (arrival - device time) differs from the mapping by more restarts the mapping."""
CLOCK_SLEW = 0.01
"""The offset moves down (toward less latency) at most this share of the elapsed device time."""
CLOCK_CREEP = 1e-4
"""... and up (clock drift, 100 ppm) at most this share, so the mapping keeps the lowest latency."""


class DeviceClockMap:
    """Maps device time (ns) to session seconds: ``t = device_s + offset``.

    ``offset`` follows the lower envelope of ``arrival - device time`` over frames (notifications
    only ever arrive late, so the least-delayed frame is the best estimate), moving by a bounded
    rate so mapped times stay monotonic; a jump beyond :data:`CLOCK_RESET_S` (device restarted,
    clock set) restarts the mapping.
    """

    def __init__(self) -> None:
        self.offset_s: float | None = None
        self._last_dev_s: float | None = None
        self.resets = 0

    def reset(self) -> None:
        self.offset_s = None
        self._last_dev_s = None

    def update(self, device_ns: int, arrival_s: float) -> float:
        """Take one frame (device time of its last sample, arrival) and return the offset."""
        dev_s = device_ns / 1e9
        c = arrival_s - dev_s
        if (
            self.offset_s is None
            or self._last_dev_s is None
            or abs(c - self.offset_s) > CLOCK_RESET_S
            or dev_s < self._last_dev_s - CLOCK_RESET_S
        ):
            if self.offset_s is not None:
                self.resets += 1
            self.offset_s = c
        else:
            elapsed = max(dev_s - self._last_dev_s, 0.0)
            if c < self.offset_s:
                self.offset_s = max(c, self.offset_s - CLOCK_SLEW * elapsed)
            else:
                self.offset_s = min(c, self.offset_s + CLOCK_CREEP * elapsed)
        self._last_dev_s = dev_s
        return self.offset_s

    def to_session(self, device_ns: np.ndarray) -> np.ndarray:
        """Session seconds of device times with the current offset."""
        assert self.offset_s is not None
        return np.asarray(device_ns, dtype=np.float64) / 1e9 + self.offset_s

    def map_frame(self, device_ns: np.ndarray, arrival_s: float) -> np.ndarray:
        """Update with a frame (sample times in ns, last = frame time) and map its samples.

        A change of offset is spread over the frame's samples (a ramp from the previous offset
        to the new one), so the mapped spacing never changes by more than :data:`CLOCK_SLEW`.
        """
        dev = np.asarray(device_ns, dtype=np.float64)
        before = self.offset_s
        resets = self.resets
        after = self.update(int(dev[-1]), arrival_s)
        if before is None or self.resets != resets or dev.shape[0] < 2 or before == after:
            return dev / 1e9 + after
        ramp = np.linspace(0.0, 1.0, dev.shape[0] + 1)[1:]
        return dev / 1e9 + before + (after - before) * ramp


GAP_FACTOR = 1.5
"""A frame whose implied spacing exceeds the known spacing by this factor follows a gap."""


class PmdStreamTimer:
    """Times the samples of one PMD stream (one measurement and frame type).

    Spacing comes from consecutive frame timestamps (``(T - P) / n``, as the Polar SDK does). The
    sample rate is learned from the data: the very first frame of a stream is held back until the
    second one gives the spacing; after a gap (lost frames, reconnect) or a clock jump the learned
    spacing times the frame from its own last-sample time.
    """

    def __init__(self, nominal_rate_hz: float | None = None) -> None:
        self.nominal_rate_hz = nominal_rate_hz
        self.step_ns: float | None = 1e9 / nominal_rate_hz if nominal_rate_hz else None
        self._prev_ns: int | None = None
        self._pending: list[tuple[PmdFrame, float]] = []
        self._last_gap_implied: float | None = None
        self.gaps = 0

    def reset(self) -> None:
        self._prev_ns = None

    def feed(self, frame: PmdFrame, arrival_s: float) -> list[tuple[PmdFrame, float, np.ndarray]]:
        """Frames that can now be timed: ``(frame, arrival_s, device sample times in ns)``."""
        T, n = frame.timestamp_ns, frame.n
        if self.step_ns is None:
            if not self._pending:
                self._pending.append((frame, arrival_s))
                return []
            first, first_arrival = self._pending[0]
            if T <= first.timestamp_ns:
                # clock went back: start over with this frame
                self._pending = [(frame, arrival_s)]
                return []
            self.step_ns = (T - first.timestamp_ns) / n
            self._pending = []
            times0 = sample_times_ns(first.timestamp_ns, first.n, None, 1e9 / self.step_ns)
            self._prev_ns = first.timestamp_ns
            return [(first, first_arrival, times0), *self.feed(frame, arrival_s)]
        prev = self._prev_ns
        if prev is not None:
            implied = (T - prev) / n if T > prev else -1.0
            if implied <= 0 or implied > GAP_FACTOR * self.step_ns or implied < self.step_ns / GAP_FACTOR:
                last = self._last_gap_implied
                if implied > 0 and last is not None and abs(implied - last) <= 0.1 * last:
                    # two frames in a row agree on a new spacing: the rate changed, learn it
                    self.step_ns = implied
                    self._last_gap_implied = None
                else:
                    self.gaps += 1
                    self._last_gap_implied = implied if implied > 0 else None
                    prev = None
            else:
                self._last_gap_implied = None
        times = sample_times_ns(T, n, prev, 1e9 / self.step_ns)
        if prev is not None:
            # follow the device clock's real rate, smoothly
            self.step_ns += 0.05 * ((T - prev) / n - self.step_ns)
        self._prev_ns = T
        return [(frame, arrival_s, times)]
