"""Polar PMD decoders: byte vectors, delta frames, timing, device clock, real H10 frames, fuzzing.

Vectors restate protocols.md §2.8/§2.12 (Polar SDK unit tests and PMD spec diagrams) and read
``ble_vectors.json`` and the real H10 ECG frames from the shared data folder (never copied here).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from psoas_sense.decode import NotificationDecoder, pmd
from psoas_sense.errors import DecodeError
from psoas_sense.model import AccFrame, Notification

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
VECTORS = SHARED_DATA / "ble_vectors" / "ble_vectors.json"
H10_BIN = SHARED_DATA / "polar_h10_pmd_ecg_raw" / "hr_data_2023-01-13_11-40-07.bin"
H10_MAGIC = b"H10 ECG v1.0 binary data"


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# --------------------------------------------------------------------------- control point


def test_cp_vectors_from_the_notes() -> None:
    r = pmd.parse_cp_message(h("F0 01 02 00 00 00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00"))
    assert isinstance(r, pmd.CpResponse) and r.ok and r.op_code == 1 and r.measurement_type == pmd.ACC
    assert r.settings == {"sample_rate": (25, 50, 100, 200), "resolution": (16,), "range": (2, 4, 8)}
    r = pmd.parse_cp_message(h("F0 01 00 00 00 00 01 82 00 01 01 0E 00"))
    assert r.settings == {"sample_rate": (130,), "resolution": (14,)}
    # the H10's start response: one trailing reserved byte, which is not a settings block
    r = pmd.parse_cp_message(h("F0 02 02 00 00 01"))
    assert r.ok and r.op_code == 2 and r.settings == {} and not r.more_frames
    r = pmd.parse_cp_message(h("F0 03 02 00 00"))
    assert r.ok and r.op_code == 3
    # Verity: channels is a 1-byte value; FACTOR is a float32
    r = pmd.parse_cp_message(h("F0 01 02 00 00 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03"))
    assert r.settings == {"sample_rate": (52,), "resolution": (16,), "range": (8,), "channels": (3,)}
    r = pmd.parse_cp_message(h("F0 02 02 00 00 05 01 40 DA 7F 39"))
    assert r.settings["factor"][0] == pytest.approx(0.000244, rel=1e-3)
    # errors: no more-frames byte, named status
    r = pmd.parse_cp_message(h("F0 02 00 05 00"))
    assert not r.ok and r.status_name == "ERROR_INVALID_PARAMETER" and r.settings == {}
    r = pmd.parse_cp_message(h("F0 02 02 06"))
    assert r.status_name == "ERROR_ALREADY_IN_STATE"
    # feature read and its echo; device-side stop notice
    f = pmd.parse_cp_message(h("0F 05 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"))
    assert isinstance(f, pmd.CpFeatures) and f.measurements == {"ecg", "acc"}
    assert pmd.parse_cp_message(h("0F 6E 02")).measurements == {"ppg", "acc", "ppi", "gyro", "magnetometer", "sdk_mode"}
    s = pmd.parse_cp_message(h("01 02"))
    assert isinstance(s, pmd.CpMeasurementStopped) and s.measurement_types == (2,)


def test_cp_requests_round_trip() -> None:
    assert pmd.get_settings_request(pmd.ACC) == h("01 02")
    assert pmd.stop_request(pmd.ACC) == h("03 02")
    req = pmd.start_request(pmd.ACC, {"range": 8, "sample_rate": 200, "resolution": 16})
    assert req == h("02 02 02 01 08 00 00 01 C8 00 01 01 10 00")  # the notes' H10 start
    parsed = pmd.parse_cp_request(req)
    assert parsed.op_code == 2 and parsed.measurement_type == 2 and not parsed.offline
    assert parsed.settings == {"range": (8,), "sample_rate": (200,), "resolution": (16,)}
    verity = h("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
    assert pmd.start_request(pmd.ACC, {"sample_rate": 52, "resolution": 16, "range": 8, "channels": 3}) == verity
    assert pmd.parse_features(pmd.features_bytes({"ecg", "acc"})).measurements == {"ecg", "acc"}


@pytest.mark.parametrize(
    "data",
    [
        "",
        "F0",
        "F0 01 02",
        "F0 01 02 00 00 00 04 19 00",
        "F0 01 02 00 00 07 01 00 00",
        "0F",
        "AA 01",
        "F0 01 02 00 00 00 05 01 40 DA",
    ],
)
def test_malformed_cp_messages_raise_typed_errors(data: str) -> None:
    with pytest.raises(DecodeError):
        pmd.parse_cp_message(h(data))


# --------------------------------------------------------------------------- data frames


def test_vector_a_h10_acc_raw() -> None:
    f = pmd.decode_pmd_frame(h("02 EA 54 A2 42 8B 45 52 08 01 45 FF E4 FF B5 03 45 FF E4 FF B8 03"))
    assert f.measurement_type == pmd.ACC and f.frame_type == 1 and not f.compressed
    assert f.timestamp_ns == 599_618_164_814_402_794
    assert f.samples.tolist() == [[-187, -28, 949], [-187, -28, 952]]


def test_vector_c_delta_6bit_is_lsb_first() -> None:
    data = h("02 65 00 00 00 00 00 00 00 81") + h("F1 FF 14 00 F0 03 06 01 7B 0F 08")
    f = pmd.decode_pmd_frame(data)
    assert f.compressed and f.frame_type == 1
    assert f.samples.tolist() == [[-15, 20, 1008], [-20, 17, 1008]]
    # the SDK: previous frame at 100 ns, this one at 101 ns -> sample times 100, 101
    assert pmd.sample_times_ns(101, 2, 100, None).tolist() == [100, 101]


def test_vector_b_verity_delta_prefix() -> None:
    # first block of the spec's delta example, cut after three samples (width 8, so count 3)
    content = h("D0 FF 65 01 E4 0F 08 03 FC 07 FF 0C 13 F2 11 F1 1A")
    raw = pmd.decode_delta(content, 3, 16)
    assert raw.tolist() == [[-48, 357, 4068], [-52, 364, 4067], [-40, 383, 4053], [-23, 368, 4079]]
    f = pmd.decode_pmd_frame(h("02 64 6C 76 C4 3C C6 7F 07 80") + content, factor=0.000244)
    assert f.timestamp_ns == 540_368_444_604_181_604
    assert f.samples[0, 2] == pytest.approx(992.6, abs=0.1)  # 4068 x 0.000244 G = 0.9926 G


def test_ecg_vector_f() -> None:
    f = pmd.decode_pmd_frame(h("00 00 94 35 77 00 00 00 00 00 02 80 FF 02 80 00"))
    assert f.measurement_type == pmd.ECG and f.timestamp_ns == 2_000_000_000
    assert f.samples[:, 0].tolist() == [-32766, 32770]


@pytest.mark.shared_data
def test_every_pmd_vector_in_ble_vectors_decodes() -> None:
    if not VECTORS.exists():
        pytest.skip(f"shared data not found at {VECTORS}")
    vectors = [v for v in json.loads(VECTORS.read_text())["vectors"] if "2A37" not in v["characteristic"]]
    assert len(vectors) == 14
    for v in vectors:
        data = h(v["hex"])
        stated = v.get("decoded_stated_by_source") or {}
        here = v.get("decoded_here") or {}
        if "control point" in v["characteristic"]:
            msg = pmd.parse_cp_message(data)
            if v["id"] == "h10_pmd_feature_read":
                assert msg.measurements == {"ecg", "acc"}
            elif "sample_rate_hz" in stated:
                assert msg.settings["sample_rate"] == tuple(stated["sample_rate_hz"])
                assert msg.settings["resolution"] == tuple(stated["resolution_bits"])
            elif "error" in stated and "SUCCESS" not in stated["error"]:
                assert not msg.ok and msg.status == int(stated["error"].split()[0], 16)
            else:
                assert msg.ok
            continue
        factor = stated.get("factor", 1.0)
        f = pmd.decode_pmd_frame(data, factor=factor)
        ts = stated.get("timestamp_ns_last_sample", stated.get("timestamp_ns", here.get("timestamp_ns")))
        assert f.timestamp_ns == ts, v["id"]
        if "n_samples" in stated or "n_samples" in here:
            assert f.n == stated.get("n_samples", here.get("n_samples")), v["id"]
        if "all_samples_xyz_mG" in here:
            assert f.samples.tolist() == here["all_samples_xyz_mG"]
        if "sample0_xyz_mG" in stated:
            assert (
                f.samples[0].tolist() == stated["sample0_xyz_mG"] and f.samples[1].tolist() == stated["sample1_xyz_mG"]
            )
        if "ecg_uV" in here or "ecg_uV" in stated:
            assert f.samples[:, 0].tolist() == (here.get("ecg_uV") or stated["ecg_uV"])
        if "sample0" in stated:
            assert f.samples[0, 0] == stated["sample0"] and f.samples[14, 0] == stated["sample14"]
        if "reference_sample_raw" in stated:
            raw = pmd.decode_delta(data[10:], 3, 16)
            assert raw[0].tolist() == stated["reference_sample_raw"]
            assert raw[1].tolist() == stated["sample1_raw"]
            assert raw.shape[0] == stated["n_samples_total"] == 57
            assert raw[-1].tolist() == [12274, 20173, -32449]  # protocols.md vector D
            assert np.trunc(f.samples[0]).tolist() == [464, 6679, -7144]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 60).flatmap(lambda n: st.lists(st.tuples(*[st.integers(-32768, 32767)] * 3), min_size=n, max_size=n))
)
def test_delta_encoding_round_trips(rows: list[tuple[int, int, int]]) -> None:
    samples = np.asarray(rows, dtype=np.int64)
    # deltas of 16-bit samples need up to 17 bits; the decoder sign-extends the 16-bit reference
    content = pmd.encode_delta(samples, 16)
    assert pmd.decode_delta(content, 3, 16).tolist() == samples.tolist()
    frame = pmd.acc_frame_bytes(123, samples, compressed=True)
    assert pmd.decode_pmd_frame(frame).samples.tolist() == samples.tolist()
    raw = pmd.acc_frame_bytes(123, samples, compressed=False)
    assert pmd.decode_pmd_frame(raw).samples.tolist() == samples.tolist()


@pytest.mark.parametrize("ftype,size", [(0x00, 1), (0x01, 2), (0x02, 3)])
def test_acc_raw_frame_types(ftype: int, size: int) -> None:
    vals = np.array([[-5, 7, 100], [-1, 0, 120]])
    content = b"".join(int(v & ((1 << (8 * size)) - 1)).to_bytes(size, "little") for v in vals.reshape(-1))
    f = pmd.decode_pmd_frame(bytes([2]) + (5).to_bytes(8, "little") + bytes([ftype]) + content)
    assert f.samples.tolist() == vals.tolist()


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=240), st.floats(0.0001, 10.0))
def test_fuzz_pmd_decoders_give_a_value_or_a_decode_error(data: bytes, factor: float) -> None:
    for fn in (
        lambda d: pmd.decode_pmd_frame(d, factor=factor),
        pmd.parse_cp_message,
        pmd.parse_settings,
        pmd.parse_cp_request,
        pmd.parse_features,
        lambda d: pmd.decode_delta(d, 3, 16),
        lambda d: pmd.decode_delta(d, 1, 22),
    ):
        try:
            out = fn(data)
        except DecodeError:
            continue
        assert out is not None


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=10, max_size=240))
def test_fuzz_frames_with_valid_headers(body: bytes) -> None:
    for head in (
        b"\x02" + bytes(8) + b"\x81",
        b"\x02" + bytes(8) + b"\x80",
        b"\x00" + bytes(8) + b"\x00",
        b"\x02" + bytes(8) + b"\x01",
    ):
        try:
            f = pmd.decode_pmd_frame(head + body[10:])
        except DecodeError:
            continue
        assert f.samples.ndim == 2 and f.n >= 1 and np.all(np.isfinite(f.samples))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from([pmd.PMD_DATA_UUID, pmd.PMD_CONTROL_POINT_UUID]), st.binary(max_size=120)),
        max_size=25,
    )
)
def test_fuzz_notification_decoder_pmd(items: list[tuple[str, bytes]]) -> None:
    dec = NotificationDecoder()
    for i, (uuid, data) in enumerate(items):
        frames = dec.decode(Notification(float(i), uuid, data))
        for f in frames:
            assert isinstance(f, AccFrame)
            assert np.all(np.isfinite(f.t_s))
    assert 0 <= dec.errors <= len(items)


# --------------------------------------------------------------------------- timing


def test_sample_times_follow_the_sdk_rule() -> None:
    # no previous frame: 1e9 / rate spacing, last sample at T
    t = pmd.sample_times_ns(1_000_000_000, 5, None, 100.0)
    assert t.tolist() == [960_000_000, 970_000_000, 980_000_000, 990_000_000, 1_000_000_000]
    # previous frame: (T - P) / n spacing
    t = pmd.sample_times_ns(1_000, 4, 600, None)
    assert t.tolist() == [700, 800, 900, 1_000]
    with pytest.raises(DecodeError):
        pmd.sample_times_ns(1_000, 4, None, None)
    with pytest.raises(DecodeError):
        pmd.sample_times_ns(10, 4, None, 1.0)


def test_device_clock_map_rides_the_lowest_latency_and_resets_on_restart() -> None:
    rng = np.random.default_rng(3)
    m = pmd.DeviceClockMap()
    dev0 = 599_616_000_000_000_000
    offsets = []
    for k in range(200):
        dev = dev0 + k * 180_000_000
        arrival = 5.0 + k * 0.18 + 0.03 + rng.uniform(0, 0.08)
        offsets.append(m.update(dev, arrival))
    # converges to 5 + the least delay seen (0.03 s) minus device start, never below it
    final = offsets[-1] + dev0 / 1e9
    assert 5.03 <= final < 5.05
    # the device restarts with its clock reset: the mapping restarts instead of jumping
    m.update(1_000_000_000, 60.0)
    assert m.resets == 1 and m.offset_s == pytest.approx(59.0)


def test_decoder_times_acc_frames_monotonic_across_a_gap() -> None:
    dec = NotificationDecoder()
    rate = 200
    out: list[np.ndarray] = []
    dev0 = 599_616_000_000_000_000
    for k in list(range(10)) + list(range(30, 40)):  # frames 10-29 lost
        last_i = (k + 1) * 36 - 1
        samples = np.tile([0, 0, 1000], (36, 1))
        data = pmd.acc_frame_bytes(dev0 + int(last_i * 1e9 / rate), samples, compressed=True)
        out += [f.t_s for f in dec.decode(Notification(last_i / rate + 0.01, pmd.PMD_DATA_UUID, data))]
    t = np.concatenate(out)
    assert t.size == 20 * 36 and dec.errors == 0
    d = np.diff(t)
    assert np.all(d > 0)
    normal = d[d < 0.1]
    assert np.allclose(normal, 1 / rate, rtol=0.02)
    assert np.sum(d >= 0.1) == 1  # exactly one gap


def _h10_frames() -> list[bytes]:
    raw = H10_BIN.read_bytes()
    assert raw.startswith(H10_MAGIC)
    pos, frames = len(H10_MAGIC), []
    while pos + 4 <= len(raw):
        size = int.from_bytes(raw[pos : pos + 4], "little")
        pos += 4
        if pos + size > len(raw):
            break  # the file's last frame is cut short
        frames.append(raw[pos : pos + size])
        pos += size
    return frames


@pytest.mark.slow
@pytest.mark.shared_data
def test_all_real_h10_ecg_frames_decode_with_130_hz_spacing() -> None:
    if not H10_BIN.exists():
        pytest.skip(f"shared data not found at {H10_BIN}")
    frames = _h10_frames()
    assert len(frames) == 12_355
    dec = NotificationDecoder()
    timer = pmd.PmdStreamTimer()
    clock = pmd.DeviceClockMap()
    rng = np.random.default_rng(7)
    dev0 = None
    times: list[np.ndarray] = []
    n_samples = 0
    for data in frames:
        f = pmd.decode_pmd_frame(data)
        assert f.measurement_type == pmd.ECG and f.frame_type == 0 and f.n == 73
        n_samples += f.n
        dev0 = f.timestamp_ns if dev0 is None else dev0
        arrival = (f.timestamp_ns - dev0) / 1e9 + 0.02 + rng.uniform(0.0, 0.06)  # BLE latency jitter
        for _fr, a, t_ns in timer.feed(f, arrival):
            times.append(clock.map_frame(t_ns, a))
        # and through the notification decoder (ECG is decoded and counted)
        dec.decode(Notification(arrival, pmd.PMD_DATA_UUID, data))
    assert n_samples == 901_915 and dec.ecg_samples == n_samples and dec.errors == 0
    t = np.concatenate(times)
    assert t.size == n_samples
    spacing = np.diff(t)
    assert np.all(spacing > 0)  # monotonic
    assert np.max(np.abs(spacing * 130.0 - 1.0)) < 0.02  # every step within 2 % of 1/130 s
    assert timer.gaps == 0 and clock.resets == 0


@pytest.mark.shared_data
def test_ecg2_demo_log_frames_decode() -> None:
    path = SHARED_DATA / "polar_h10_pmd_ecg_raw" / "ecg2_demo.txt"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    n = 0
    for line in path.read_text().splitlines():
        if line.startswith(("DATA:", "CTRL:")):
            data = bytes(int(x.strip(" '"), 16) for x in line.split(":", 1)[1].strip(" []").split(","))
            if line.startswith("CTRL:"):
                assert pmd.parse_cp_message(data).ok
            else:
                assert pmd.decode_pmd_frame(data).n == 73
                n += 1
    assert n == 52


def test_factor_from_start_response_scales_delta_frames() -> None:
    dec = NotificationDecoder()
    factor = struct.pack("<f", 2.0)
    dec.decode(Notification(0.0, pmd.PMD_CONTROL_POINT_UUID, h("F0 02 02 00 00 05 01") + factor))
    samples = np.tile([1, 2, 3], (36, 1))
    f1 = pmd.acc_frame_bytes(10**9, samples, compressed=True)
    f2 = pmd.acc_frame_bytes(10**9 + 180_000_000, samples, compressed=True)
    frames = dec.decode(Notification(1.0, pmd.PMD_DATA_UUID, f1)) + dec.decode(
        Notification(1.18, pmd.PMD_DATA_UUID, f2)
    )
    assert len(frames) == 2 and frames[0].acc_mg[0].tolist() == [2, 4, 6]


def test_stream_timer_relearns_a_changed_rate() -> None:
    timer = pmd.PmdStreamTimer()
    out = []
    T = 10**12
    # learned at 200 Hz, then the device sends 100 Hz frames (36 samples each)
    for k in range(5):
        T += int(36 * 5e6)
        out += timer.feed(pmd.PmdFrame(pmd.ACC, T, 1, False, np.zeros((36, 3))), k * 0.18)
    for k in range(5):
        T += int(36 * 1e7)
        out += timer.feed(pmd.PmdFrame(pmd.ACC, T, 1, False, np.zeros((36, 3))), 1.0 + k * 0.36)
    steps = [np.diff(times).mean() for _, _, times in out]
    assert steps[1] == pytest.approx(5e6) and steps[-1] == pytest.approx(1e7, rel=0.01)
    assert timer.gaps == 1
