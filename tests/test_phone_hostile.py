"""Hostile clients against the network sources, all on 127.0.0.1: each is refused with the right
status code, counted and reported, and the session goes on. Waits are bounded events or futures;
where real sockets need real time, the deadlines are injected short."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import http.client
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import numpy as np
import pytest

from psoas_sense.model import AccFrame, Item, Status
from psoas_sense.session.commands import UserCommand
from psoas_sense.session.loop import run_session
from psoas_sense.session.sinks import CallbackSink
from psoas_sense.sources.phone import SensorLoggerSource, UdpSource, open_phone_source
from psoas_sense.sources.phone.base import _QueueSource
from psoas_sense.vocab import Command

pytestmark = pytest.mark.hostile

T0_NS = 1_700_000_000_000_000_000
"""A plausible phone epoch time, ns."""


def batch(n: int = 10, *, t0_ns: int = T0_NS, step_ns: int = 10_000_000, **over: Any) -> bytes:
    """A Sensor Logger push body of ``n`` accelerometer records (fields overridable)."""
    recs = [{"name": "accelerometer", "time": t0_ns + i * step_ns, "values": {"x": 0.1, "y": 0.2, "z": 9.8}}
            for i in range(n)]
    for k, v in over.items():
        recs[0][k] = v
    return json.dumps({"messageId": 1, "sessionId": "s", "deviceId": "d", "payload": recs}).encode()


async def post(port: int, body: bytes, *, path: str = "/", headers: str = "", raw: bytes | None = None) -> int:
    """POST to the source on loopback; the status code of the answer (0: closed without one)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode()
        writer.write(raw if raw is not None else head + body)
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 5.0)
    finally:
        writer.close()
    return int(reply.split(b" ")[1]) if reply.startswith(b"HTTP/1.1 ") else 0


async def drain(src: _QueueSource) -> list[Item]:
    """Everything the source handed out, once closed (the loop's ``pending`` included)."""
    out: list[Item] = []
    while not src._queue.empty():
        got = src._queue.get_nowait()
        if got is not None:
            out.append(got[1])
    return out + src.pending()


def samples(items: list[Item]) -> np.ndarray:
    frames = [i for i in items if isinstance(i, AccFrame)]
    return np.concatenate([f.t_s for f in frames]) if frames else np.zeros(0)


def statuses(items: list[Item]) -> list[Status]:
    return [i for i in items if isinstance(i, Status)]


# ---------------------------------------------------------------- binding and tokens


def test_loopback_by_default_and_said_so():
    for spec in ("sensorlogger:8000", "udp:5555", "sensorlogger:127.0.0.1:8000", "udp:[::1]:5555"):
        src = open_phone_source(spec)
        assert src is not None and src.host in ("127.0.0.1", "::1") and src.token is None  # type: ignore[attr-defined]
        assert "loopback only" in src.describe()
    for spec in ("sensorlogger:0.0.0.0:8000", "udp:0.0.0.0:5555"):
        src = open_phone_source(spec)
        assert src is not None and src.host == "0.0.0.0"  # type: ignore[attr-defined]
        assert len(src.token) >= 20 and "token required" in src.describe()  # type: ignore[attr-defined]
    for bad in ("sensorlogger:phone.local:8000", "udp:0.0.0.0:99999", "sensorlogger:1.2.3.4:x"):
        with pytest.raises(Exception, match="IP address|out of range|port number"):
            open_phone_source(bad)


async def test_first_status_says_where_it_listens_and_token_printed_once():
    shown: list[str] = []
    src = SensorLoggerSource(0, host="127.0.0.1", token="T0KEN", announce=shown.append)
    async with src:
        first = (await src._queue.get())
        assert first is not None
        status = first[1]
        assert isinstance(status, Status) and status.state == "connecting"
        assert f"127.0.0.1:{src.port}" in status.detail and "token required" in status.detail
    assert len(shown) == 1 and "T0KEN" in shown[0] and "Authorization: Bearer T0KEN" in shown[0]
    assert "T0KEN" not in status.detail  # the token is never recorded


