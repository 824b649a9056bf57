"""Generic CSV and phone-app exports: columns, units, and one-line errors with file and line."""

from __future__ import annotations

import numpy as np
import pytest

from psoas_sense.errors import InputError
from psoas_sense.model import AccFrame, RespFrame, RRFrame
from psoas_sense.recording.importers import load_input


def frames_of(items, cls):
    return [it for _, it in items if isinstance(it, cls)]


def test_generic_resp_csv(tmp_path):
    p = tmp_path / "belt.csv"
    t = np.arange(250) / 50.0
    rows = "\n".join(f"{a:.3f},{np.sin(a):.5f}" for a in t)
    p.write_text("t,resp\n" + rows + "\n")
    header, items = load_input(p)
    assert header.streams["resp"]["rate_hz"] == pytest.approx(50.0)
    frames = frames_of(items, RespFrame)
    assert sum(f.t_s.size for f in frames) == 250
    # frames are about one second long, in time order, line time = newest sample
    assert all(f.t_s[-1] - f.t_s[0] < 1.0 for f in frames)
    assert [t for t, _ in items] == sorted(t for t, _ in items)
    assert np.allclose(np.concatenate([f.resp for f in frames]), np.round(np.sin(t), 5))


def test_generic_acc_and_rr(tmp_path):
    acc = tmp_path / "acc.csv"
    acc.write_text("t,ax,ay,az\n0,1,2,1000\n0.01,1,2,1001\n0.02,1,3,999\n")
    _, items = load_input(acc)
    (f,) = frames_of(items, AccFrame)
    assert f.acc_mg.shape == (3, 3) and f.acc_mg[2, 1] == 3
    rr = tmp_path / "rr.csv"
    rr.write_text("t,rr_ms\n0.8,800\n1.61,810\n2.4,790\n")
    header, items = load_input(rr)
    assert "rr" in header.streams
    got = np.concatenate([f.rr_ms for f in frames_of(items, RRFrame)])
    assert got.tolist() == [800, 810, 790]


def test_columns_in_any_order_and_extra_columns(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("resp,note_id,t\n1.0,3,0.0\n2.0,4,0.1\n")
    _, items = load_input(p)
    (f,) = frames_of(items, RespFrame)
    assert f.t_s.tolist() == [0.0, 0.1] and f.resp.tolist() == [1.0, 2.0]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("time,resp\n0,1\n", 1, "no 't' column"),
        ("t,volume\n0,1\n", 1, "needs a 'resp', 'ax,ay,az' or 'rr_ms'"),
        ("t,ax,ay\n0,1,2\n", 1, "not all three"),
        ("t,resp\n0,1\n0.1,abc\n", 3, "column 'resp' is not a number: 'abc'"),
        ("t,resp\n0,1\n0.1,\n", 3, "column 'resp' is not a number"),
        ("t,resp\n0,1\n0.1,nan\n", 3, "not a finite number"),
        ("t,resp\n0,1\n0.2,1\n0.1,1\n", 4, "time goes backwards"),
        ("t,resp\n0,1\n\n\n0.2,1\n0.1,1\n", 6, "time goes backwards"),
        ("t,resp\n0,1,5\n", 2, "expected 2 values, found 3"),
        ("t,resp\n", 1, "no data rows"),
        ("t,rr_ms\n0.5,0\n", 2, "positive"),
        ("hello world\n1 2 3\n", 1, "unknown format"),
        ('{"foo": 1}\n', 1, "not a psoas-sense recording"),
    ],
)
def test_bad_tables_name_the_line(tmp_path, text, line, message):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputError) as exc:
        load_input(p)
    assert message in exc.value.reason
    assert exc.value.line == line
    assert str(exc.value) == f"{p}:{line}: {exc.value.reason}"


