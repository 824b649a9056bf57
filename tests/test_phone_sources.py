"""Phone IMU sources on loopback: phyphox polling, Sensor Logger push, UDP lines."""

from __future__ import annotations

import asyncio
import json
import urllib.parse

import numpy as np
import pytest

from psoas_sense.errors import PsoasError
from psoas_sense.model import AccFrame, Status
from psoas_sense.sources.phone import (
    MS2_TO_MG,
    PhyphoxSource,
    SensorLoggerSource,
    UdpSource,
    open_phone_source,
    parse_udp_line,
)

OUTPUTS = [{"x": "accX"}, {"y": "accY"}, {"z": "accZ"}, {"abs": "acc"}, {"t": "acc_time"}]
CONFIG = {"inputs": [{"source": "accelerometer", "outputs": OUTPUTS}], "buffers": []}


class FakePhyphox:
    """Answers /config, /control and /get (last value, full, incremental) like phyphox's
    RemoteServer, on data, not a socket."""

    def __init__(self) -> None:
        self.t: list[float] = []
        self.queries: list[str] = []
        self.session = "abc"

    def add(self, n: int, rate: float = 100.0) -> None:
        start = len(self.t)
        self.t.extend((start + i) / rate for i in range(n))

    async def fetch(self, path: str) -> bytes:
        self.queries.append(path)
        if path == "/config":
            return json.dumps(CONFIG).encode()
        q = urllib.parse.parse_qs(urllib.parse.urlparse(path).query, keep_blank_values=True)
        spec = q["acc_time"][0]
        t = np.asarray(self.t)
        sel = t if spec == "full" else t[-1:] if spec == "" else t[t > float(spec)]
        buf = {
            "acc_time": {"buffer": sel.tolist()},
            "accX": {"buffer": [0.1] * sel.size},
            "accY": {"buffer": [0.0] * sel.size},
            "accZ": {"buffer": [9.80665] * sel.size},
        }
        return json.dumps({"buffer": buf, "status": {"session": self.session, "measuring": True}}).encode()


async def _take(source, n_frames: int = 0, *, n_samples: int = 0, timeout_s: float = 5.0) -> list:
    """Items until ``n_frames`` frames and ``n_samples`` samples came (samples wait in a reorder
    buffer, so frames coalesce)."""
    out = []

    async def collect() -> None:
        async for _, item in source:
            out.append(item)
            frames = [i for i in out if isinstance(i, AccFrame)]
            if len(frames) >= n_frames and sum(f.t_s.size for f in frames) >= n_samples:
                return

    await asyncio.wait_for(collect(), timeout_s)
    return out


async def test_phyphox_polls_incrementally_and_keeps_phone_spacing():
    phone = FakePhyphox()
    phone.add(50)
    now = [0.0]

    async def step(_s: float) -> None:
        now[0] += 0.1
        phone.add(10)
        await asyncio.sleep(0)

    src = PhyphoxSource("http://phone:8080", fetch=phone.fetch, clock=lambda: now[0], sleep=step)
    async with src:
        items = await _take(src, 4)
    frames = [i for i in items if isinstance(i, AccFrame)]
    t = np.concatenate([f.t_s for f in frames])
    assert np.allclose(np.diff(t), 0.01)  # the phone's own sample spacing, no duplicates
    assert t.size == 60 + 30
    assert frames[0].acc_mg[0] == pytest.approx([0.1 * MS2_TO_MG, 0.0, 1000.0])
    assert isinstance(items[0], Status) and items[0].state == "connecting"
    assert any(isinstance(i, Status) and i.state == "streaming" for i in items)
    # the first poll asks where the experiment's time is, the next ones only for newer samples
    gets = [q for q in phone.queries if q.startswith("/get")]
    assert gets[0] == "/get?acc_time="
    assert "acc_time=-1.0" in gets[1]  # less than BACKLOG_S measured: all of it
    assert "acc_time=0.59" in gets[2]


async def test_phyphox_unreachable_is_a_plain_error():
    async def fail(_path: str) -> bytes:
        raise OSError("connection refused")

    with pytest.raises(PsoasError, match="remote access"):
        async with PhyphoxSource("http://10.0.0.9:8080", fetch=fail):
            pass


async def test_sensor_logger_push_over_loopback():
    src = SensorLoggerSource(0, host="127.0.0.1")
    async with src:
        payload = {
            "messageId": 1,
            "sessionId": "s",
            "deviceId": "d",
            "payload": [
                {"name": "totalacceleration", "time": 1_700_000_000_000_000_000 + i * 10_000_000,
                 "values": {"x": 0.0, "y": 0.0, "z": 9.80665}}
                for i in range(20)
            ]
            + [{"name": "gyroscope", "time": 1, "values": {"x": 1, "y": 2, "z": 3}}],
        }
        body = json.dumps(payload).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", src.port)
        writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n" + body)
        await writer.drain()
        reply = await reader.read()
        writer.close()
        assert reply.startswith(b"HTTP/1.1 200")
        items = await _take(src, 1)
    (frame,) = [i for i in items if isinstance(i, AccFrame)]
    assert frame.acc_mg.shape == (20, 3) and frame.acc_mg[0, 2] == pytest.approx(1000.0)
    assert np.allclose(np.diff(frame.t_s), 0.01)


