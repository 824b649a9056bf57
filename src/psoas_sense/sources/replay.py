"""Replay a recording as a source: at real pace, N times faster, or as fast as possible.

Replay yields the recording's items exactly as they were stored (raw notifications are decoded
again by the core), stamped with their line times, so the same file always gives the same
events. Pacing waits on an injected ``sleep``/``clock`` pair (asyncio's by default), so tests can
replay at "real pace" without waiting. With ``loop`` the recording repeats, shifted in time, for
sessions longer than the recording.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from psoas_sense.model import (
    AccFrame,
    HRFrame,
    Item,
    Marker,
    Notification,
    RespFrame,
    RRFrame,
    Status,
)
from psoas_sense.recording.importers import load_input

T = TypeVar("T")

LOOP_GAP_S = 0.5
"""Silence between the end of one pass of a looped recording and the start of the next."""


def shift_item(item: Item, dt: float) -> Item:
    """The same item ``dt`` seconds later."""
    if dt == 0:
        return item
    if isinstance(item, RespFrame):
        return RespFrame(t_s=item.t_s + dt, resp=item.resp)
    if isinstance(item, AccFrame):
        return AccFrame(t_s=item.t_s + dt, acc_mg=item.acc_mg)
    if isinstance(item, RRFrame):
        return RRFrame(t_s=item.t_s + dt, rr_ms=item.rr_ms)
    if isinstance(item, (HRFrame, Notification, Status, Marker)):
        return replace(item, t_s=item.t_s + dt)
    raise TypeError(type(item).__name__)


def _oldest_sample(items: list[tuple[float, Item]]) -> float:
    for _, item in items:
        if isinstance(item, (RespFrame, AccFrame, RRFrame)) and item.t_s.size:
            return float(item.t_s[0])
    return items[0][0]


def _newest_sample(items: list[tuple[float, Item]]) -> float:
    for _, item in reversed(items):
        if isinstance(item, (RespFrame, AccFrame, RRFrame)) and item.t_s.size:
            return float(item.t_s[-1])
    return items[-1][0]


class PacedClock:
    """Session time of a paced replay: the recording's time where playback has got to.

    Before playback starts it stands at 0; then it runs ``speed`` times as fast as the host's
    monotonic clock, from the first item's time.
    """

    def __init__(self, speed: float, *, wall: Callable[[], float] = time.monotonic) -> None:
        self.speed = speed
        self._wall = wall
        self._t0: float | None = None
        self._wall0 = 0.0

    def start(self, first_t_s: float, wall_s: float) -> None:
        """Playback of the item at ``first_t_s`` begins at host time ``wall_s``."""
        self._t0 = first_t_s
        self._wall0 = wall_s

    def now(self) -> float:
        if self._t0 is None:
            return 0.0
        return self._t0 + (self._wall() - self._wall0) * self.speed

    async def sleep(self, dt: float) -> None:
        # the host's own sleep: the injected one paces the items (tests run it on fake time)
        await asyncio.sleep(max(0.0, dt) / self.speed)

    async def wait_for(self, aw: Awaitable[T], timeout: float) -> T:
        return await asyncio.wait_for(aw, timeout / self.speed)


class ReplaySource:
    """A recording (or any supported input file) played back as a :class:`Source`.

    Args:
        path: a format-v1 recording (``.jsonl``/``.jsonl.gz``) or any file :func:`load_input`
            reads (generic CSV, supported exports).
        speed: 1 = real pace, 4 = four times faster, ``None`` = as fast as possible.
        loop: repeat the recording until the consumer stops.
        sleep, clock: injected for tests (default ``asyncio.sleep`` and ``time.monotonic``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        speed: float | None = None,
        loop: bool = False,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if speed is not None and not speed > 0:
            raise ValueError("speed must be positive")
        self.path = path
        self.speed = speed
        self.loop = loop
        self._sleep = sleep
        self._clock = clock
        self.header, self._items = load_input(path)
        self.passes = 0
        self.clock: PacedClock | None = None if speed is None else PacedClock(speed, wall=clock)
        """Session time while playing at a pace (None as fast as possible: data time only)."""

    async def __aenter__(self) -> ReplaySource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def __aiter__(self) -> AsyncIterator[tuple[float, Item]]:
        items = self._items
        if not items:
            return
        first_t = items[0][0]
        # a pass spans from its first sample (which may precede its line's time) to its last
        span = max(items[-1][0], _newest_sample(items)) - min(first_t, _oldest_sample(items))
        offset = 0.0
        start_wall = self._clock()
        if self.clock is not None:
            self.clock.start(first_t, start_wall)
        while True:
            self.passes += 1
            for t, item in items:
                t_out = t + offset
                if self.speed is not None:
                    due = start_wall + (t_out - first_t) / self.speed
                    wait = due - self._clock()
                    if wait > 0:
                        await self._sleep(wait)
                else:
                    # yield to the event loop now and then so commands and signals get through
                    await asyncio.sleep(0)
                yield t_out, shift_item(item, offset)
            if not self.loop:
                return
            offset += span + LOOP_GAP_S if span > 0 else LOOP_GAP_S
