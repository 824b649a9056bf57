"""Property tests of every phone packet parser and of the timeline: whatever comes in, either
finite in-range samples come out or a :class:`Refused` is raised; nothing else escapes."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from psoas_sense.sources.phone import SensorLoggerSource, UdpSource, parse_sensor_logger, parse_udp_line
from psoas_sense.sources.phone.base import MS2_TO_MG
from psoas_sense.sources.phone.phyphox import parse_get
from psoas_sense.sources.phone.timeline import PhoneTimeline
from psoas_sense.sources.phone.validate import MAX_ACC_MS2, Refused, json_depth

pytestmark = pytest.mark.fuzz

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_MG = MAX_ACC_MS2 * MS2_TO_MG + 1e-6

scalars = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1_700_000_000_000_000_000, 0.1, 9.8, -9.8, 1e308, 10**30]),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["payload", "name", "time", "values", "x", "y", "z",
                                                             "buffer", "status", "acc_time", "accX", "accY",
                                                             "accZ", "measuring", "session"]), inner, max_size=5)),
    max_leaves=20,
)
records = st.fixed_dictionaries({
    "name": st.sampled_from(["accelerometer", "totalacceleration", "gyroscope", "Accelerometer"]),
    "time": scalars,
    "values": st.one_of(scalars, st.fixed_dictionaries({"x": scalars, "y": scalars, "z": scalars})),
})


def depth(v: Any) -> int:
    if isinstance(v, dict):
        return 1 + max((depth(x) for x in v.values()), default=0)
    if isinstance(v, list):
        return 1 + max((depth(x) for x in v), default=0)
    return 0


def dumps(v: Any) -> bytes:
    return json.dumps(v, allow_nan=True).encode()


def check_samples(t: np.ndarray, acc_mg: np.ndarray) -> None:
    assert t.shape[0] == acc_mg.shape[0]
    assert np.isfinite(acc_mg).all() and (np.linalg.norm(acc_mg, axis=1) <= MAX_MG).all()


@FAST
@given(json_values)
def test_sensor_logger_any_json(value: Any):
    try:
        t_ns, acc = parse_sensor_logger(dumps(value))
    except Refused as exc:
        assert 400 <= exc.http_status < 500
        return
    check_samples(t_ns, acc)


@FAST
@given(st.lists(records, max_size=6))
def test_sensor_logger_hostile_fields(recs: list[dict[str, Any]]):
    try:
        t_ns, acc = parse_sensor_logger(dumps({"payload": recs}))
    except Refused:
        return
    check_samples(t_ns, acc)
    assert (t_ns >= 946_684_800 * 10**9).all() and (t_ns <= 4_102_444_800 * 10**9).all()


@FAST
@given(st.binary(max_size=300))
def test_sensor_logger_any_bytes(body: bytes):
    try:
        check_samples(*parse_sensor_logger(body))
    except Refused:
        pass


@FAST
@given(json_values)
def test_depth_scan_matches_the_parsed_depth(value: Any):
    assert json_depth(dumps(value)) == depth(value)


@FAST
@given(st.one_of(st.text(max_size=80),
                 st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                                    st.integers(-(10**35), 10**35).map(str), st.sampled_from(["nan", "NOW", "", "#"])),
                          max_size=7).map(",".join)))
def test_udp_line_any_text(line: str):
    got = parse_udp_line(line)
    if got is not None:
        ts, acc = got
        assert all(math.isfinite(v) for v in acc) and math.hypot(*acc) <= MAX_ACC_MS2
        assert ts is None or math.isfinite(ts)


@FAST
@given(st.lists(st.binary(max_size=120), max_size=5))
def test_udp_datagrams_never_raise(datagrams: list[bytes]):
    src = UdpSource(0)
    for d in datagrams:
        src.datagram(d)
    for item in src.pending():
        if hasattr(item, "acc_mg"):
            check_samples(item.t_s, item.acc_mg)
            assert np.all(np.diff(item.t_s) > 0)


@FAST
@given(json_values)
def test_phyphox_any_answer(value: Any):
    try:
        t, acc, status = parse_get(value, ("acc_time", "accX", "accY", "accZ"))
    except Refused:
        return
    assert isinstance(status, dict) and np.isfinite(t).all()
    check_samples(t, acc * MS2_TO_MG)


batches = st.lists(
    st.tuples(st.floats(-5.0, 5.0), st.integers(1, 20), st.sampled_from([0.0, 0.0, 0.0, 86_400.0, -86_400.0]),
              st.floats(0.0, 0.3)),
    min_size=1, max_size=25,
)


@FAST
@given(batches, st.sampled_from([0.0, 0.2, 0.5]))
def test_timeline_hands_out_in_order_and_keeps_what_it_accepts(spec: list[tuple[float, int, float, float]],
                                                              reorder_s: float):
    """Batches with jitter, strays and jumps: output strictly increasing, nothing accepted is lost."""
    line = PhoneTimeline(reorder_s=reorder_s)
    now = 0.0
    out: list[np.ndarray] = []
    for k, (jitter, n, jump, dt) in enumerate(spec):
        now += dt
        phone = k * 0.1 + jitter + jump + np.arange(n) * 0.01
        try:
            line.add(phone, np.zeros((n, 3)), now)
        except Refused as exc:
            assert exc.http_status in (422, 503)
        frame = line.take(now)
        if frame is not None:
            out.append(frame.t_s)
    frame = line.take(now, everything=True)
    if frame is not None:
        out.append(frame.t_s)
    t = np.concatenate(out) if out else np.zeros(0)
    assert np.all(np.diff(t) > 0) and np.isfinite(t).all()
    assert t.size == line.kept - line.duplicates and line.pending == 0


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_push_request_any_bytes_gets_an_answer_and_never_raises(raw: bytes):
    async def go() -> tuple[int, str]:
        src = SensorLoggerSource(0)
        reader = asyncio.StreamReader(limit=16 * 1024)
        reader.feed_data(raw)
        reader.feed_eof()
        try:
            return await src._answer(reader)
        except asyncio.IncompleteReadError:
            return 0, "client went away"

    code, _ = asyncio.run(go())
    assert code in (0, 200, 400, 401, 405, 411, 413, 422, 431, 503)
