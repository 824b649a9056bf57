"""PMD control point: settings TLVs, requests, responses and the feature read. Pure.

The client writes ``[op, request byte, settings TLVs...]``; the device answers by indication
``F0 op type status more [params]`` (params only when status is 0), or sends ``01 types...``
when it stopped a stream by itself. A read gives the feature bitmap (``0F`` + bitmaps). The
encoders marked "emulator" build what a device sends, for the emulated strap.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from psoas_sense.decode.pmd.const import (
    ERROR_NAMES,
    FEATURE_BITS,
    FEATURES_READ_BYTES,
    MEASUREMENT_TYPE_MASK,
    OFFLINE_BIT,
    SETTING_IDS,
    SETTING_TYPES,
    CpHead,
    CpStatus,
    OpCode,
    SettingType,
)
from psoas_sense.errors import DecodeError

_REQUESTS_WITH_TYPE = (
    OpCode.GET_MEASUREMENT_SETTINGS,
    OpCode.START_MEASUREMENT,
    OpCode.STOP_MEASUREMENT,
    OpCode.GET_SDK_MODE_SETTINGS,
)
"""Requests whose second byte is a measurement type."""


# --------------------------------------------------------------------------- settings


def _value_bytes(code: int, value: float, size: int) -> bytes:
    """One setting value on the wire: float32 for FACTOR, little-endian unsigned otherwise."""
    if code == SettingType.FACTOR:
        return struct.pack("<f", float(value))
    return int(value).to_bytes(size, "little")


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
            if code == SettingType.FACTOR:
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
        out += _value_bytes(code, value, size)
    return bytes(out)


def available_settings_bytes(settings: Mapping[str, tuple[float, ...]]) -> bytes:
    """Settings TLVs listing every allowed value (a get-settings response, emulator)."""
    out = bytearray()
    for name, values in settings.items():
        code = SETTING_IDS[name]
        size = SETTING_TYPES[code][1]
        out += bytes([code, len(values)])
        for v in values:
            out += _value_bytes(code, v, size)
    return bytes(out)


# --------------------------------------------------------------------------- requests


def get_settings_request(measurement_type: int) -> bytes:
    """``01 type``: ask for the settings a measurement allows (online streaming)."""
    return bytes([OpCode.GET_MEASUREMENT_SETTINGS, measurement_type & MEASUREMENT_TYPE_MASK])


def start_request(measurement_type: int, settings: Mapping[str, float]) -> bytes:
    """``02 type TLVs``: start streaming with one value per setting (send every offered one)."""
    return bytes([OpCode.START_MEASUREMENT, measurement_type & MEASUREMENT_TYPE_MASK]) + serialize_settings(settings)


def stop_request(measurement_type: int) -> bytes:
    """``03 type``: stop a stream."""
    return bytes([OpCode.STOP_MEASUREMENT, measurement_type & MEASUREMENT_TYPE_MASK])


@dataclass(frozen=True, slots=True)
class CpRequest:
    """A control-point write as the device sees it."""

    op_code: int
    """Op code (an :class:`OpCode` value, or an unknown byte)."""
    measurement_type: int
    """Measurement type (request byte masked with 0x3F)."""
    offline: bool
    """Request byte bit 7: offline recording rather than online streaming."""
    settings: dict[str, tuple[float, ...]] = field(default_factory=dict)
    """Settings of a start request, ``{name: values}``."""


def parse_cp_request(data: bytes) -> CpRequest:
    """Parse a CP write (used by the emulated strap)."""
    if len(data) < 1:
        raise DecodeError("PMD control point request is empty")
    op = data[0]
    if op in _REQUESTS_WITH_TYPE:
        if len(data) < 2:
            raise DecodeError(f"PMD request op {op:#04x} lacks its measurement type")
        settings = parse_settings(data[2:]) if op == OpCode.START_MEASUREMENT else {}
        return CpRequest(op, data[1] & MEASUREMENT_TYPE_MASK, bool(data[1] & OFFLINE_BIT), settings)
    return CpRequest(op, 0, False, {})


# --------------------------------------------------------------------------- device messages


@dataclass(frozen=True, slots=True)
class CpResponse:
    """A control-point response (``F0 ...``)."""

    op_code: int
    """Op code of the request answered."""
    measurement_type: int
    """Measurement type of the request answered."""
    status: int
    """Status byte (a :class:`CpStatus` value; 0 is success)."""
    more_frames: bool
    """The response continues in further indications."""
    params: bytes
    """Parameter bytes after ``more_frames`` (success only)."""
    settings: dict[str, tuple[float, ...]] = field(default_factory=dict)
    """``params`` parsed as settings TLVs."""

    @property
    def ok(self) -> bool:
        """The request succeeded."""
        return self.status == CpStatus.SUCCESS

    @property
    def status_name(self) -> str:
        """``SUCCESS`` or ``ERROR_...`` (``ERROR_<n>`` for a code not in the spec)."""
        return ERROR_NAMES.get(self.status, f"ERROR_{self.status}")


@dataclass(frozen=True, slots=True)
class CpFeatures:
    """The feature bitmap (``0F ...``, a CP read, or its echo as a notification on BlueZ)."""

    measurements: frozenset[str]
    """Names of the measurements the device offers (``"acc"``, ``"ecg"`` ...)."""


@dataclass(frozen=True, slots=True)
class CpMeasurementStopped:
    """The device stopped streams by itself (``01 types...``)."""

    measurement_types: tuple[int, ...]
    """Measurement types stopped."""


CpMessage = CpResponse | CpFeatures | CpMeasurementStopped


def parse_features(data: bytes) -> CpFeatures:
    """Feature read: ``0F`` then bitmaps (17 bytes on real devices; 2 are enough here)."""
    if len(data) < 2 or data[0] != CpHead.FEATURES:
        raise DecodeError("PMD feature read must start with 0x0F and hold a bitmap")
    found = {name for idx, bit, name in FEATURE_BITS if idx < len(data) and data[idx] & bit}
    return CpFeatures(frozenset(found))


def features_bytes(measurements: set[str] | frozenset[str]) -> bytes:
    """The 17-byte feature read a device with these measurements gives (emulator)."""
    out = bytearray(FEATURES_READ_BYTES)
    out[0] = CpHead.FEATURES
    for idx, bit, name in FEATURE_BITS:
        if name in measurements:
            out[idx] |= bit
    return bytes(out)


def parse_cp_message(data: bytes) -> CpMessage:
    """Any CP indication/notification; raises :class:`DecodeError` for anything else."""
    if not data:
        raise DecodeError("PMD control point message is empty")
    head = data[0]
    if head == CpHead.RESPONSE:
        if len(data) < 4:
            raise DecodeError(f"PMD control point response too short ({len(data)} bytes)")
        op, mtype, status = data[1], data[2] & MEASUREMENT_TYPE_MASK, data[3]
        if status != CpStatus.SUCCESS:
            return CpResponse(op, mtype, status, False, b"", {})
        more = bool(data[4]) if len(data) > 4 else False
        params = bytes(data[5:])
        return CpResponse(op, mtype, status, more, params, parse_settings(params))
    if head == CpHead.FEATURES:
        return parse_features(data)
    if head == CpHead.MEASUREMENT_STOPPED:
        return CpMeasurementStopped(tuple(b & MEASUREMENT_TYPE_MASK for b in data[1:]))
    raise DecodeError(f"PMD control point message with unknown first byte {head:#04x}")


def cp_response_bytes(op: int, mtype: int, status: int = 0, params: bytes = b"", more: bool = False) -> bytes:
    """Encode a CP response (emulator). Error responses carry no ``more`` byte."""
    if status:
        return bytes([CpHead.RESPONSE, op, mtype, status])
    return bytes([CpHead.RESPONSE, op, mtype, CpStatus.SUCCESS, 1 if more else 0]) + params
