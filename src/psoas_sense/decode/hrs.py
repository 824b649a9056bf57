"""Bluetooth SIG Heart Rate Service: Heart Rate Measurement (0x2A37), Body Sensor Location
(0x2A38) and Battery Level (0x2A19). Pure functions on bytes.

Layout (Bluetooth SIG GATT XML, heart_rate_measurement): flags; HR as uint8 or uint16 LE
(flags bit 0); energy expended uint16 LE in kJ if bit 3; then RR intervals, uint16 LE each in
1/1024 s, oldest first, as many as the remaining bytes hold, if bit 4. Contact status: bit 2 =
contact supported, bit 1 = contact detected (only meaningful when bit 2 is set).
"""

from __future__ import annotations

from dataclasses import dataclass

from psoas_sense.errors import DecodeError

HEART_RATE_SERVICE_UUID = "0000180d-0000-1000-8000-00805f9b34fb"
HEART_RATE_MEASUREMENT_UUID = "00002a37-0000-1000-8000-00805f9b34fb"
BODY_SENSOR_LOCATION_UUID = "00002a38-0000-1000-8000-00805f9b34fb"
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9b34fb"
BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"

BODY_SENSOR_LOCATIONS = {0: "other", 1: "chest", 2: "wrist", 3: "finger", 4: "hand", 5: "ear lobe", 6: "foot"}


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """One decoded 0x2A37 notification."""

    hr_bpm: int
    """Heart rate, beats per minute."""
    rr_raw: tuple[int, ...]
    """RR intervals in 1/1024 s, oldest first."""
    energy_kj: int | None
    """Energy expended, kilojoules, when present."""
    contact_supported: bool
    """The strap reports skin contact."""
    contact_detected: bool | None
    """Skin contact, or None when the strap does not report it."""
    hr_uint16: bool
    """The HR field was 16 bits wide."""

    @property
    def rr_ms(self) -> tuple[float, ...]:
        """RR intervals in milliseconds (exact: raw * 1000 / 1024)."""
        return tuple(r * 1000.0 / 1024.0 for r in self.rr_raw)


def decode_heart_rate_measurement(data: bytes) -> HeartRateMeasurement:
    """Decode a Heart Rate Measurement value; raises :class:`DecodeError` on bad bytes."""
    if len(data) < 2:
        raise DecodeError(f"heart rate measurement too short ({len(data)} bytes)")
    flags = data[0]
    pos = 1
    hr16 = bool(flags & 0x01)
    if hr16:
        if len(data) < 3:
            raise DecodeError("heart rate measurement: uint16 HR flagged but only 1 byte follows")
        hr = int.from_bytes(data[1:3], "little")
        pos = 3
    else:
        hr = data[1]
        pos = 2
    energy: int | None = None
    if flags & 0x08:
        if len(data) < pos + 2:
            raise DecodeError("heart rate measurement: energy expended flagged but missing")
        energy = int.from_bytes(data[pos : pos + 2], "little")
        pos += 2
    rr: tuple[int, ...] = ()
    if flags & 0x10:
        rest = data[pos:]
        if len(rest) % 2:
            raise DecodeError(f"heart rate measurement: odd RR field length ({len(rest)} bytes)")
        rr = tuple(int.from_bytes(rest[i : i + 2], "little") for i in range(0, len(rest), 2))
    contact_supported = bool(flags & 0x04)
    contact = bool(flags & 0x02) if contact_supported else None
    return HeartRateMeasurement(hr, rr, energy, contact_supported, contact, hr16)


def decode_body_sensor_location(data: bytes) -> str:
    """Body Sensor Location (0x2A38) as a name."""
    if len(data) != 1:
        raise DecodeError(f"body sensor location must be 1 byte, got {len(data)}")
    return BODY_SENSOR_LOCATIONS.get(data[0], "reserved")


def decode_battery_level(data: bytes) -> int:
    """Battery Level (0x2A19), percent 0-100."""
    if len(data) < 1:
        raise DecodeError("battery level is empty")
    if data[0] > 100:
        raise DecodeError(f"battery level {data[0]} is above 100 %")
    return data[0]
