"""The phyphox client against a fake phyphox HTTP server on 127.0.0.1: bad answers, a phone that
is not measuring, a trickling server, cancellation, experiment restarts. Deadlines are injected
short; every wait is bounded."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from collections.abc import AsyncIterator

import numpy as np
import pytest

from psoas_sense.model import AccFrame, Item, Status
from psoas_sense.sources.phone import PhyphoxSource

pytestmark = pytest.mark.hostile

CONFIG = {"inputs": [{"source": "accelerometer",
                      "outputs": [{"x": "accX"}, {"y": "accY"}, {"z": "accZ"}, {"t": "acc_time"}]}]}
PER_GET = 5
"""Samples the fake phone measures between two polls (100 Hz)."""


class FakePhone:
    """phyphox's remote server, small: /config, /control, /get (last value, full, incremental)."""

    def __init__(self) -> None:
        self.t: list[float] = []
        self.t_start_s = 30.0
        """The experiment ran this long before the client connected."""
        self.session = "s1"
        self.measuring = True
        self.frozen = False
        self.force_full = False
        self.trickle = False
        self.bad: list[bytes] = []
        """Raw answers to serve to the next /get requests, one each, before normal ones."""
        self.paths: list[str] = []
        self.server: asyncio.Server | None = None
        self.handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    def restart(self, *, new_session: bool = False, full: bool = True) -> None:
        self.t = []
        self.t_start_s = 0.0
        self.force_full = full
        if new_session:
            self.session = "s2"

    def get(self, query: str) -> bytes:
        if self.measuring and not self.frozen:
            start = self.t[-1] + 0.01 if self.t else self.t_start_s
            self.t.extend(start + i * 0.01 for i in range(PER_GET))
        spec = urllib.parse.parse_qs(query, keep_blank_values=True)["acc_time"][0]
        t = np.round(np.asarray(self.t), 6)
        if spec == "":
            sel = t[-1:]
        elif spec == "full" or self.force_full:
            sel, self.force_full = t, False
        else:
            sel = t[t > float(spec)]
        buf = {"acc_time": {"buffer": sel.tolist()}, "accX": {"buffer": [0.1] * sel.size},
               "accY": {"buffer": [0.2] * sel.size}, "accZ": {"buffer": [9.8] * sel.size}}
        return json.dumps({"buffer": buf, "status": {"session": self.session, "measuring": self.measuring}}).encode()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.handlers.add(task)
        task.add_done_callback(self.handlers.discard)
        try:
            line = (await reader.readline()).decode()
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            path = line.split(" ")[1]
            self.paths.append(path)
            if self.trickle and path.startswith("/get"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                while True:  # one byte at a time, for ever
                    writer.write(b" ")
                    await writer.drain()
                    await asyncio.sleep(0.1)
            if path.startswith("/get") and self.bad and len(self.paths) % 2:  # good answers between
                writer.write(self.bad.pop(0))
            else:
                if path == "/config":
                    body = json.dumps(CONFIG).encode()
                elif path == "/control?cmd=start":
                    self.measuring = True
                    body = b'{"result": true}'
                else:
                    body = self.get(urllib.parse.urlsplit(path).query)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                             % (len(body), body))
            await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def phone() -> AsyncIterator[FakePhone]:
    fake = FakePhone()
    fake.server = await asyncio.start_server(fake.handle, "127.0.0.1", 0)
    yield fake
    fake.server.close()
    for task in list(fake.handlers):
        task.cancel()
    await asyncio.gather(*fake.handlers, return_exceptions=True)
    await fake.server.wait_closed()


def source(phone: FakePhone, **kw: float) -> PhyphoxSource:
    return PhyphoxSource(phone.url, poll_s=0.01, deadline_s=kw.pop("deadline_s", 1.0),
                         lost_after_s=kw.pop("lost_after_s", 2.0))


