"""What every phone source shares: a queue of timed items, the timeline, refusals, loss, a clock.

A producer (polling, an HTTP server, a UDP endpoint) hands batches to :meth:`_QueueSource.accept`,
which either keeps every sample of the batch (it will reach the session, in time order) or raises
:class:`~psoas_sense.sources.phone.validate.Refused` and keeps none. A housekeeping task moves
samples whose reorder wait is over into the queue, reports ``lost`` after a silence and turns
refusals into throttled status lines. The source's iterator yields ``(t_s, item)``;
:class:`SourceClock` is the session clock (``source.clock``) the items are stamped with.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import numpy as np

from psoas_sense.model import Item, Status
from psoas_sense.recording.format import Header
from psoas_sense.sources.phone.timeline import PhoneTimeline
from psoas_sense.sources.phone.validate import RefusalLog, Refused
from psoas_sense.vocab import LinkState

T = TypeVar("T")

MS2_TO_MG = 1000.0 / 9.80665
"""m/s² -> mG."""
LOST_AFTER_S = 5.0
"""No new sample for this long: the source reports ``lost`` (and ``streaming`` when they return)."""
HTTP_TIMEOUT_S = 3.0
"""Deadline of one whole HTTP request (phyphox poll, Sensor Logger push), seconds."""
TICK_S = 0.05
"""How often waiting samples are handed out and loss and refusals are looked at, seconds."""
MAX_QUEUED_ITEMS = 256
"""Sample frames waiting for the session; beyond, samples stay in the reorder buffer."""


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


class _QueueSource:
    """Common part: a queue of timed items filled by a producer task, with loss detection.

    Args:
        clock: monotonic seconds (injected by tests).
        rate_hz: nominal sample rate for the header, if known.
        sleep: how to wait (injected by tests).
        reorder_s: how long samples wait for out-of-order neighbours.
        lost_after_s: silence after which ``lost`` is reported.
    """

    header: Header

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        rate_hz: float | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        reorder_s: float = 0.0,
        lost_after_s: float = LOST_AFTER_S,
    ) -> None:
        self.clock = SourceClock(clock, sleep)
        """The session clock items are stamped with (a :class:`~psoas_sense.sources.clock.Clock`)."""
        self.timeline = PhoneTimeline(reorder_s=reorder_s)
        """Phone time to session time, and the reorder buffer."""
        self.refusals = RefusalLog()
        """Refused packets by reason (``refusals.total``)."""
        self.state: LinkState = LinkState.CONNECTING
        """The link state last reported."""
        self._queue: asyncio.Queue[tuple[float, Item] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._last_accept_s = -math.inf
        self._lost_after_s = lost_after_s
        self._lost_detail = "no samples from the phone"
        self.header = Header(
            streams={"acc": {"unit": "mG", "rate_hz": rate_hz}},
            device={"name": self.name(), "source": "phone"},
            recorded_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    def name(self) -> str:
        """The phone source in a few words, for the recording header."""
        return self.describe()

    def describe(self) -> str:
        """The phone source, for status details."""
        return "phone"

    def now_s(self) -> float:
        """Session seconds now (``self.clock.now()``)."""
        return self.clock.now()

    def put(self, item: Item) -> None:
        """Queue an item stamped now."""
        self._queue.put_nowait((self.now_s(), item))

    def report(self, state: LinkState, detail: str) -> None:
        """Queue a status line (and remember the state)."""
        self.state = state
        self.put(Status(t_s=self.now_s(), state=state, detail=detail))

    def refuse(self, exc: Refused, n: int = 1, *, with_code: bool = True) -> None:
        """Count ``n`` refusals for the reason of ``exc`` (shown in the next status line)."""
        self.refusals.note(f"{exc.reason} ({exc.http_status})" if with_code else exc.reason, n)

    def accept(self, phone_t_s: np.ndarray, acc_mg: np.ndarray) -> None:
        """Keep every sample of a validated batch (phone seconds, mG rows), or raise and keep none.

        Raises:
            Refused: too late, off the phone's clock, or overloaded (see :class:`PhoneTimeline`).
        """
        if phone_t_s.size == 0:
            return
        note = self.timeline.add(phone_t_s, acc_mg, self.now_s())
        self._last_accept_s = self.now_s()
        if self.state != LinkState.STREAMING:
            self.report(LinkState.STREAMING, self.describe() + (f"; {note}" if note else ""))
        elif note:
            self.report(LinkState.STREAMING, note)

    def housekeeping(self, *, everything: bool = False) -> None:
        """Hand out samples whose wait is over, report loss and refusals (every :data:`TICK_S`)."""
        if everything or self._queue.qsize() < MAX_QUEUED_ITEMS:
            frame = self.timeline.take(self.now_s(), everything=everything)
            if frame is not None:
                self.put(frame)
        self.check_lost()
        detail = self.refusals.report(self.now_s(), self.timeline.kept)
        if detail is not None:
            self.report(self.state, detail)

    def check_lost(self) -> None:
        """Report ``lost`` once no sample came for the loss delay (``lost_after_s``)."""
        if self.state == LinkState.STREAMING and self.now_s() - self._last_accept_s > self._lost_after_s:
            self.report(LinkState.LOST, self._lost_detail)

    async def _produce(self) -> None:
        while True:
            await self.clock.sleep(TICK_S)
            self.housekeeping()

    async def _run(self) -> None:
        try:
            await self._produce()
        finally:
            self._queue.put_nowait(None)

    async def __aenter__(self) -> _QueueSource:
        await self._start()
        # the port is known now (port 0 picks a free one)
        self.header = dataclasses.replace(self.header, device={**self.header.device, "name": self.name()})
        self._queue.put_nowait((0.0, Status(t_s=0.0, state=LinkState.CONNECTING, detail=self.describe())))
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

    def pending(self) -> list[Item]:
        """What is left once the session stops: queued items, waiting samples, ``stopped``."""
        out: list[Item] = []
        while not self._queue.empty():
            got = self._queue.get_nowait()
            if got is not None:
                out.append(got[1])
        frame = self.timeline.take(self.now_s(), everything=True)
        if frame is not None:
            out.append(frame)
        detail = self.refusals.report(self.now_s(), self.timeline.kept, force=True)
        if detail is not None:
            out.append(Status(t_s=self.now_s(), state=self.state, detail=detail))
        out.append(Status(t_s=self.now_s(), state=LinkState.STOPPED, detail=self.describe()))
        return out

    async def __aiter__(self) -> AsyncIterator[tuple[float, Item]]:
        while True:
            got = await self._queue.get()
            if got is None:
                return
            yield got
