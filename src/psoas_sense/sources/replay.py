"""Replay a recording as a source: at real pace, N times faster, or as fast as possible.

Replay yields the recording's items exactly as they were stored (raw notifications are decoded
again by the core), stamped with their line times, so the same file always gives the same
events. Pacing waits on an injected ``sleep``/``clock`` pair (asyncio's by default), so tests can
replay at "real pace" without waiting. With ``loop`` the recording repeats, shifted in time, for
sessions longer than the recording.

The file is streamed (:func:`~psoas_sense.recording.importers.open_input`): items are read as
they are played, never held, so memory does not grow with the length of the file; a loop
reads the file again for each pass. A problem found late in the file (a bad value on line
9,000,000) ends the stream there: the session closes as at the end of its input (its summary
said, recorded and saved), then leaving the source raises the one-line ``FILE:LINE``
:class:`~psoas_sense.errors.InputError` (see :class:`ReplaySource`).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from typing import Any, TypeVar

from psoas_sense.errors import PsoasError
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
from psoas_sense.recording.importers import open_input

T = TypeVar("T")

LOOP_GAP_S = 0.5
"""Silence between the end of one pass of a looped recording and the start of the next."""
READ_AHEAD_ITEMS = 32
"""Items read when the source is made (at most; see :data:`READ_AHEAD_SAMPLES`): a file broken
in its first lines is refused before a session starts on it, as a wholly bad file is."""
READ_AHEAD_SAMPLES = 1 << 16
"""The read-ahead stops once its items hold this many samples."""


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


class PassSpan:
    """The time one pass spans, seen as it streams by: from its first sample (which may precede
    its first line's time) to its last sample (or line, if later)."""

    def __init__(self) -> None:
        self.first_t: float | None = None
        """The first line's time."""
        self.last_t = 0.0
        self.oldest: float | None = None
        """The first sample of the first sample frame."""
        self.newest: float | None = None
        """The last sample of the last sample frame."""

    def see(self, t: float, item: Item) -> None:
        if self.first_t is None:
            self.first_t = t
        self.last_t = t
        if isinstance(item, (RespFrame, AccFrame, RRFrame)) and item.t_s.size:
            if self.oldest is None:
                self.oldest = float(item.t_s[0])
            self.newest = float(item.t_s[-1])

    @property
    def empty(self) -> bool:
        return self.first_t is None

    def length(self) -> float:
        """Last sample (or line) minus first sample (or line)."""
        assert self.first_t is not None
        oldest = self.first_t if self.oldest is None else self.oldest
        newest = self.last_t if self.newest is None else self.newest
        return max(self.last_t, newest) - min(self.first_t, oldest)


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
    """A recording (or any supported input file) played back as a :class:`Source`, streamed.

    The header and the first few items (:data:`READ_AHEAD_ITEMS`) are read at once: a problem
    in them raises here, before any session starts. The other items are read as they are
    played; a problem further on ends the stream where it is found: inside ``async with`` (as
    the session loop runs a source) the error is kept in :attr:`error` and raised when the
    context is left, after the session has closed on the items before it; iterated without
    entering the context, it is raised by the iteration itself.

    Args:
        path: a format-v1 recording (``.jsonl``/``.jsonl.gz``) or any file
            :func:`~psoas_sense.recording.importers.open_input` reads (generic CSV, supported
            exports).
        speed: 1 = real pace, 4 = four times faster, ``None`` = as fast as possible.
        loop: repeat the recording until the consumer stops (the file is read again for each
            pass; each pass starts :data:`LOOP_GAP_S` after the previous pass's last sample, or
            last line if later).
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
        self.header, stream = open_input(path)
        self._stream: Iterator[tuple[float, Item]] | None = _ReadAhead(stream)
        """The first pass, opened with the header (later passes open the file again)."""
        self.passes = 0
        self.error: PsoasError | None = None
        """The problem that ended the stream early (raised when the context is left)."""
        self._entered = False
        self.clock: PacedClock | None = None if speed is None else PacedClock(speed, wall=clock)
        """Session time while playing at a pace (None as fast as possible: data time only)."""

    async def __aenter__(self) -> ReplaySource:
        self._entered = True
        self.error = None
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._entered = False
        _close(self._stream)
        self._stream = None
        if self.error is not None and (not exc or exc[0] is None):
            raise self.error

    def _open(self) -> Iterator[tuple[float, Item]]:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            return stream
        return open_input(self.path)[1]

    async def __aiter__(self) -> AsyncIterator[tuple[float, Item]]:
        offset = 0.0
        first_t = 0.0
        start_wall: float | None = None
        while True:
            span = PassSpan()
            stream: Iterator[tuple[float, Item]] | None = None
            try:
                stream = self._open()
                for t, item in stream:
                    if span.empty:
                        self.passes += 1
                    span.see(t, item)
                    t_out = t + offset
                    if start_wall is None:
                        first_t, start_wall = t, self._clock()
                        if self.clock is not None:
                            self.clock.start(first_t, start_wall)
                    if self.speed is not None:
                        due = start_wall + (t_out - first_t) / self.speed
                        wait = due - self._clock()
                        if wait > 0:
                            await self._sleep(wait)
                    else:
                        # yield to the event loop now and then so commands and signals get through
                        await asyncio.sleep(0)
                    yield t_out, shift_item(item, offset)
            except PsoasError as exc:
                if not self._entered:
                    raise
                self.error = exc  # the session ends on what came before; raised on leaving
                return
            finally:
                _close(stream)
            if not self.loop or span.empty:
                return
            length = span.length()
            offset += length + LOOP_GAP_S if length > 0 else LOOP_GAP_S


class _ReadAhead:
    """An input's items, the first few read at once (a problem in them raises at once; see
    :data:`READ_AHEAD_ITEMS`) and given out first."""

    def __init__(self, stream: Iterator[tuple[float, Item]]) -> None:
        self._stream = stream
        self._head: deque[tuple[float, Item]] = deque()
        samples = 0
        try:
            for t, item in stream:
                self._head.append((t, item))
                if isinstance(item, (RespFrame, AccFrame, RRFrame)):
                    samples += item.t_s.size
                if len(self._head) >= READ_AHEAD_ITEMS or samples >= READ_AHEAD_SAMPLES:
                    break
        except BaseException:
            _close(stream)
            raise

    def __iter__(self) -> _ReadAhead:
        return self

    def __next__(self) -> tuple[float, Item]:
        if self._head:
            return self._head.popleft()
        return next(self._stream)

    def close(self) -> None:
        self._head.clear()
        _close(self._stream)


def _close(stream: Iterator[tuple[float, Item]] | None) -> None:
    close = getattr(stream, "close", None)
    if callable(close):
        close()