async def until(src: PhyphoxSource, seen: list[Item], done, timeout_s: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Collect items into ``seen`` until ``done(seen)`` is true (bounded)."""

    async def go() -> None:
        if done(seen):
            return
        async for _, item in src:
            seen.append(item)
            if done(seen):
                return

    await asyncio.wait_for(go(), timeout_s)


def n_samples(items: list[Item]) -> int:
    return sum(i.t_s.size for i in items if isinstance(i, AccFrame))


def details(items: list[Item]) -> list[str]:
    return [f"{i.state}: {i.detail}" for i in items if isinstance(i, Status)]


async def test_not_measuring_is_started_and_said(phone: FakePhone):
    phone.measuring = False
    src = source(phone)
    seen: list[Item] = []
    async with src:
        await until(src, seen, lambda s: n_samples(s) >= 20)
    assert "/control?cmd=start" in phone.paths and src.starts_sent == 1
    assert any("not measuring: started it" in d for d in details(seen))




def ok(body: bytes) -> bytes:
    """A 200 answer carrying ``body``."""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


BAD_ANSWERS = [
    ok(b'{"buffer": {}, "status": [1, 2]}'),
    ok(b'{"buffer": {"acc_time": {"buffer": ["1.0"]}, "accX": {"buffer": [1]}}, "status": {}}'),
    ok(b'{"buffer": 5}'),
    ok(b"not{j"),
    ok(b"[NaN, 1]"),
    ok(b"[" * 10_000 + b"]" * 10_000),
    ok(b'{"buffer": {"acc_time": {"buffer": [1e400]}}}'),
    ok(b'{"buffer": {"acc_time": {"buffer": [1, 2]}, "accX": {"buffer": [1e308, 1]}, '
       b'"accY": {"buffer": [0, 0]}, "accZ": {"buffer": [null, 0]}}}'),  # rows left out, no harm
    b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort",  # cut short, then closed
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100,
    b"garbage\r\n\r\n",
    b"",
]


async def test_bad_answers_never_end_the_session(phone: FakePhone):
    src = source(phone)
    seen: list[Item] = []
    async with src:
        await until(src, seen, lambda s: n_samples(s) >= 10)
        phone.bad = list(BAD_ANSWERS)
        await until(src, seen, lambda s: not phone.bad and n_samples(s) >= 60)
    assert set(src.refusals.total) >= {
        "'status' is not an object (502)", "buffer 'acc_time' holds non-numbers (502)",
        "answer without a 'buffer' object (502)", "not JSON (400)", "non-finite number (NaN) (422)",
        "JSON nested too deep (400)"}, src.refusals.total
    assert src._task is not None and src._task.done()  # ended by us, not by an answer


async def test_trickling_phone_is_lost_quickly_and_cancel_is_immediate(phone: FakePhone):
    src = source(phone, deadline_s=0.3, lost_after_s=0.5)
    seen: list[Item] = []
    async with src:
        await until(src, seen, lambda s: n_samples(s) >= 10)
        phone.trickle = True
        t0 = time.monotonic()
        await until(src, seen, lambda s: bool(s) and isinstance(s[-1], Status) and s[-1].state == "lost")
        assert time.monotonic() - t0 < 2.0
        assert "TimeoutError" in seen[-1].detail  # type: ignore[union-attr]

        async def consume() -> None:
            async for _ in src:
                pass

        task = asyncio.ensure_future(consume())
        await asyncio.sleep(0.2)  # mid-poll of a trickling answer: the case that took 41 s
        t1 = time.monotonic()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert time.monotonic() - t1 < 1.0


async def test_phone_trickling_from_the_start_is_lost_not_connecting_for_ever(phone: FakePhone):
    phone.trickle = True
    src = source(phone, deadline_s=0.3, lost_after_s=0.5)
    seen: list[Item] = []
    t0 = time.monotonic()
    async with src:
        await until(src, seen, lambda s: bool(s) and isinstance(s[-1], Status) and s[-1].state == "lost")
    assert time.monotonic() - t0 < 2.0
    assert "no complete answer within 0.3 s" in seen[-1].detail  # type: ignore[union-attr]


@pytest.mark.parametrize(("how", "kw"), [("cleared", {}), ("new session", {"new_session": True}),
                                          ("silent", {"full": False})])
async def test_experiment_restart_loses_no_sample_and_does_not_flap(phone: FakePhone, how: str, kw: dict[str, bool]):
    src = source(phone)
    seen: list[Item] = []
    async with src:
        await until(src, seen, lambda s: n_samples(s) >= 50)
        phone.restart(**kw)
        mark = len(seen)
        await until(src, seen, lambda s: any("restarted" in d for d in details(s[mark:])))
        await until(src, seen, lambda s: len(phone.t) >= 100)
        phone.frozen = True
        expected = len(phone.t)
        await until(src, seen, lambda s: n_samples(s[mark:]) >= expected)
    after = seen[mark:]
    assert n_samples(after) == expected  # every sample measured since the restart, once
    t = np.concatenate([f.t_s for f in seen if isinstance(f, AccFrame)])
    assert np.all(np.diff(t) > 0)
    states = [i.state for i in seen if isinstance(i, Status)]
    assert "lost" not in states and states.count("streaming") <= 3, details(seen)
