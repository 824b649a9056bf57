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

The package is split by concern: :mod:`.const` (the protocol's numbers as enums),
:mod:`.control` (control point), :mod:`.frames` (data frames), :mod:`.timing` (sample times
and the device clock) and :mod:`.decoder` (the device decoder the notification decoder calls).
Every name is re-exported here, so ``from psoas_sense.decode import pmd``
and ``pmd.X`` work as before.
"""

from __future__ import annotations

from psoas_sense.decode.pmd.const import (
    ACC,
    CP_FEATURES,
    CP_MEASUREMENT_STOPPED,
    CP_RESPONSE,
    ECG,
    ERROR_ALREADY_IN_STATE,
    ERROR_NAMES,
    FEATURE_BITS,
    GYRO,
    HEADER_BYTES,
    MAGNETOMETER,
    MEASUREMENT_NAMES,
    OP_GET_SETTINGS,
    OP_NAMES,
    OP_START,
    OP_STOP,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    PMD_SERVICE_UUID,
    POLAR_EPOCH_UNIX_S,
    PPG,
    PPI,
    SETTING_CHANNELS,
    SETTING_FACTOR,
    SETTING_IDS,
    SETTING_RANGE,
    SETTING_RANGE_MILLIUNIT,
    SETTING_RESOLUTION,
    SETTING_SAMPLE_RATE,
    SETTING_SECURITY,
    SETTING_TYPES,
    CpHead,
    CpStatus,
    MeasurementType,
    OpCode,
    SettingType,
)
from psoas_sense.decode.pmd.control import (
    CpFeatures,
    CpMeasurementStopped,
    CpMessage,
    CpRequest,
    CpResponse,
    available_settings_bytes,
    cp_response_bytes,
    features_bytes,
    get_settings_request,
    parse_cp_message,
    parse_cp_request,
    parse_features,
    parse_settings,
    serialize_settings,
    start_request,
    stop_request,
)
from psoas_sense.decode.pmd.decoder import PmdDecoder
from psoas_sense.decode.pmd.frames import (
    DEFAULT_LAYOUT,
    PmdFrame,
    acc_frame_bytes,
    bytes_per_delta_frame,
    decode_delta,
    decode_pmd_frame,
    ecg_frame_bytes,
    encode_delta,
)
from psoas_sense.decode.pmd.timing import (
    CLOCK_CREEP,
    CLOCK_RESET_S,
    CLOCK_SLEW,
    GAP_FACTOR,
    DeviceClockMap,
    PmdStreamTimer,
    sample_times_ns,
)

_FEATURE_BITS = FEATURE_BITS
"""The old private name of :data:`FEATURE_BITS`."""

__all__ = [
    "ACC",
    "CLOCK_CREEP",
    "CLOCK_RESET_S",
    "CLOCK_SLEW",
    "CP_FEATURES",
    "CP_MEASUREMENT_STOPPED",
    "CP_RESPONSE",
    "DEFAULT_LAYOUT",
    "ECG",
    "ERROR_ALREADY_IN_STATE",
    "ERROR_NAMES",
    "FEATURE_BITS",
    "GAP_FACTOR",
    "GYRO",
    "HEADER_BYTES",
    "MAGNETOMETER",
    "MEASUREMENT_NAMES",
    "OP_GET_SETTINGS",
    "OP_NAMES",
    "OP_START",
    "OP_STOP",
    "PMD_CONTROL_POINT_UUID",
    "PMD_DATA_UUID",
    "PMD_SERVICE_UUID",
    "POLAR_EPOCH_UNIX_S",
    "PPG",
    "PPI",
    "SETTING_CHANNELS",
    "SETTING_FACTOR",
    "SETTING_IDS",
    "SETTING_RANGE",
    "SETTING_RANGE_MILLIUNIT",
    "SETTING_RESOLUTION",
    "SETTING_SAMPLE_RATE",
    "SETTING_SECURITY",
    "SETTING_TYPES",
    "CpFeatures",
    "CpHead",
    "CpMeasurementStopped",
    "CpMessage",
    "CpRequest",
    "CpResponse",
    "CpStatus",
    "DeviceClockMap",
    "MeasurementType",
    "OpCode",
    "PmdDecoder",
    "PmdFrame",
    "PmdStreamTimer",
    "SettingType",
    "acc_frame_bytes",
    "available_settings_bytes",
    "bytes_per_delta_frame",
    "cp_response_bytes",
    "decode_delta",
    "decode_pmd_frame",
    "ecg_frame_bytes",
    "encode_delta",
    "features_bytes",
    "get_settings_request",
    "parse_cp_message",
    "parse_cp_request",
    "parse_features",
    "parse_settings",
    "sample_times_ns",
    "serialize_settings",
    "start_request",
    "stop_request",
]
