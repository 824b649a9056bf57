"""Vernier Go Direct frames: the public byte vectors, reassembly, replies, packets and sample times.

The vectors are restated from ``../shared/notes/gdx-rb-protocol.md`` §3-§5: the INIT literal of
Vernier's clients, the command frames of a canonical session, and the two frames captured from a
real GDX-RB in espruino BangleApps ``apps/vernierrespirate/app.js`` (MIT).
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psoas_sense.decode import NotificationDecoder, gdx
from psoas_sense.decode.gdx.timing import LOSS_WINDOW_S, SampleTimer
from psoas_sense.errors import DecodeError
from psoas_sense.model import DeviceRateFrame, Notification, RespFrame

CAPTURED_MASK_REPLY = bytes.fromhex("980a012751fd36000000")
"""A real GDX-RB's reply to GET_AVAILABLE_MASK (host counter 0xFD)."""
CAPTURED_PACKET = bytes.fromhex("2019cfd8060600" "02fc" "808a07bf" "0000c07f" "803108bf" "0000c07f")
"""A real GDX-RB's measurement packet: 2 samples of Force and Respiration Rate (NaN)."""


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


def test_captured_frames_check_out_and_decode() -> None:
    assert gdx.checksum(CAPTURED_MASK_REPLY) == 0x27 and gdx.checksum(CAPTURED_PACKET) == 0xD8
    reply = gdx.parse_reply(CAPTURED_MASK_REPLY)
    assert (reply.command, reply.counter, reply.device_counter) == (gdx.Command.GET_AVAILABLE_MASK, 0xFD, 1)
    assert gdx.parse_mask(reply.payload) == gdx.RB_AVAILABLE_MASK == 0b110110  # channels 1, 2, 4, 5
    m = gdx.parse_measurement(CAPTURED_PACKET)
    assert m.channels == (1, 2) and m.n == 2 and m.device_counter == 0xCF
    assert m.values[:, 0] == pytest.approx([-0.52946, -0.53201], abs=1e-5)
    assert np.isnan(m.values[:, 1]).all()
    # the emulator's encoder makes the same bytes from the same values (byte 8 as captured)
    values = np.array([[struct.unpack("<f", h("808a07bf"))[0], math.nan], [struct.unpack("<f", h("803108bf"))[0],
                                                                            math.nan]])
    assert gdx.measurement_frame((1, 2), values, device_counter=0xCF, spare=0xFC) == CAPTURED_PACKET


@pytest.mark.parametrize(
    ("command", "counter", "payload", "frame"),
    [
        (gdx.Command.INIT, 0xFE, gdx.INIT_PAYLOAD,
         "58 19 fe 3f 1a a5 4a 06 49 07 48 08 47 09 46 0a 45 0b 44 0c 43 0d 42 0e 41"),
        (gdx.Command.GET_STATUS, 0xFD, b"", "58 05 fd 6a 10"),
        (gdx.Command.GET_DEVICE_INFO, 0xFC, b"", "58 05 fc ae 55"),
        (gdx.Command.GET_DEFAULT_MASK, 0xFB, b"", "58 05 fb ae 56"),
        (gdx.Command.GET_AVAILABLE_MASK, 0xFA, b"", "58 05 fa a8 51"),
        (gdx.Command.GET_SENSOR_INFO, 0xF9, gdx.sensor_info_payload(1), "58 06 f9 a8 50 01"),
        (gdx.Command.GET_SENSOR_INFO, 0xF8, gdx.sensor_info_payload(2), "58 06 f8 a8 50 02"),
        (gdx.Command.SET_MEASUREMENT_PERIOD, 0xF7, gdx.period_payload(100_000),
         "58 0f f7 9f 1b ff 00 a0 86 01 00 00 00 00 00"),
        (gdx.Command.START_MEASUREMENTS, 0xF6, gdx.start_payload(0x06),
         "58 13 f6 7f 18 ff 01 06 00 00 00 00 00 00 00 00 00 00 00"),
        (gdx.Command.STOP_MEASUREMENTS, 0xF5, gdx.stop_payload(), "58 0b f5 6c 19 ff 00 ff ff ff ff"),
        (gdx.Command.DISCONNECT, 0xF4, b"", "58 05 f4 a5 54"),
        (gdx.Command.SET_MEASUREMENT_PERIOD, 0xF8, gdx.period_payload(50_000),
         "58 0f f8 8c 1b ff 00 50 c3 00 00 00 00 00 00"),
        (gdx.Command.START_MEASUREMENTS, 0xF7, gdx.start_payload(0x02),
         "58 13 f7 7c 18 ff 01 02 00 00 00 00 00 00 00 00 00 00 00"),
    ],
)
def test_command_frames_are_the_canonical_session(command: int, counter: int, payload: bytes, frame: str) -> None:
    built = gdx.command_frame(command, counter, payload)
    assert built == h(frame)
    parsed = gdx.parse_command(built)
    assert (parsed.command, parsed.counter, parsed.payload) == (command, counter, payload)


