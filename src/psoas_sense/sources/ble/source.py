"""Live BLE devices through bleak: heart-rate straps, a Polar H10's ACC, a Vernier breathing belt.

:class:`BleSource` is a :class:`~psoas_sense.sources.base.Source`. Entering it connects (through
bleak-retry-connector), reads the Device Information, and runs every device profile
(:mod:`psoas_sense.sources.ble.profiles`) whose services the device offers: each subscribes to
its characteristics, then each runs its start handshake (the Polar PMD accelerometer, the Go
Direct belt's INIT ... START). The profiles' streams make the recording header.

The notification callback only timestamps and enqueues the raw bytes (decoding happens in the
core). A dropped link is re-established with backoff; the session and its recording go on, the
gap is marked by ``reconnecting`` / ``reconnected`` status items, and after
``reconnect_timeout_s`` without a link the source reports ``lost`` and ends. Leaving the context
(end of session, Ctrl-C, SIGTERM: the consumer's task is cancelled) stops what the profiles
started and then disconnects, bounded by :data:`SHUTDOWN_TIMEOUT_S`.

Everything that waits uses the injected clock, so the emulated devices run on data time.
"""


from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice

from psoas_sense.errors import PsoasError
from psoas_sense.model import Item, Notification, Status
from psoas_sense.recording.format import Header
from psoas_sense.sources.ble.connection import (
    SHUTDOWN_TIMEOUT_S,
    acquire_mtu,
    backoff_s,
    connect,
    disconnect,
    read_device_info,
)
from psoas_sense.sources.ble.control_point import choose_acc_settings
from psoas_sense.sources.ble.discovery import SCAN_TIMEOUT_S, device_header, resolve_device
from psoas_sense.sources.ble.errors import translate_error
from psoas_sense.sources.ble.profiles import BLUEZ_NOTIFY, PROFILES, STALL_S, DeviceProfile
from psoas_sense.sources.ble.profiles.base import NotifyHandler
from psoas_sense.sources.ble.profiles.gdx import belt_period_us
from psoas_sense.sources.clock import Clock, WallClock
from psoas_sense.vocab import LinkState

log = logging.getLogger(__name__)

MIN_ATTEMPT_S = 0.5
"""A reconnect attempt gets at least this long, even right at the deadline."""
WATCH_INTERVAL_S = 1.0
"""How often the watchdog looks at the streams."""
DEFAULT_RANGE_G = 8
"""ACC range asked for: 8 G never clips (the H10 reports mG whatever the range)."""
LINK_SILENT_S = 15.0
"""No notification at all for this long on a link that claims to be up: treat it as lost."""
__all__ = ["BLUEZ_NOTIFY", "DEFAULT_RANGE_G", "LINK_SILENT_S", "STALL_S", "WATCH_INTERVAL_S", "BleSource"]


class _End:
    """Queued after the last item: the source has ended."""


_END = _End()


