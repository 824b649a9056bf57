"""The emulated strap's radio link: who is connected, reachability, notification latency.

:class:`StrapLink` is the half of :class:`~psoas_sense.sources.emulator.strap.EmulatedStrap`
that any BLE peripheral has: one client at a time (a second one gets BlueZ's "in progress"
D-Bus error), a connect that waits while the device is out of reach, and notifications that
arrive after a seeded latency, in order, or are lost when the link drops in flight. It also owns
the device's background tasks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from bleak.backends.client import NotifyCallback
from bleak.exc import BleakDBusError

from psoas_sense.sources.clock import VirtualClock

if TYPE_CHECKING:
    from psoas_sense.sources.emulator.backends import EmulatedBleakClient

LATENCY_SEED_OFFSET = 7919
"""The link latency's generator is seeded with the strap's seed plus this."""
BUSY_DBUS_ERROR = "org.bluez.Error.InProgress"
"""What BlueZ answers a connect while another is under way: a second client gets it here."""


@dataclass
class SentFrame:
    """A PMD data frame the device produced (for tests: what was sent, when, and whether it
    arrived at the client)."""

    t_s: float
    """Session time of the frame's last sample."""
    timestamp_ns: int
    """Device timestamp in the frame."""
    n: int
    """Samples in the frame."""
    delivered: bool
    """The notification reached the client."""
    malformed: bool = False
    """The frame was cut short on purpose."""



class Deliverable(Protocol):
    """A record of something sent, marked when it reaches the client."""

    delivered: bool


class StrapLink:
    """The link half of an emulated strap.

    Args:
        name: the device name (in error messages).
        clock: the virtual clock shared with the client code.
        latency_s: (min, max) delay from a notification to its arrival, seconds.
        seed: seed of the latency generator.
    """

    def __init__(self, name: str, clock: VirtualClock, latency_s: tuple[float, float], seed: int) -> None:
        self.name = name
        self.clock = clock
        self.client: EmulatedBleakClient | None = None
        """The connected client, if any."""
        self._latency_s = latency_s
        self._subs: dict[str, NotifyCallback] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._reachable_from = 0.0
        self._latency_rng = np.random.default_rng(seed + LATENCY_SEED_OFFSET)
        self._last_arrival_s = 0.0
        self._last_delivery: asyncio.Task[None] | None = None
        self.connects = 0
        """Successful connects so far."""
        self.lost_in_flight = 0
        """Notifications sent just before a drop that never arrived."""

    def power_on(self) -> None:
        """Start the device's own timeline (the strap overrides this)."""

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.append(task)
        return task

    async def shutdown(self) -> None:
        """Cancel every background task of the device and wait for them."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()

    def reachable(self) -> bool:
        """Whether a connect would succeed now."""
        return self.clock.now() >= self._reachable_from

    async def attach(self, client: EmulatedBleakClient, timeout: float) -> None:
        """A client connects: waits (virtually) while the strap is out of reach."""
        self.power_on()
        if self.client is not None and self.client is not client:
            # as BlueZ answers while the device is taken: a typed D-Bus error
            raise BleakDBusError(BUSY_DBUS_ERROR, [f"{self.name}: already connected to another client"])
        wait = self._reachable_from - self.clock.now()
        if wait > 0:
            if wait > timeout:
                await self.clock.sleep(timeout)
                raise TimeoutError(f"{self.name} did not answer within {timeout} s")
            await self.clock.sleep(wait)
        self.client = client
        self.connects += 1
        self._subs.clear()

    def detach(self, client: EmulatedBleakClient) -> None:
        """A clean disconnect from the client. Streams the client did not stop keep running in
        the device (as on a real H10), so the next start answers ERROR_ALREADY_IN_STATE."""
        if self.client is client:
            self.client = None
            self._subs.clear()

    def drop_link(self, reachable_from: float) -> None:
        """The link breaks: out of reach until ``reachable_from``; the client learns of it."""
        self._reachable_from = reachable_from
        client = self.client
        if client is not None:
            self.client = None
            self._subs.clear()
            client._link_lost()

    def subscribe(self, uuid: str, callback: NotifyCallback) -> None:
        """Notifications or indications of ``uuid`` on (the client wrote its CCCD)."""
        self._subs[uuid] = callback

    def unsubscribe(self, uuid: str) -> None:
        """Notifications or indications of ``uuid`` off."""
        self._subs.pop(uuid, None)

    def _notify(self, uuid: str, data: bytes, record: Deliverable | None = None) -> bool:
        """Send a notification: it arrives after the link latency, in order, if the link holds.

        ``record`` (a :class:`SentFrame`) is marked delivered when the notification arrives."""
        cb = self._subs.get(uuid)
        client = self.client
        if cb is None or client is None:
            return False
        lo, hi = self._latency_s
        now = self.clock.now()
        arrival = max(now + float(self._latency_rng.uniform(lo, hi)), self._last_arrival_s)
        self._last_arrival_s = arrival
        if arrival <= now:
            asyncio.get_running_loop().call_soon(cb, bytearray(data))
            if record is not None:
                record.delivered = True
        else:
            prev = self._last_delivery
            self._last_delivery = self._spawn(
                self._deliver(arrival, client, cb, bytes(data), record, prev), "emulated-link"
            )
        return True

    async def _deliver(
        self,
        arrival: float,
        client: EmulatedBleakClient,
        cb: NotifyCallback,
        data: bytes,
        record: Deliverable | None,
        prev: asyncio.Task[None] | None = None,
    ) -> None:
        await self.clock.sleep_until(arrival)
        if prev is not None and not prev.done():
            # paced clocks wake equal deadlines in any order: keep the link's order (one BLE link)
            await asyncio.wait([prev])
        if self.client is client:
            cb(bytearray(data))
            if record is not None:
                record.delivered = True
        else:
            self.lost_in_flight += 1
        task = asyncio.current_task()
        if task in self._tasks:
            self._tasks.remove(task)