async def test_sensor_logger_bad_body_gets_400():
    src = SensorLoggerSource(0, host="127.0.0.1")
    async with src:
        reader, writer = await asyncio.open_connection("127.0.0.1", src.port)
        writer.write(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nnot{j")
        await writer.drain()
        reply = await reader.read()
        writer.close()
    assert reply.startswith(b"HTTP/1.1 400")


async def test_udp_lines_over_loopback():
    src = UdpSource(0, host="127.0.0.1")
    async with src:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                           remote_addr=("127.0.0.1", src.port))
        for i in range(3):
            lines = "\n".join(f"{1000 + (i * 5 + k) * 0.01:.2f},0.1,0.2,9.80665" for k in range(5))
            transport.sendto(lines.encode())
        transport.sendto(b"garbage,line\n")
        items = await _take(src, n_samples=15)
        transport.close()
    frames = [i for i in items if isinstance(i, AccFrame)]
    t = np.concatenate([f.t_s for f in frames])
    assert t.size == 15 and np.allclose(np.diff(t), 0.01)
    assert src.bad_datagrams == 1


def test_udp_line_formats():
    assert parse_udp_line("0.13,9.38,0.87") == (None, (0.13, 9.38, 0.87))
    assert parse_udp_line("1700000000000,0.13,9.38,0.87,0.36,-0.38,0.004#") == (1700000000000.0, (0.13, 9.38, 0.87))
    assert parse_udp_line("12.5, 3, 0.1, 0.2, 9.8, 4, 0.0, 0.0, 0.0") == (12.5, (0.1, 0.2, 9.8))
    assert parse_udp_line("hello") is None


def test_specs():
    assert isinstance(open_phone_source("phyphox:192.168.1.20"), PhyphoxSource)
    assert open_phone_source("phyphox:192.168.1.20").base_url == "http://192.168.1.20:8080"  # type: ignore[union-attr]
    assert isinstance(open_phone_source("udp:5555"), UdpSource)
    assert isinstance(open_phone_source("sensorlogger:8000"), SensorLoggerSource)
    assert open_phone_source("AA:BB:CC:DD:EE:FF") is None or True  # a BLE address is not a phone spec
    with pytest.raises(PsoasError, match="port number"):
        open_phone_source("udp:abc")
    with pytest.raises(PsoasError, match="address"):
        open_phone_source("phyphox:")


async def test_every_phone_source_has_the_clock_it_stamps_with():
    from psoas_sense.sources.clock import Clock

    now = [100.0]
    slept: list[float] = []

    async def step(dt: float) -> None:
        slept.append(dt)
        now[0] += dt
        await asyncio.sleep(0)  # a real sleep yields to the loop; so must this one

    phone = FakePhyphox()
    phone.add(20)
    phyphox = PhyphoxSource("http://phone:8080", fetch=phone.fetch, clock=lambda: now[0], sleep=step)
    clocks: list[Clock] = [phyphox.clock]
    assert phyphox.clock.now() == 0.0
    now[0] += 2.5
    assert phyphox.clock.now() == pytest.approx(2.5)
    await phyphox.clock.sleep(0.5)  # the source's own sleep, so fake time moves
    assert slept == [0.5] and phyphox.clock.now() == pytest.approx(3.0)
    assert await phyphox.clock.wait_for(asyncio.sleep(0, result=7), 1.0) == 7
    with pytest.raises(TimeoutError):
        await phyphox.clock.wait_for(asyncio.Event().wait(), 0.01)
    async with phyphox:
        items = await _take(phyphox, 1)
    assert items[0].t_s == 0.0  # "connecting" is stamped at session zero
    (frame,) = [i for i in items if isinstance(i, AccFrame)]
    # the newest sample is stamped with source.clock's time of the poll that brought it: the
    # second one (3.1 s), after the first asked where the experiment's time was
    assert frame.t_s[-1] == pytest.approx(3.1) and phyphox.clock.now() >= 3.1

    others = (
        SensorLoggerSource(0, host="127.0.0.1", clock=lambda: now[0]),
        UdpSource(0, host="127.0.0.1", clock=lambda: now[0]),
    )
    for src in others:
        clocks.append(src.clock)
        t0 = src.clock.now()
        now[0] += 1.25
        assert src.clock.now() == pytest.approx(t0 + 1.25)
        assert src.now_s() == src.clock.now()
    assert all(callable(c.now) and callable(c.sleep) and callable(c.wait_for) for c in clocks)
