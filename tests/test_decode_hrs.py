"""Heart Rate Service decoders: the shared byte vectors, every flag combination, fuzzing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psoas_sense.decode import NotificationDecoder
from psoas_sense.decode.hrs import (
    BATTERY_LEVEL_UUID,
    HEART_RATE_MEASUREMENT_UUID,
    HeartRateMeasurement,
    decode_battery_level,
    decode_body_sensor_location,
    decode_heart_rate_measurement,
)
from psoas_sense.errors import DecodeError
from psoas_sense.model import HRFrame, Notification, RRFrame

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VECTORS = SHARED_DATA / "ble_vectors" / "ble_vectors.json"


def _vectors(kind: str) -> list[dict]:
    if not VECTORS.exists():
        return []
    return [v for v in json.loads(VECTORS.read_text())["vectors"] if kind in v["characteristic"]]


@pytest.mark.shared_data
def test_every_hr_vector_decodes_as_its_source_states() -> None:
    if not VECTORS.exists():
        pytest.skip(f"shared data not found at {VECTORS}")
    vectors = _vectors("2A37")
    assert len(vectors) == 16
    for v in vectors:
        m = decode_heart_rate_measurement(bytes.fromhex(v["hex"]))
        for source in (v.get("decoded_stated_by_source") or {}, v.get("decoded_here") or {}):
            if "hr_bpm" in source:
                assert m.hr_bpm == source["hr_bpm"], v["id"]
            if "energy_expended_kJ" in source:
                assert m.energy_kj == source["energy_expended_kJ"], v["id"]
            if "rr_raw_1_1024s" in source:
                assert list(m.rr_raw) == source["rr_raw_1_1024s"], v["id"]
            if "rr_ms" in source:
                # the Polar SDK rounds raw * 1000 / 1024 to whole ms; we keep the exact value
                assert [round(x) for x in m.rr_ms] == [round(x) for x in source["rr_ms"]], v["id"]
            if "sensor_contact_supported" in source:
                assert m.contact_supported == source["sensor_contact_supported"], v["id"]
            if "sensor_contact" in source:
                assert m.contact_detected == source["sensor_contact"], v["id"]


def test_notes_examples() -> None:
    # protocols.md §1.2, real H10 notifications (devhide.com capture)
    m = decode_heart_rate_measurement(bytes.fromhex("10482C03"))
    assert m.hr_bpm == 72 and m.rr_raw == (812,) and m.rr_ms[0] == pytest.approx(792.97, abs=0.01)
    m = decode_heart_rate_measurement(bytes.fromhex("10495E039603"))
    assert m.rr_ms == pytest.approx((841.80, 896.48), abs=0.01)
    m = decode_heart_rate_measurement(bytes.fromhex("10C33C013C013C01"))
    assert m.hr_bpm == 195 and len(m.rr_raw) == 3


@pytest.mark.parametrize("flags", range(32))
def test_every_flag_combination(flags: int) -> None:
    hr16 = flags & 0x01
    body = bytearray([flags])
    body += (300).to_bytes(2, "little") if hr16 else bytes([72])
    if flags & 0x08:
        body += (1234).to_bytes(2, "little")
    rr = [812, 900, 1000]
    if flags & 0x10:
        for r in rr:
            body += r.to_bytes(2, "little")
    m = decode_heart_rate_measurement(bytes(body))
    assert m.hr_bpm == (300 if hr16 else 72)
    assert m.hr_uint16 == bool(hr16)
    assert m.energy_kj == (1234 if flags & 0x08 else None)
    assert m.rr_raw == (tuple(rr) if flags & 0x10 else ())
    assert m.contact_supported == bool(flags & 0x04)
    assert m.contact_detected == (bool(flags & 0x02) if flags & 0x04 else None)
    # reserved bits 5-7 do not change anything
    m2 = decode_heart_rate_measurement(bytes([flags | 0xE0]) + bytes(body[1:]))
    assert (m2.hr_bpm, m2.rr_raw, m2.energy_kj) == (m.hr_bpm, m.rr_raw, m.energy_kj)


def test_rr_flag_with_no_values_is_zero_rr() -> None:
    assert decode_heart_rate_measurement(bytes([0x10, 60])).rr_raw == ()


@pytest.mark.parametrize("data", ["", "00", "01 3C", "08 3C 01", "10 3C 01", "19 00 00 01 00 05"])
def test_malformed_hr_raises_typed_error(data: str) -> None:
    with pytest.raises(DecodeError):
        decode_heart_rate_measurement(bytes.fromhex(data))


def test_body_sensor_location_and_battery() -> None:
    assert decode_body_sensor_location(b"\x01") == "chest"
    assert decode_body_sensor_location(b"\x07") == "reserved"
    assert decode_battery_level(b"\x57") == 87
    for bad in (b"", b"\x65"):
        with pytest.raises(DecodeError):
            decode_battery_level(bad)
    with pytest.raises(DecodeError):
        decode_body_sensor_location(b"")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_fuzz_hr_decoders_give_a_value_or_a_decode_error(data: bytes) -> None:
    for fn in (decode_heart_rate_measurement, decode_body_sensor_location, decode_battery_level):
        try:
            out = fn(data)
        except DecodeError:
            continue
        assert out is not None
        if isinstance(out, HeartRateMeasurement):
            assert 0 <= out.hr_bpm <= 0xFFFF and all(0 <= r <= 0xFFFF for r in out.rr_raw)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=24), max_size=20))
def test_fuzz_notification_decoder_never_raises(chunks: list[bytes]) -> None:
    dec = NotificationDecoder()
    bad = 0
    for i, data in enumerate(chunks):
        try:
            decode_heart_rate_measurement(data)
        except DecodeError:
            bad += 1
        frames = dec.decode(Notification(float(i), HEART_RATE_MEASUREMENT_UUID, data))
        assert all(isinstance(f, (HRFrame, RRFrame)) for f in frames)
        for f in frames:
            if isinstance(f, RRFrame):
                assert np.all(np.diff(f.t_s) >= 0)
    assert dec.errors == bad
    # unknown characteristics decode to nothing and are not errors
    assert dec.decode(Notification(0.0, BATTERY_LEVEL_UUID, b"\x57")) == []
    assert dec.errors == bad
