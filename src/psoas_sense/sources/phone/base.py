"""What every phone source shares: a queue of timed items, phone-to-session time, loss, a clock.

A producer task (polling, an HTTP server, a UDP endpoint) puts samples in; the source's
iterator yields ``(t_s, item)``. Phone sample times are mapped onto session seconds once, at the
first batch, so the phone's own spacing is kept. :class:`SourceClock` is the source's session
clock (``source.clock``), the one its items are stamped with.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import numpy as np

from psoas_sense.model import AccFrame, Item, Status
from psoas_sense.recording.format import Header

T = TypeVar("T")

MS2_TO_MG = 1000.0 / 9.80665
"""m/s² -> mG."""
LOST_AFTER_S = 5.0
"""No new sample for this long: the source reports ``lost`` (and ``streaming`` when they return)."""
HTTP_TIMEOUT_S = 3.0
"""Timeout of one HTTP request (phyphox poll, Sensor Logger push)."""
MAX_BODY_BYTES = 4 * 1024 * 1024
"""Largest HTTP body read."""


class SourceClock:
    """Session seconds of a phone source, zero when the source was created.

    Satisfies :class:`~psoas_sense.sources.clock.Clock`.

    Args:
        time_fn: monotonic seconds (the host's by default; tests inject a fake one).
        sleep_fn: how to wait (``asyncio.sleep`` by default).
    """

    def __init__(
        self,
        time_fn: Callable[[], float] = time.monotonic,
        sleep_fn: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._time_fn = time_fn
        self._sleep_fn = sleep_fn
        self._t0 = time_fn()

    def now(self) -> float:
        """Session seconds (the time items are stamped with)."""
        return self._time_fn() - self._t0

    async def sleep(self, dt: float) -> None:
        """Wait ``dt`` seconds (at least zero)."""
        await self._sleep_fn(max(0.0, dt))

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        """Like :func:`asyncio.wait_for` (raises ``TimeoutError``)."""
        return await asyncio.wait_for(aw, timeout)


class _TimeMap:
    """Maps phone sample times onto session seconds, anchored once at the first batch."""

    def __init__(self) -> None:
        self.offset: float | None = None
        """Session seconds minus phone seconds, once known."""

    def map(self, phone_t: np.ndarray, host_now_s: float) -> np.ndarray:
        if self.offset is None:
            # the newest sample arrived just now; never map a sample before the session start
            self.offset = max(host_now_s - float(phone_t[-1]), -float(phone_t[0]))
        return phone_t + self.offset


class _QueueSource:
    """Common part: a queue of timed items filled by a producer task, with loss detection."""

    header: Header

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        rate_hz: float | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.clock = SourceClock(clock, sleep)
        """The session clock items are stamped with (a :class:`~psoas_sense.sources.clock.Clock`)."""
        self._queue: asyncio.Queue[tuple[float, Item] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._timemap = _TimeMap()
        self._last_sample_s = -math.inf
        self._streaming = False
        self.header = Header(
            streams={"acc": {"unit": "mG", "rate_hz": rate_hz}},
            device={"name": self.describe(), "source": "phone"},
            recorded_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    def describe(self) -> str:
        """The phone source, for the header and status details."""
        return "phone"

    def now_s(self) -> float:
        """Session seconds now (``self.clock.now()``)."""
        return self.clock.now()

    def put(self, item: Item) -> None:
        """Queue an item stamped now."""
        self._queue.put_nowait((self.now_s(), item))

    def put_samples(self, phone_t: np.ndarray, acc_mg: np.ndarray) -> None:
        """Queue samples (phone seconds, mG) newer than the last ones, mapped to session time."""
        if phone_t.size == 0:
            return
        order = np.argsort(phone_t, kind="stable")
        phone_t, acc_mg = phone_t[order], acc_mg[order]
        t = self._timemap.map(phone_t, self.now_s())
        keep = t > self._last_sample_s
        if not keep.any():
            return
        t, acc_mg = t[keep], acc_mg[keep]
        if not self._streaming:
            self._streaming = True
            self.put(Status(t_s=self.now_s(), state="streaming", detail=self.describe()))
        self._last_sample_s = float(t[-1])
        self.put(AccFrame(t_s=t, acc_mg=acc_mg))

    def check_lost(self) -> None:
        """Report ``lost`` once no sample came for :data:`LOST_AFTER_S`."""
        if self._streaming and self.now_s() - max(self._last_sample_s, 0.0) > LOST_AFTER_S:
            self._streaming = False
            self.put(Status(t_s=self.now_s(), state="lost", detail="no samples from the phone"))

    async def _produce(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def _run(self) -> None:
        try:
            await self._produce()
        finally:
            self._queue.put_nowait(None)

    async def __aenter__(self) -> _QueueSource:
        self.put(Status(t_s=0.0, state="connecting", detail=self.describe()))
        await self._start()
        self._task = asyncio.ensure_future(self._run())
        return self

    async def _start(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        await self._stop()

    async def _stop(self) -> None:
        return None

    async def __aiter__(self) -> AsyncIterator[tuple[float, Item]]:
        while True:
            got = await self._queue.get()
            if got is None:
                return
            yield got

