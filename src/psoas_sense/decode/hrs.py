"""Bluetooth SIG Heart Rate Service: Heart Rate Measurement (0x2A37), Body Sensor Location
(0x2A38) and Battery Level (0x2A19). Pure functions on bytes.

Layout (Bluetooth SIG GATT XML, heart_rate_measurement): flags; HR as uint8 or uint16 LE
(flags bit 0); energy expended uint16 LE in kJ if bit 3; then RR intervals, uint16 LE each in
1/1024 s, oldest first, as many as the remaining bytes hold, if bit 4. Contact status: bit 2 =
contact supported, bit 1 = contact detected (only meaningful when bit 2 is set).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from psoas_sense.errors import DecodeError
from psoas_sense.model import HRFrame, Notification, RRFrame, SampleFrame

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


# --------------------------------------------------------------------------- the device decoder

RR_REANCHOR_AHEAD_S = 0.05
"""The beat clock is re-anchored when it runs ahead of the notification's arrival by more."""
RR_REANCHOR_BEHIND_S = 2.0
"""... or falls behind arrival by more than this (lost notifications, reconnects)."""


class RRBeatClock:
    """Gives each RR interval a beat time: a running sum anchored to notification arrival.

    A notification carries the RR intervals of the beats since the previous one, oldest first;
    the newest beat happened just before the notification arrived. Beat times are the running
    sum of intervals, re-anchored to the arrival time when the sum drifts out of a window.
    """

    def __init__(self) -> None:
        self._last_beat_s: float | None = None

    def reset(self) -> None:
        self._last_beat_s = None

    def beat_times(self, arrival_s: float, rr_ms: tuple[float, ...]) -> np.ndarray:
        rr_s = np.asarray(rr_ms, dtype=np.float64) / 1000.0
        if self._last_beat_s is not None:
            chain = self._last_beat_s + np.cumsum(rr_s)
            end = float(chain[-1])
            if end > arrival_s + RR_REANCHOR_AHEAD_S or end < arrival_s - RR_REANCHOR_BEHIND_S:
                chain = arrival_s - (np.sum(rr_s) - np.cumsum(rr_s))
        else:
            chain = arrival_s - (np.sum(rr_s) - np.cumsum(rr_s))
        self._last_beat_s = float(chain[-1])
        return chain


class HrsDecoder:
    """Heart Rate Measurement notifications: an :class:`HRFrame` each and, when they carry RR
    intervals, an :class:`RRFrame` timed by :class:`RRBeatClock`."""

    chars = frozenset({HEART_RATE_MEASUREMENT_UUID})
    """The characteristics it decodes."""

    def __init__(self) -> None:
        self._beats = RRBeatClock()

    def decode(self, n: Notification) -> tuple[list[SampleFrame], list[str]]:
        """The frames of one notification; raises :class:`DecodeError` on bad bytes."""
        m = decode_heart_rate_measurement(n.data)
        out: list[SampleFrame] = [HRFrame(t_s=n.t_s, hr_bpm=float(m.hr_bpm))]
        if m.rr_raw:
            rr = m.rr_ms
            out.append(RRFrame(t_s=self._beats.beat_times(n.t_s, rr), rr_ms=np.asarray(rr)))
        return out, []