async def test_token_required_and_counted():
    src = SensorLoggerSource(0, host="127.0.0.1", token="s3cret", announce=lambda _t: None)
    async with src:
        assert await post(src.port, batch()) == 401
        assert await post(src.port, batch(), headers="Authorization: Bearer wrong\r\n") == 401
        assert await post(src.port, batch(), path="/?token=nope") == 401
        assert await post(src.port, batch(), headers="Authorization: Bearer s3cret\r\n") == 200
        assert await post(src.port, batch(t0_ns=T0_NS + 10**8), path="/push?token=s3cret") == 200
    assert src.refusals.total["no valid token (401)"] == 3
    assert samples(await drain(src)).size == 20


async def test_udp_token_required():
    src = UdpSource(0, host="127.0.0.1", token="tk", announce=lambda _t: None)
    src.datagram(b"1000.00,0.1,0.2,9.8\n")
    src.datagram(b"bad,1000.01,0.1,0.2,9.8\n")
    src.datagram(b"tk,1000.02,0.1,0.2,9.8\ntk,1000.03,0.1,0.2,9.8\n")
    assert src.refusals.total["lines without the token"] == 2
    assert samples(await drain(src)).size == 2


# ---------------------------------------------------------------- hostile push bodies

DEEP = b'{"payload": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
HOSTILE_BODIES: list[tuple[str, bytes, int]] = [
    ("payload is 5", b'{"payload": 5}', 422),
    ("x is NaN", batch().replace(b'"x": 0.1', b'"x": NaN', 1), 422),
    ("x is Infinity", batch().replace(b'"x": 0.1', b'"x": -Infinity', 1), 422),
    ("time 1e400", batch().replace(str(T0_NS).encode(), b"1e400", 1), 422),
    ("31-digit time", batch(time=10**30), 422),
    ("time in the past", batch(time=5), 422),
    ("time as a string", batch(time=str(T0_NS)), 422),
    ("x as a string", batch(values={"x": "0.1", "y": 0, "z": 0}), 422),
    ("x is true", batch(values={"x": True, "y": 0, "z": 0}), 422),
    ("values is a list", batch(values=[1, 2, 3]), 422),
    ("beyond 16 g", batch(values={"x": 200.0, "y": 0, "z": 0}), 422),
    ("1e308", batch(values={"x": 1e308, "y": 1e308, "z": 0}), 422),
    ("400-digit integer", batch(values={"x": 10**400, "y": 0, "z": 0}), 422),
    ("5000-digit integer", batch().replace(b'"x": 0.1', b'"x": ' + b"9" * 5000, 1), 400),
    ("record not an object", b'{"payload": [1, 2]}', 422),
    ("top level a list", b"[]", 422),
    ("not JSON", b"not{json", 400),
    ("not UTF-8", b'{"payload": "\xff\xfe"}', 400),
    ("nested 100,000 deep", DEEP, 400),
    ("nested 21 deep", b'{"payload": ' + b"[" * 20 + b"]" * 20 + b"}", 400),
]


@pytest.mark.parametrize(("what", "body", "code"), HOSTILE_BODIES, ids=[h[0] for h in HOSTILE_BODIES])
async def test_hostile_body_is_refused_and_the_source_goes_on(what: str, body: bytes, code: int,
                                                              caplog: pytest.LogCaptureFixture):
    src = SensorLoggerSource(0, host="127.0.0.1")
    async with src:
        assert await post(src.port, body) == code, what
        assert await post(src.port, batch()) == 200
        assert await post(src.port, batch(t0_ns=T0_NS + 10**8)) == 200
    items = await drain(src)
    assert samples(items).size == 20  # nothing of the hostile body, everything of the good ones
    assert sum(src.refusals.total.values()) == 1
    assert any("refused" in s.detail for s in statuses(items)) or src.refusals.total
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]