def test_writes_are_cut_at_20_bytes_and_read_back() -> None:
    init = gdx.command_frame(gdx.Command.INIT, 0xFE, gdx.INIT_PAYLOAD)
    chunks = gdx.write_chunks(init)
    assert [len(c) for c in chunks] == [20, 5] and chunks[1] == h("43 0d 42 0e 41")
    period = gdx.parse_command(gdx.command_frame(gdx.Command.SET_MEASUREMENT_PERIOD, 1, gdx.period_payload(50_000)))
    assert period.period_us == 50_000 and period.mask is None
    start = gdx.parse_command(gdx.command_frame(gdx.Command.START_MEASUREMENTS, 2, gdx.start_payload(0x06)))
    assert start.mask == 0x06 and start.period_us is None
    with pytest.raises(DecodeError, match="checksum"):
        gdx.parse_command(init[:3] + b"\x00" + init[4:])


def test_reassembly_by_length_byte_with_checksum() -> None:
    asm = gdx.FrameAssembler()
    info = gdx.reply_frame(gdx.Command.GET_DEVICE_INFO, 0xFC, bytes(152), device_counter=2)
    assert len(info) == 158
    got: list[bytes] = []
    for i in range(0, len(info), 20):  # the default MTU: 20-byte notifications
        frames, dropped = asm.feed(info[i : i + 20])
        got += frames
        assert not dropped
    assert got == [info]
    # a frame with a wrong checksum is dropped whole and counted; the next one is read
    bad = CAPTURED_PACKET[:3] + b"\x00" + CAPTURED_PACKET[4:]
    frames, dropped = asm.feed(bad)
    assert frames == [] and len(dropped) == 1 and asm.bad_checksums == 1
    assert asm.feed(CAPTURED_PACKET) == ([CAPTURED_PACKET], [])
    # a stray piece (the tail of a frame whose start was lost) starts no frame: dropped
    frames, dropped = asm.feed(h("0000c07f803108bf"))
    assert frames == [] and asm.strays == 1
    assert asm.feed(CAPTURED_MASK_REPLY) == ([CAPTURED_MASK_REPLY], [])
    # two frames in one notification
    assert asm.feed(CAPTURED_MASK_REPLY + CAPTURED_PACKET)[0] == [CAPTURED_MASK_REPLY, CAPTURED_PACKET]


def test_measurement_layouts() -> None:
    wide = gdx.with_checksum(bytes([0x20, 0, 0, 0, 0x07]) + struct.pack("<IBB", 0x02, 1, 0) + struct.pack("<f", 1.5))
    assert gdx.parse_measurement(wide).channels == (1,) and gdx.parse_measurement(wide).values[0, 0] == 1.5
    single = gdx.with_checksum(bytes([0x20, 0, 0, 0, 0x09, 0, 4, 2]) + struct.pack("<2i", 7, 8))
    m = gdx.parse_measurement(single)
    assert m.channels == (4,) and m.values[:, 0].tolist() == [7.0, 8.0]
    timing = gdx.with_checksum(bytes([0x20, 0, 0, 0, 0x0D, 1, 2, 3]))
    assert gdx.parse_measurement(timing).timing_only and gdx.parse_measurement(timing).n == 0
    with pytest.raises(DecodeError, match="header says"):
        gdx.parse_measurement(gdx.with_checksum(CAPTURED_PACKET[:-4]))
    with pytest.raises(DecodeError, match="unknown"):
        gdx.parse_measurement(gdx.with_checksum(bytes([0x20, 0, 0, 0, 0x03, 0, 0, 0, 0])))


def test_status_device_and_sensor_info_round_trip() -> None:
    s = gdx.parse_status(gdx.status_payload((1, 10, 3), (1, 8, 0), 87, 1, bits=0x04))
    assert (s.main_firmware, s.ble_firmware, s.battery_pct, s.charger, s.status_bits) == ("1.10.3", "1.8.0", 87,
                                                                                          "charging", 0x04)
    assert len(gdx.reply_frame(gdx.Command.GET_STATUS, 0xFD, gdx.status_payload((1, 0, 0), (1, 0, 0), 50))) == 18
    payload = gdx.device_info_payload("GDX-RB", "0K4000J6", "GDX-RB 0K4000J6", manufacturer_id=1, date=(2021, 5, 6),
                                      main=(1, 2, 3), ble=(4, 5, 6), address=bytes(6), nv_bytes=0, description="belt")
    info = gdx.parse_device_info(payload)
    assert (info.order_code, info.serial, info.name, info.main_firmware, info.ble_firmware) == (
        "GDX-RB", "0K4000J6", "GDX-RB 0K4000J6", "1.2.3", "4.5.6")
    sensor = gdx.parse_sensor_info(gdx.sensor_info_payload_bytes(
        1, 77, "Force", "N", uncertainty=0.1, lo=-10, hi=50, min_period_us=50_000, max_period_us=10**9,
        typical_period_us=100_000, granularity_us=1000))
    assert (sensor.channel, sensor.description, sensor.unit, sensor.min_period_us, sensor.present) == (
        1, "Force", "N", 50_000, True)
    assert len(gdx.reply_frame(gdx.Command.GET_SENSOR_INFO, 1, gdx.sensor_info_payload_bytes(
        1, 0, "", "", uncertainty=0, lo=0, hi=0, min_period_us=0, max_period_us=0, typical_period_us=0,
        granularity_us=0))) == 154
    for parse in (gdx.parse_status, gdx.parse_device_info, gdx.parse_sensor_info, gdx.parse_mask):
        with pytest.raises(DecodeError):
            parse(b"\x00\x01")


