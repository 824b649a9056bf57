"""Clocks of the edge: the host's monotonic clock, and a virtual clock for emulated devices.

Session time is seconds since the source started. Live BLE sources use :class:`WallClock`. The
emulated strap and the client code that talks to it share a :class:`VirtualClock`: with
``speed=None`` it is a discrete-event clock (time jumps to the next timer once every task is
idle, so a 3-minute session runs in a fraction of a second and always gives the same times);
with a speed it paces virtual time against the host clock (``speed=1`` is real time).

Everything in the BLE client that waits (timeouts, backoff, watchdogs) waits on the injected
clock, never on ``asyncio.sleep`` directly.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

REAL_TIMER_HORIZON_S = 1.0
"""The virtual clock does not advance while a real timer due within this many seconds is
pending (library back-offs such as bleak-retry-connector's take no virtual time)."""


class Clock(Protocol):
    """What the edge needs of a clock."""

    def now(self) -> float:
        """Session seconds."""
        ...

    async def sleep(self, dt: float) -> None: ...

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        """Like :func:`asyncio.wait_for`, timed on this clock (raises ``TimeoutError``)."""
        ...


class WallClock:
    """The host's monotonic clock, zero when created."""

    def __init__(self) -> None:
        self._t0 = time.monotonic()

    def now(self) -> float:
        return time.monotonic() - self._t0

    async def sleep(self, dt: float) -> None:
        await asyncio.sleep(max(0.0, dt))

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        return await asyncio.wait_for(aw, timeout)


class VirtualClock:
    """Virtual session time for emulated devices.

    Args:
        speed: ``None`` = as fast as possible (discrete events, deterministic); otherwise the
            ratio of virtual to real time (1 = real time).
    """

    def __init__(self, speed: float | None = None) -> None:
        if speed is not None and not speed > 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._now = 0.0
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._driver: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._real_t0: float | None = None

    # ------------------------------------------------------------------ time

    def now(self) -> float:
        if self.speed is not None:
            if self._real_t0 is None:
                self._real_t0 = time.monotonic()
            return (time.monotonic() - self._real_t0) * self.speed
        return self._now

    async def sleep(self, dt: float) -> None:
        await self.sleep_until(self.now() + max(0.0, dt))

    async def sleep_until(self, t: float) -> None:
        """Wait until virtual time ``t``."""
        if self.speed is not None:
            wait = (t - self.now()) / self.speed
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._heap, (max(t, self._now), next(self._seq), fut))
        self._ensure_driver()
        assert self._wake is not None
        self._wake.set()
        await fut

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        if self.speed is not None:
            return await asyncio.wait_for(aw, timeout / self.speed)
        task = asyncio.ensure_future(aw)
        timer = asyncio.ensure_future(self.sleep(timeout))
        try:
            done, _ = await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            timer.cancel()
            raise
        if task in done:
            timer.cancel()
            return task.result()
        task.cancel()
        try:
            await task
        except (asyncio.CancelledError, Exception):
            pass
        raise TimeoutError(f"timed out after {timeout} s")

    # ------------------------------------------------------------------ driver

    def _ensure_driver(self) -> None:
        if self._driver is None or self._driver.done():
            self._wake = asyncio.Event()
            self._driver = asyncio.get_running_loop().create_task(self._drive(), name="virtual-clock")

    async def _settle(self) -> None:
        """Return once no other task can run without time passing."""
        loop = asyncio.get_running_loop()
        while True:
            for _ in range(2):
                await asyncio.sleep(0)
            if getattr(loop, "_ready", None):
                continue
            scheduled: Any = getattr(loop, "_scheduled", ())
            now = loop.time()
            soon = [h.when() for h in scheduled if not h.cancelled() and h.when() - now < REAL_TIMER_HORIZON_S]
            if soon:
                await asyncio.sleep(max(0.0, min(soon) - now))
                continue
            return

    async def _drive(self) -> None:
        assert self._wake is not None
        while True:
            await self._settle()
            while self._heap and self._heap[0][2].done():
                heapq.heappop(self._heap)
            if not self._heap:
                self._wake.clear()
                await self._wake.wait()
                continue
            t, _, fut = heapq.heappop(self._heap)
            self._now = max(self._now, t)
            if not fut.done():
                fut.set_result(None)

    async def aclose(self) -> None:
        """Stop the driver and cancel pending sleepers."""
        if self._driver is not None:
            self._driver.cancel()
            try:
                await self._driver
            except (asyncio.CancelledError, Exception):
                pass
            self._driver = None
        for _, _, fut in self._heap:
            if not fut.done():
                fut.cancel()
        self._heap.clear()