async def test_hostile_requests_get_the_right_codes():
    src = SensorLoggerSource(0, host="127.0.0.1", deadline_s=0.5)
    async with src:
        port = src.port
        assert await post(port, b"", raw=b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == 405
        assert await post(port, b"", raw=b"POST / HTTP/1.1\r\nHost: x\r\n\r\n") == 411
        assert await post(port, b"", raw=b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 411
        assert await post(port, b"", raw=b"POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n[[[[") == 413
        assert await post(port, b"", raw=b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n") == 400
        assert await post(port, b"", raw=b"\x00\x01garbage\r\n\r\n") == 400
        assert await post(port, b"", raw=b"POST / HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n") == 431
        assert await post(port, b"", raw=b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{}") == 408  # too slow
        # a client that goes away mid-body gets nothing, and nothing is kept
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
        await writer.drain()
        writer.close()
        # a trickling client (one byte every 0.1 s) is cut off at the deadline, not per byte
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        t0 = time.monotonic()

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):
                for ch in b"POST / HTTP/1.1\r\nHost: x\r\n":
                    writer.write(bytes([ch]))
                    await writer.drain()
                    await asyncio.sleep(0.05)  # the trickle itself, not a wait for a result

        trickling = asyncio.ensure_future(trickle())
        reply = await asyncio.wait_for(reader.readline(), 2.0)
        trickling.cancel()
        writer.close()
        assert reply.startswith(b"HTTP/1.1 408") and time.monotonic() - t0 < 1.5
        assert await post(port, batch()) == 200
    assert src.refusals.total["request too slow (408)"] == 2
    assert samples(await drain(src)).size == 10


# ---------------------------------------------------------------- time: strays, jumps, order


async def test_a_batch_a_day_ahead_does_not_poison_what_follows():
    src = SensorLoggerSource(0, host="127.0.0.1")
    day = 86_400 * 10**9
    async with src:
        assert await post(src.port, batch(50)) == 200
        assert await post(src.port, batch(50, t0_ns=T0_NS + day)) == 422  # a stray
        for k in range(1, 15):
            assert await post(src.port, batch(50, t0_ns=T0_NS + k * 500_000_000)) == 200
    t = samples(await drain(src))
    assert t.size == 15 * 50 and np.all(np.diff(t) > 0)


async def test_a_confirmed_clock_jump_re_anchors_with_a_status_line():
    src = SensorLoggerSource(0, host="127.0.0.1")
    day = 86_400 * 10**9
    async with src:
        assert await post(src.port, batch(20)) == 200
        assert await post(src.port, batch(20, t0_ns=T0_NS - day)) == 422  # not yet confirmed
        assert await post(src.port, batch(20, t0_ns=T0_NS - day + 200_000_000)) == 200  # confirmed
        assert await post(src.port, batch(20, t0_ns=T0_NS - day + 400_000_000)) == 200
    items = await drain(src)
    t = samples(items)
    assert t.size == 60 and np.all(np.diff(t) > 0)
    assert any("re-anchored" in s.detail for s in statuses(items))


async def test_out_of_order_batches_are_reordered_not_dropped():
    src = SensorLoggerSource(0, host="127.0.0.1")
    async with src:
        for k in (0, 2, 1, 4, 3):  # 100 ms batches, arriving out of order
            assert await post(src.port, batch(10, t0_ns=T0_NS + k * 100_000_000)) == 200
    t = samples(await drain(src))
    assert t.size == 50 and np.allclose(np.diff(t), 0.01)


async def test_burst_from_threads_every_200_was_kept():
    """1000 requests from 20 threads: each answer is true; every 200's samples reach the session."""
    src = SensorLoggerSource(0, host="127.0.0.1")
    codes: list[int] = []

    def client(n: int) -> list[int]:
        out = []
        for _ in range(n):
            t = time.time_ns()
            body = json.dumps({"payload": [{"name": "accelerometer", "time": t + i * 1_000_000,
                                            "values": {"x": 0.0, "y": 0.0, "z": 9.8}} for i in range(2)]})
            conn = http.client.HTTPConnection("127.0.0.1", src.port, timeout=10)
            conn.request("POST", "/", body, {"Content-Type": "application/json"})
            out.append(conn.getresponse().status)
            conn.close()
        return out

    async with src:
        loop = asyncio.get_running_loop()
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            for got in await asyncio.gather(*(loop.run_in_executor(pool, client, 50) for _ in range(20))):
                codes.extend(got)
    t = samples(await drain(src))
    assert len(codes) == 1000 and set(codes) <= {200, 422, 503}
    assert t.size == 2 * codes.count(200) == src.timeline.kept - src.timeline.duplicates
    assert codes.count(200) >= 900 and np.all(np.diff(t) > 0)


async def test_overload_is_refused_with_503_never_accepted_and_lost():
    src = SensorLoggerSource(0, host="127.0.0.1")
    src.timeline._max_pending = 25  # as if the session had stalled
    async with src:
        got = [await post(src.port, batch(10, t0_ns=T0_NS + k * 100_000_000)) for k in range(4)]
    assert got[:2] == [200, 200] and 503 in got
    assert samples(await drain(src)).size == 10 * got.count(200)


# ---------------------------------------------------------------- UDP and whole sessions

HOSTILE_LINES = [b"NOW,nan,0.2,9.8", b"1e999,1,2,3", b"1000,nan,2,3", b"1000,1e308,1e308,0", b"-5,1,2,3",
                 b"1" * 31 + b",1,2,3", b"inf,inf,inf,inf", b"\xff\xfe\x00", b"", b"," * 60_000,
                 b"1000,1,2", b"nan,nan,nan"]


async def test_hostile_datagrams_end_nothing_in_a_session():
    src = UdpSource(0, host="127.0.0.1")
    seen: list[Any] = []
    got_samples = asyncio.Event()

    def on_event(ev: Any) -> None:
        seen.append(ev)

    def on_item(_t: float, item: Item) -> None:
        if isinstance(item, AccFrame):
            got_samples.set()

    class ItemSink(CallbackSink):
        def item(self, t_s: float, item: Item) -> None:
            on_item(t_s, item)

    async def commands() -> AsyncIterator[UserCommand]:  # read once the source listens
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                           remote_addr=("127.0.0.1", src.port))
        for line in HOSTILE_LINES:
            transport.sendto(line)
        transport.sendto(b"\n".join(b"%.2f,0.1,0.2,9.8" % (1000 + k * 0.01) for k in range(20)))
        await asyncio.wait_for(got_samples.wait(), 5.0)
        transport.close()
        yield UserCommand(Command.QUIT)

    result = await asyncio.wait_for(run_session(src, sinks=[ItemSink(on_event)], commands=commands()), 10.0)
    assert result.stopped_by == "quit"
    assert src.bad_datagrams == len(HOSTILE_LINES) - 1  # the empty datagram holds no line
    assert sum(src.refusals.total.values()) == src.bad_datagrams


async def test_sensor_logger_session_survives_nan_and_keeps_going():
    src = SensorLoggerSource(0, host="127.0.0.1")
    events: list[Any] = []
    done = asyncio.Event()

    async def commands() -> AsyncIterator[UserCommand]:  # read once the source listens
        assert await post(src.port, batch().replace(b'"x": 0.1', b'"x": NaN', 1)) == 422
        assert await post(src.port, DEEP) == 400
        assert await post(src.port, batch(100)) == 200
        done.set()
        yield UserCommand(Command.QUIT)

    result = await asyncio.wait_for(run_session(src, sinks=[CallbackSink(events.append)], commands=commands()), 10)
    assert done.is_set() and result.stopped_by == "quit"
    details = [e.detail for e in events if isinstance(e, Status)]
    assert any("refused" in d for d in details) and details[-1].startswith("Sensor Logger")
    assert [e.state for e in events if isinstance(e, Status)][-1] == "stopped"


async def test_a_token_less_flood_never_starves_the_phone():
    """Hundreds of idle connections and token-less requests, then the phone: every one of its
    requests is kept (the token is checked before a request counts; idle ones give way)."""
    src = SensorLoggerSource(0, host="127.0.0.1", token="s3cret", announce=lambda _t: None)
    async with src:
        idle = [await asyncio.open_connection("127.0.0.1", src.port) for _ in range(400)]
        slow = []
        for _ in range(60):  # a head started, never finished
            r, w = await asyncio.open_connection("127.0.0.1", src.port)
            w.write(b"POST / HTTP/1.1\r\nHost: x\r\n")
            slow.append((r, w))
        bad = [asyncio.ensure_future(post(src.port, batch())) for _ in range(100)]
        ok = []
        for i in range(20):
            ok.append(await post(src.port, batch(t0_ns=T0_NS + i * 200_000_000), path="/?token=s3cret"))
        assert ok == [200] * 20
        assert set(await asyncio.gather(*bad)) <= {401, 0}
        assert len(src._unread) <= 256  # bounded, however many connect
        for _, w in idle + slow:
            w.close()
