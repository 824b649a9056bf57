"""The one source protocol that BLE straps, the emulated strap, phones and replays share.

A source is an async context manager and an async iterator of ``(t_s, item)`` pairs: ``t_s`` is
the session time at which the item arrived (host monotonic clock mapped to session seconds, or
the recording's line time on replay) and ``item`` is a :data:`psoas_sense.model.Item`: a raw
:class:`~psoas_sense.model.Notification` (decoded later, in the core), a decoded sample frame
(phone IMU, imports), a :class:`~psoas_sense.model.Status` change or a
:class:`~psoas_sense.model.Marker`. ``header`` describes the device and streams; it is what a
recording of this source starts with.

Sources never decode, filter or detect: that happens in the pure core, so the live and
replayed paths run the same code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from psoas_sense.model import Item
from psoas_sense.recording.format import Header


@runtime_checkable
class Source(Protocol):
    """Anything that yields timed items: BLE, emulated strap, phone IMU, replay."""

    header: Header
    """Device and stream description; valid once the context is entered."""

    async def __aenter__(self) -> Source: ...

    async def __aexit__(self, *exc: object) -> None: ...

    def __aiter__(self) -> AsyncIterator[tuple[float, Item]]: ...
