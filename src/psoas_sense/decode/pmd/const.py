"""Numbers of the Polar Measurement Data (PMD) protocol, as enums. Pure, no logic.

Shared by the decoder (:mod:`psoas_sense.decode.pmd`) and the emulated strap
(:mod:`psoas_sense.sources.emulator`), so both speak the same codes. The plain module aliases
(``ACC``, ``OP_START``, ``ERROR_ALREADY_IN_STATE`` ...) are the same enum members under their
historical names.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum

PMD_SERVICE_UUID = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CONTROL_POINT_UUID = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA_UUID = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"

POLAR_EPOCH_UNIX_S = 946_684_800
"""Seconds from 1970-01-01 to 2000-01-01, the PMD timestamp epoch."""

MEASUREMENT_TYPE_MASK = 0x3F
"""Low bits of a request byte or of a data frame's first byte: the measurement type."""
OFFLINE_BIT = 0x80
"""Request byte bit 7: offline recording rather than online streaming."""
COMPRESSED_BIT = 0x80
"""Frame type bit 7: delta-compressed content."""
HEADER_BYTES = 10
"""Data frame header: type (1) + timestamp (8) + frame type (1)."""
FEATURES_READ_BYTES = 17
"""Length of the feature read of a real device: ``0F`` and 16 bitmap bytes."""


class MeasurementType(IntEnum):
    """Measurement types (a data frame's first byte, masked with 0x3F)."""

    ECG = 0
    PPG = 1
    ACC = 2
    PPI = 3
    RFU = 4
    GYRO = 5
    MAGNETOMETER = 6
    SKIN_TEMP = 7
    SDK_MODE = 9
    LOCATION = 10
    PRESSURE = 11
    TEMPERATURE = 12
    OFFLINE_RECORDING = 13
    OFFLINE_HR = 14


class OpCode(IntEnum):
    """Control-point request op codes (first byte of a CP write)."""

    GET_MEASUREMENT_SETTINGS = 0x01
    START_MEASUREMENT = 0x02
    STOP_MEASUREMENT = 0x03
    GET_SDK_MODE_SETTINGS = 0x04
    GET_MEASUREMENT_STATUS = 0x05
    GET_SDK_MODE_STATUS = 0x06


class CpHead(IntEnum):
    """First byte of a message from the control point."""

    MEASUREMENT_STOPPED = 0x01
    """``01 types...``: the device stopped streams by itself."""
    FEATURES = 0x0F
    """``0F bitmaps``: the feature read (or its echo as a notification on BlueZ)."""
    RESPONSE = 0xF0
    """``F0 op type status more [params]``: the answer to a CP write."""


class CpStatus(IntEnum):
    """Status byte of a control-point response (0 = success, the rest are errors)."""

    SUCCESS = 0
    ERROR_INVALID_OP_CODE = 1
    ERROR_INVALID_MEASUREMENT_TYPE = 2
    ERROR_NOT_SUPPORTED = 3
    ERROR_INVALID_LENGTH = 4
    ERROR_INVALID_PARAMETER = 5
    ERROR_ALREADY_IN_STATE = 6
    ERROR_INVALID_RESOLUTION = 7
    ERROR_INVALID_SAMPLE_RATE = 8
    ERROR_INVALID_RANGE = 9
    ERROR_INVALID_MTU = 10
    ERROR_INVALID_NUMBER_OF_CHANNELS = 11
    ERROR_INVALID_STATE = 12
    ERROR_DEVICE_IN_CHARGER = 13
    ERROR_DISK_FULL = 14


class SettingType(IntEnum):
    """Settings TLV types (``type count value*count``)."""

    SAMPLE_RATE = 0
    RESOLUTION = 1
    RANGE = 2
    RANGE_MILLIUNIT = 3
    CHANNELS = 4
    FACTOR = 5
    SECURITY = 6


SETTING_SIZE_BYTES: Mapping[SettingType, int] = {
    SettingType.SAMPLE_RATE: 2,
    SettingType.RESOLUTION: 2,
    SettingType.RANGE: 2,
    SettingType.RANGE_MILLIUNIT: 4,
    SettingType.CHANNELS: 1,
    SettingType.FACTOR: 4,
    SettingType.SECURITY: 16,
}
"""Bytes of one value of each setting (FACTOR is a float32, SECURITY 16 raw bytes)."""

# the historical flat names, kept for callers and tests
ECG = MeasurementType.ECG
PPG = MeasurementType.PPG
ACC = MeasurementType.ACC
PPI = MeasurementType.PPI
GYRO = MeasurementType.GYRO
MAGNETOMETER = MeasurementType.MAGNETOMETER
OP_GET_SETTINGS = OpCode.GET_MEASUREMENT_SETTINGS
OP_START = OpCode.START_MEASUREMENT
OP_STOP = OpCode.STOP_MEASUREMENT
CP_RESPONSE = CpHead.RESPONSE
CP_FEATURES = CpHead.FEATURES
CP_MEASUREMENT_STOPPED = CpHead.MEASUREMENT_STOPPED
ERROR_ALREADY_IN_STATE = CpStatus.ERROR_ALREADY_IN_STATE
SETTING_SAMPLE_RATE = SettingType.SAMPLE_RATE
SETTING_RESOLUTION = SettingType.RESOLUTION
SETTING_RANGE = SettingType.RANGE
SETTING_RANGE_MILLIUNIT = SettingType.RANGE_MILLIUNIT
SETTING_CHANNELS = SettingType.CHANNELS
SETTING_FACTOR = SettingType.FACTOR
SETTING_SECURITY = SettingType.SECURITY

MEASUREMENT_NAMES: Mapping[int, str] = {m.value: m.name.lower() for m in MeasurementType}
"""Measurement type -> lower-case name (``2 -> "acc"``)."""
OP_NAMES: Mapping[int, str] = {op.value: op.name.lower() for op in OpCode}
"""Op code -> name (``2 -> "start_measurement"``)."""
ERROR_NAMES: Mapping[int, str] = {s.value: s.name for s in CpStatus}
"""Status byte -> name (``6 -> "ERROR_ALREADY_IN_STATE"``)."""
SETTING_TYPES: Mapping[int, tuple[str, int]] = {s.value: (s.name.lower(), SETTING_SIZE_BYTES[s]) for s in SettingType}
"""Setting type -> (name, value size in bytes)."""
SETTING_IDS: Mapping[str, int] = {name: code for code, (name, _) in SETTING_TYPES.items()}
"""Setting name -> type."""
FEATURE_BITS: tuple[tuple[int, int, str], ...] = tuple(
    (1 + m.value // 8, 1 << (m.value % 8), m.name.lower()) for m in MeasurementType
)
"""(byte index, bit mask, measurement name) of each measurement in the feature read."""