def test_sample_times_from_index_and_period() -> None:
    timer = SampleTimer(0.1)
    latency = 0.02
    # packets of 2 samples: sample i taken at 5.0 + 0.1 i; the belt holds packets for 0.5 s every
    # second (they come late, in a burst); nothing lost: every time is its sample's, within the latency
    out = []
    for k in range(100):
        last = 5.0 + 0.1 * (2 * k + 1)
        arrival = last + latency + (0.45 if 0.3 <= last % 1.0 < 0.8 else 0.0)
        arrival = max(arrival, out[-1][1] if out else 0.0)
        out.append((timer.place(2, arrival), arrival))
    times = np.concatenate([t for t, _ in out])
    true = 5.0 + 0.1 * np.arange(200)
    assert np.all(np.diff(times) > 0)
    assert np.abs(times[40:] - true[40:]).max() < latency + 1e-9
    assert timer.gaps == []


def test_lost_samples_are_found_and_flagged() -> None:
    timer = SampleTimer(0.1)
    times = []
    for k in range(100):
        if k in (40, 70, 71):  # three packets (6 samples) never come
            continue
        last = 0.1 * (2 * k + 1)
        times.append(timer.place(2, last + 0.02))
    t = np.concatenate(times)
    assert np.all(np.diff(t) > 0)
    assert [g[2] for g in timer.gaps] == [2, 4]
    # once found, the samples are at their own times again; before, at most the window late
    true = np.concatenate([0.1 * np.arange(2 * k, 2 * k + 2) for k in range(100) if k not in (40, 70, 71)])
    assert np.abs(t - true)[-40:].max() < 0.03
    assert np.abs(t - true).max() <= 0.4 + 1e-9
    # the gap is flagged where the times jump: within the loss window after the loss
    start, end, lost = timer.gaps[0]
    assert 8.0 < start < 8.0 + LOSS_WINDOW_S + 0.5 and end - start == pytest.approx(0.1 * (1 + lost))


def test_the_decoder_reads_the_period_restarts_on_start_and_counts_bad_frames() -> None:
    dec = NotificationDecoder()
    cmd = gdx.command_frame(gdx.Command.SET_MEASUREMENT_PERIOD, 0xF7, gdx.period_payload(50_000))
    assert dec.decode(Notification(0.0, gdx.COMMAND_UUID, cmd)) == []
    assert dec.gdx.period_s == 0.05
    start = gdx.reply_frame(gdx.Command.START_MEASUREMENTS, 0xF6, b"\x00")
    assert dec.decode(Notification(0.1, gdx.RESPONSE_UUID, start)) == []
    frames = dec.decode(Notification(1.0, gdx.RESPONSE_UUID, CAPTURED_PACKET))
    resp = [f for f in frames if isinstance(f, RespFrame)]
    rate = [f for f in frames if isinstance(f, DeviceRateFrame)]
    assert len(resp) == 1 and resp[0].t_s.tolist() == pytest.approx([0.95, 1.0])
    assert resp[0].resp.tolist() == pytest.approx([-0.52946, -0.53201], abs=1e-5)
    assert len(rate) == 1 and math.isnan(rate[0].rate_bpm) and rate[0].device == "GDX-RB"
    # a bad checksum: the packet is refused and counted, the next one decodes
    bad = CAPTURED_PACKET[:3] + bytes([CAPTURED_PACKET[3] ^ 0x5A]) + CAPTURED_PACKET[4:]
    assert dec.decode(Notification(1.2, gdx.RESPONSE_UUID, bad)) == []
    assert dec.errors == 1 and "checksum" in dec.last_error
    assert dec.decode(Notification(1.3, gdx.RESPONSE_UUID, CAPTURED_PACKET))
    # replies and timing packets give no frames
    assert dec.decode(Notification(1.4, gdx.RESPONSE_UUID, CAPTURED_MASK_REPLY)) == []
    assert dec.gdx.replies[gdx.Command.GET_AVAILABLE_MASK] == 1


@pytest.mark.fuzz
@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=30))
def test_any_bytes_decode_or_are_counted(pieces: list[bytes]) -> None:
    dec = NotificationDecoder()
    for i, piece in enumerate(pieces):
        uuid = gdx.RESPONSE_UUID if i % 3 else gdx.COMMAND_UUID
        for fr in dec.decode(Notification(float(i), uuid, piece)):
            assert fr.t_s is not None
    assert dec.errors >= 0