def test_binary_and_missing(tmp_path):
    rng = np.random.default_rng(3)
    p = tmp_path / "noise.bin"
    p.write_bytes(rng.integers(0, 256, 4000, dtype=np.uint8).tobytes())
    with pytest.raises(InputError, match="unknown format|not UTF-8"):
        load_input(p)
    with pytest.raises(InputError, match="no such file"):
        load_input(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="is a directory"):
        load_input(tmp_path)


def test_phyphox_export_in_ms2(tmp_path):
    p = tmp_path / "Raw Data.csv"
    p.write_text(
        '"Time (s)","Acceleration x (m/s^2)","Acceleration y (m/s^2)","Acceleration z (m/s^2)",'
        '"Absolute acceleration (m/s^2)"\n'
        "0.000000000E0,1.000000000E-1,0.000000000E0,9.806650000E0,9.8\n"
        "1.000000000E-2,2.000000000E-1,0.000000000E0,9.806650000E0,9.8\n"
    )
    header, items = load_input(p)
    assert header.device["format"] == "phyphox"
    (f,) = frames_of(items, AccFrame)
    assert f.acc_mg[0, 2] == pytest.approx(1000.0)
    assert f.acc_mg[1, 0] == pytest.approx(0.2 * 1000 / 9.80665)


def test_sensor_logger_zyx_order(tmp_path):
    p = tmp_path / "TotalAcceleration.csv"
    p.write_text("time,seconds_elapsed,z,y,x\n1700000000000000000,0.5,9.80665,0,1\n1700000000010000000,0.51,9.80665,0,2\n")
    _, items = load_input(p)
    (f,) = frames_of(items, AccFrame)
    assert f.t_s.tolist() == pytest.approx([0.0, 0.01])
    assert f.acc_mg[0] == pytest.approx([1000 / 9.80665, 0.0, 1000.0])


def test_polar_sensor_logger_acc(tmp_path):
    p = tmp_path / "Polar_H10_ABCD1234_20260101120000_ACC.txt"
    p.write_text(
        "Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]\n"
        "2026-01-01T12:00:00.000;599999999000000000;-9;-1;999\n"
        "2026-01-01T12:00:00.005;599999999005000000;-8;-2;997\n"
    )
    header, items = load_input(p)
    assert header.device["format"] == "polar_acc"
    (f,) = frames_of(items, AccFrame)
    assert f.t_s.tolist() == pytest.approx([0.0, 0.005])
    assert f.acc_mg[1].tolist() == [-8, -2, 997]


def test_polar_sensor_logger_rr(tmp_path):
    p = tmp_path / "Polar_H10_ABCD1234_20260101120000_RR.txt"
    p.write_bytes(
        b"Phone timestamp;RR-interval [ms]\r\n"
        b"2026-01-01T12:00:01.000;800\r\n2026-01-01T12:00:01.810;810\r\n2026-01-01T12:00:02.600;790\r\n"
    )
    header, items = load_input(p)
    assert header.device["format"] == "polar_rr" and header.streams["rr"]["unit"] == "ms"
    rr = frames_of(items, RRFrame)
    ts = np.concatenate([f.t_s for f in rr])
    # beat times from the phone clock, shifted so the first interval starts at 0
    assert ts.tolist() == pytest.approx([0.8, 1.61, 2.4])
    assert np.concatenate([f.rr_ms for f in rr]).tolist() == [800, 810, 790]


def test_polar_rr_bad_time_names_the_line(tmp_path):
    p = tmp_path / "x_RR.txt"
    p.write_text("Phone timestamp;RR-interval [ms]\n2026-01-01T12:00:01.000;800\nyesterday;810\n")
    with pytest.raises(InputError) as exc:
        load_input(p)
    assert exc.value.line == 3 and "ISO 8601" in exc.value.reason


@pytest.mark.shared_data
def test_real_polar_rr_exports_feed_detect(shared_data):
    from psoas_sense.cli import main

    for path in sorted((shared_data / "rr_intervals").glob("*_RR_*.txt")):
        header, items = load_input(path)
        assert "rr" in header.streams and frames_of(items, RRFrame)
        assert main(["detect", "--signal", "rr", str(path)]) == 0