class BleSource:
    """A live BLE device as a :class:`~psoas_sense.sources.base.Source`.

    Args:
        device: a ``BLEDevice`` (from a scan; best), or an address or name to scan for.
        clock: session clock (default: the host's monotonic clock from entering).
        client_backend, scanner_backend, scanner_kwargs: bleak backends (the emulated devices').
        acc_rate_hz: highest ACC rate wanted from a Polar strap (its best offered rate not above it).
        acc_range_g: ACC range asked for (the nearest offered one).
        belt_rate_hz: rate asked of a breathing belt (10, or 20 from 15 up).
        reconnect_timeout_s: give up after this long without a link.
        on_close: awaited after the link is closed (the emulator shuts down here).
    """

    def __init__(
        self,
        device: BLEDevice | str,
        *,
        clock: Clock | None = None,
        client_backend: type | None = None,
        scanner_backend: type | None = None,
        scanner_kwargs: dict[str, Any] | None = None,
        acc_rate_hz: int = 200,
        acc_range_g: int = DEFAULT_RANGE_G,
        belt_rate_hz: float = 10.0,
        reconnect_timeout_s: float = 60.0,
        source_kind: str = "ble",
        on_close: Callable[[], Awaitable[None]] | None = None,
        retry_connector: bool = True,
        scan_timeout_s: float = SCAN_TIMEOUT_S,
    ) -> None:
        self._device_spec = device
        self.clock: Clock = clock or WallClock()
        self._client_backend = client_backend
        self._scanner_backend = scanner_backend
        self._scanner_kwargs = scanner_kwargs
        self.acc_rate_hz = int(acc_rate_hz)
        self.acc_range_g = int(acc_range_g)
        self.belt_period_us = belt_period_us(belt_rate_hz)
        self.reconnect_timeout_s = float(reconnect_timeout_s)
        self._source_kind = source_kind
        self._on_close = on_close
        self._retry_connector = retry_connector
        self._scan_timeout_s = scan_timeout_s
        self._stale_checked = False
        self.header = Header(streams={})
        self._queue: asyncio.Queue[Notification | Status | _End | BaseException] = asyncio.Queue()
        self._client: BleakClient | None = None
        self._ble_device: BLEDevice | None = None
        self._task: asyncio.Task[None] | None = None
        self._link_down = asyncio.Event()
        self.profiles: list[DeviceProfile] = [cls() for cls in PROFILES]
        """One of every registered device profile (they hold per-link state)."""
        self._active: list[DeviceProfile] = []
        self._by_uuid: dict[str, DeviceProfile] = {}
        self.state: LinkState | None = None
        self._last_any_s: float | None = None
        self._closing = False
        self._give_up = ""
        self.reconnects = 0
        self.info: dict[str, Any] = {}

    # ------------------------------------------------------------ what profiles use

    def status(self, state: LinkState, detail: str = "") -> None:
        """Report a status change (queued for the consumer)."""
        self.state = state
        self._queue.put_nowait(Status(self.clock.now(), state, detail))

    _status = status

    def record_write(self, char_uuid: str, data: bytes) -> None:
        """Queue a write a profile makes, so the recording keeps the host's side of the traffic."""
        self._queue.put_nowait(Notification(self.clock.now(), char_uuid, bytes(data)))

    @property
    def notify_callback(self) -> NotifyHandler:
        """The notification callback profiles subscribe with."""
        return self._on_notify

    @property
    def active_profiles(self) -> tuple[str, ...]:
        """Names of the profiles running on the connected device."""
        return tuple(p.name for p in self._active)

    def _on_notify(self, char: BleakGATTCharacteristic, data: bytearray) -> None:
        """The notification callback: timestamp and enqueue, nothing else."""
        t = self.clock.now()
        uuid = char.uuid
        raw = bytes(data)
        self._queue.put_nowait(Notification(t, uuid, raw))
        self._last_any_s = t
        profile = self._by_uuid.get(uuid)
        if profile is not None:
            profile.on_notify(uuid, raw, t)

    def _on_disconnect(self, client: BleakClient) -> None:
        if client is self._client:
            self._link_down.set()

    # ------------------------------------------------------------ connect

    async def _connect_once(self) -> BleakClient:
        assert self._ble_device is not None
        self._link_down = asyncio.Event()
        close_stale = self._retry_connector and not self._stale_checked
        if self._retry_connector:
            self._stale_checked = True
        client = await connect(
            self._ble_device,
            clock=self.clock,
            on_disconnect=self._on_disconnect,
            client_backend=self._client_backend,
            retry_connector=self._retry_connector,
            close_stale=close_stale,
        )
        self._client = client
        return client

    async def _acquire_mtu(self, client: BleakClient) -> None:
        mtu = await acquire_mtu(client)
        if mtu is not None:
            self.info["mtu"] = mtu

    choose_acc_settings = staticmethod(choose_acc_settings)
    """One value per offered setting (see :func:`.control_point.choose_acc_settings`). Pure."""

    # ------------------------------------------------------------ session

    async def _setup(self, client: BleakClient) -> None:
        """The profiles' subscriptions, then their start handshakes, on a fresh connection."""
        services = client.services
        self._active = sorted((p for p in self.profiles if p.present(services)), key=lambda p: p.setup_rank)
        if not self._active:
            raise PsoasError(
                "this device offers nothing psoas-sense reads (no Heart Rate Measurement, no Vernier Go Direct "
                "service): is it a heart-rate strap or a breathing belt?"
            )
        for p in self._active:
            p.reset()
        self._by_uuid = {uuid: p for p in self._active for uuid in p.notify_uuids}
        for p in self._active:
            await p.subscribe(self, client)
        self._last_any_s = self.clock.now()
        reported = False
        for p in self._active:
            reported = await p.start(self, client, reported)

    async def __aenter__(self) -> BleSource:
        spec = self._device_spec
        label = spec if isinstance(spec, str) else (spec.name or spec.address)
        self._status(LinkState.CONNECTING, str(label))
        try:
            if isinstance(spec, BLEDevice):
                self._ble_device = spec
            else:
                self._ble_device = await resolve_device(
                    spec,
                    timeout_s=self._scan_timeout_s,
                    scanner_backend=self._scanner_backend,
                    scanner_kwargs=self._scanner_kwargs,
                )
            client = await self._connect_once()
            self._status(LinkState.CONNECTED, self._ble_device.name or self._ble_device.address)
            self.info.update(await read_device_info(client))
            await self._acquire_mtu(client)
            await self._setup(client)
            self.header = device_header(self._ble_device, self.info, self._source_kind, self._active, self)
        except BaseException as exc:
            await self._close_link()
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
                raise
            raise translate_error(exc, str(label)) from exc
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name="ble-supervisor")
        return self

    async def _supervise(self) -> None:
        """Watch the link: let the profiles restart stalled streams; reconnect after a drop; give up."""
        try:
            while True:
                await self._watch()
                if self._closing:
                    return
                if self._give_up:
                    self._status(LinkState.LOST, self._give_up)
                    self._queue.put_nowait(_END)
                    return
                if not await self._reconnect():
                    return
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - surfaced to the consumer
            self._queue.put_nowait(translate_error(exc))

    async def _watch(self) -> None:
        """Return when the link drops (or a profile asks to reconnect or to give up)."""
        while not self._link_down.is_set():
            try:
                await self.clock.wait_for(self._link_down.wait(), WATCH_INTERVAL_S)
            except TimeoutError:
                pass
            if self._link_down.is_set() or self._closing:
                return
            now = self.clock.now()
            if self._last_any_s is not None and now - self._last_any_s > LINK_SILENT_S:
                log.warning("no notification for %.0f s; dropping the link to reconnect", now - self._last_any_s)
                await self._close_link()
                self._link_down.set()
                return
            for profile in self._active:
                action = await profile.watch(self, self._client, now)
                if action == "reconnect":
                    log.warning("%s: the device went silent; dropping the link to reconnect", profile.name)
                    await self._close_link()
                    self._link_down.set()
                    return
                if action:
                    self._give_up = action
                    await self._close_link()
                    return

    async def _reconnect(self) -> bool:
        """Reconnect with backoff; False (after a ``lost`` status) when giving up."""
        t_lost = self.clock.now()
        self.reconnects += 1
        for p in self._active:
            p.reset()
        self._client = None
        self._status(LinkState.RECONNECTING, "link lost; reconnecting")
        attempt = 0
        while True:
            attempt += 1
            # an attempt never runs past the deadline: giving up happens on time (±1 s)
            remaining = self.reconnect_timeout_s - (self.clock.now() - t_lost)
            try:
                client = await self.clock.wait_for(self._connect_once(), max(MIN_ATTEMPT_S, remaining))
                self._status(LinkState.RECONNECTED, f"after {self.clock.now() - t_lost:.1f} s")
                await self._setup(client)
                return True
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means "try again"
                log.info("reconnect attempt %d failed: %s", attempt, exc)
                await self._close_link()
            elapsed = self.clock.now() - t_lost
            if elapsed >= self.reconnect_timeout_s:
                self._status(
                    LinkState.LOST,
                    f"no link for {elapsed:.0f} s; gave up (check the strap is worn and in range)",
                )
                self._queue.put_nowait(_END)
                return False
            await self.clock.sleep(min(backoff_s(attempt), max(0.0, self.reconnect_timeout_s - elapsed)))

    async def _close_link(self) -> None:
        client = self._client
        self._client = None
        if client is None:
            return
        await disconnect(client, self.clock)

    async def __aexit__(self, *exc: object) -> None:
        self._closing = True
        task = self._task
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        client = self._client
        if client is not None and client.is_connected:

            async def clean() -> None:
                for p in self._active:
                    await p.stop(self, client)
                subscribed = [uuid for p in self._active for uuid in p.notify_uuids]
                for uuid in reversed(subscribed):
                    if client.services.get_characteristic(uuid) is not None:
                        with contextlib.suppress(Exception):
                            await client.stop_notify(uuid)

            with contextlib.suppress(Exception):
                await self.clock.wait_for(clean(), SHUTDOWN_TIMEOUT_S)
        try:
            await self._close_link()
            self._status(LinkState.STOPPED, "streams stopped and disconnected")
        finally:
            if self._on_close is not None:
                await self._on_close()

    async def __aiter__(self) -> AsyncIterator[tuple[float, Item]]:
        while True:
            item = await self._queue.get()
            if isinstance(item, _End):
                return
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, Notification):
                profile = self._by_uuid.get(item.char_uuid)
                if profile is not None:
                    before = profile.item_status(self, item)
                    if before is not None:
                        yield before.t_s, before
            yield item.t_s, item

    def pending(self) -> list[Item]:
        """Items queued but not consumed (e.g. the final ``stopped`` status after exit)."""
        out: list[Item] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not isinstance(item, (_End, BaseException)):
                out.append(item)
        return out
