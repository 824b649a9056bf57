"""Items already in memory as a source: ``detect`` and ``report FILE`` run the session loop on them.

As fast as possible, on data time (no clock); it yields to the event loop now and then so
commands and signals get through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from psoas_sense.model import Item
from psoas_sense.recording.format import Header

YIELD_EVERY = 64
"""Items between two yields to the event loop."""


class MemorySource:
    """A list (or a stream, iterated once) of ``(t_s, item)`` pairs as a
    :class:`~psoas_sense.sources.base.Source`."""

    def __init__(self, header: Header, items: Iterable[tuple[float, Item]]) -> None:
        self.header = header
        self._items = items

    async def __aenter__(self) -> MemorySource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def __aiter__(self) -> AsyncIterator[tuple[float, Item]]:
        for i, pair in enumerate(self._items):
            if i % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            yield pair
