"""Go Direct reply payloads: status, device info, channel masks and sensor info. Pure.

Offsets are those of the whole reply frame (the payload starts at frame offset 6), from
GDXLib's C structs and godirect-js's readers. Each reply has a parser (the client's) and a
builder (the emulator's), so one layout serves both sides.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from psoas_sense.decode.gdx.const import CHARGER_STATES
from psoas_sense.errors import DecodeError

STATUS_FORMAT = "<BBBBHBBHBB"
"""GET_STATUS payload (12 bytes, frame offsets 6-17): status bits, spare, main CPU firmware
major/minor/build, BLE CPU firmware major/minor/build, battery %, charger state."""
DEVICE_INFO_FORMAT = "<16s16s32sHHBBBBHBBH6sI64s"
"""GET_DEVICE_INFO payload (152 bytes, frame offsets 6-157): order code, serial, name (NUL-padded
UTF-8), manufacturer id, year, month, day, main and BLE firmware major/minor/build, BLE address,
NV memory size, description."""
SENSOR_INFO_FORMAT = "<bBIBB60s32sdddIQIII"
"""GET_SENSOR_INFO payload (148 bytes, frame offsets 6-153): channel, spare, sensor id, numeric
type (0 real, 1 int32), sampling mode (0 periodic, 1 aperiodic), description, unit, uncertainty,
min, max, min period µs, max period µs (u64), typical period µs, granularity µs, mutual
exclusion mask."""


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()


def _pad(text: str, size: int) -> bytes:
    return text.encode("utf-8")[:size].ljust(size, b"\x00")


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """The GET_STATUS reply."""

    status_bits: int
    """Error and state bits (:class:`~psoas_sense.decode.gdx.const.StatusBit`)."""
    main_firmware: str
    """Main CPU firmware, ``major.minor.build``."""
    ble_firmware: str
    """BLE CPU firmware, ``major.minor.build``."""
    battery_pct: int
    """Battery, percent."""
    charger: str
    """``idle``, ``charging``, ``complete``, ``error`` (or the raw number)."""


def _unpack(fmt: str, payload: bytes, what: str) -> tuple[Any, ...]:
    """A reply's payload (its bytes from offset 6) unpacked by ``fmt``; too short: DecodeError."""
    need = struct.calcsize(fmt)
    if len(payload) < need:
        raise DecodeError(f"Go Direct {what} of {len(payload) + 6} bytes; expected {need + 6}")
    return struct.unpack_from(fmt, payload)


def parse_status(payload: bytes) -> DeviceStatus:
    """The GET_STATUS payload (the reply's bytes from offset 6)."""
    bits, _, mj, mn, mb, bj, bn, bb, batt, charger = _unpack(STATUS_FORMAT, payload, "status reply")
    return DeviceStatus(bits, f"{mj}.{mn}.{mb}", f"{bj}.{bn}.{bb}", batt, CHARGER_STATES.get(charger, str(charger)))


def status_payload(main: tuple[int, int, int], ble: tuple[int, int, int], battery_pct: int,
                   charger: int = 0, bits: int = 0) -> bytes:
    """The GET_STATUS payload (the emulator's)."""
    return struct.pack(STATUS_FORMAT, bits, 0, *main, *ble, battery_pct, charger)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """The GET_DEVICE_INFO reply (the fields a recording header uses)."""

    order_code: str
    """``GDX-RB``."""
    serial: str
    """The serial number (8 characters starting ``0K`` on every RB seen)."""
    name: str
    """The device name."""
    main_firmware: str
    """Main CPU firmware, ``major.minor.build``."""
    ble_firmware: str
    """BLE CPU firmware, ``major.minor.build``."""
    description: str
    """Free text."""


def parse_device_info(payload: bytes) -> DeviceInfo:
    """The GET_DEVICE_INFO payload."""
    f = _unpack(DEVICE_INFO_FORMAT, payload, "device info")
    order, serial, name = _text(f[0]), _text(f[1]), _text(f[2])
    main = f"{f[7]}.{f[8]}.{f[9]}"
    ble = f"{f[10]}.{f[11]}.{f[12]}"
    return DeviceInfo(order, serial, name, main, ble, _text(f[15]))


def device_info_payload(order_code: str, serial: str, name: str, *, manufacturer_id: int, date: tuple[int, int, int],
                        main: tuple[int, int, int], ble: tuple[int, int, int], address: bytes, nv_bytes: int,
                        description: str) -> bytes:
    """The GET_DEVICE_INFO payload (the emulator's)."""
    year, month, day = date
    return struct.pack(
        DEVICE_INFO_FORMAT, _pad(order_code, 16), _pad(serial, 16), _pad(name, 32), manufacturer_id, year, month,
        day, *main, *ble, address[:6].ljust(6, b"\x00"), nv_bytes, _pad(description, 64),
    )


def parse_mask(payload: bytes) -> int:
    """A GET_AVAILABLE_MASK or GET_DEFAULT_MASK payload: u32 LE channel bits."""
    if len(payload) < 4:
        raise DecodeError(f"Go Direct channel mask reply of {len(payload) + 6} bytes; expected 10")
    return int.from_bytes(payload[:4], "little")


def mask_payload(mask: int) -> bytes:
    """A channel-mask payload (the emulator's)."""
    return (mask & 0xFFFFFFFF).to_bytes(4, "little")


@dataclass(frozen=True, slots=True)
class SensorInfo:
    """The GET_SENSOR_INFO reply for one channel."""

    channel: int
    sensor_id: int
    """0: no sensor on this channel (godirect-js drops such entries)."""
    description: str
    unit: str
    min_period_us: int
    typical_period_us: int

    @property
    def present(self) -> bool:
        """A real sensor (non-zero id)."""
        return self.sensor_id != 0


def parse_sensor_info(payload: bytes) -> SensorInfo:
    """The GET_SENSOR_INFO payload."""
    f = _unpack(SENSOR_INFO_FORMAT, payload, "sensor info")
    return SensorInfo(f[0], f[2], _text(f[5]), _text(f[6]), f[10], f[12])


def sensor_info_payload_bytes(channel: int, sensor_id: int, description: str, unit: str, *, uncertainty: float,
                              lo: float, hi: float, min_period_us: int, max_period_us: int,
                              typical_period_us: int, granularity_us: int, exclusion_mask: int = 0) -> bytes:
    """The GET_SENSOR_INFO payload (the emulator's)."""
    return struct.pack(
        SENSOR_INFO_FORMAT, channel, 0, sensor_id, 0, 0, _pad(description, 60), _pad(unit, 32), uncertainty, lo, hi,
        min_period_us, max_period_us, typical_period_us, granularity_us, exclusion_mask,
    )
