"""Live BLE chest straps through bleak: any Heart Rate Service strap, and a Polar H10's ACC.

:class:`BleSource` is a :class:`~psoas_sense.sources.base.Source`. Entering it connects (through
bleak-retry-connector), discovers what the strap offers, subscribes to Heart Rate Measurement
and, on a strap with the PMD service, runs the Polar handshake: CP indications and data
notifications on *before* any CP write, read the feature bitmap, query the ACC settings, start
ACC at the highest offered rate up to ``acc_rate_hz`` with every offered setting. While the
accelerometer has not sent its first frame (an H10 often needs 25-30 s) the source reports
``waiting_for_acc``; RR from the Heart Rate Service carries the session meanwhile.

The notification callback only timestamps and enqueues the raw bytes (decoding happens in the
core). A dropped link is re-established with backoff; the session and its recording go on, the
gap is marked by ``reconnecting`` / ``reconnected`` status items, and after
``reconnect_timeout_s`` without a link the source reports ``lost`` and ends. Leaving the context
(end of session, Ctrl-C, SIGTERM: the consumer's task is cancelled) stops the PMD streams and
then disconnects, bounded by :data:`SHUTDOWN_TIMEOUT_S`.

Everything that waits uses the injected clock, so the emulated strap runs on data time.
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
from bleak.exc import BleakError

from psoas_sense.decode import hrs, pmd
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
from psoas_sense.sources.ble.control_point import ControlPoint, choose_acc_settings
from psoas_sense.sources.ble.discovery import SCAN_TIMEOUT_S, resolve_device, strap_header
from psoas_sense.sources.ble.errors import translate_error
from psoas_sense.sources.clock import Clock, WallClock

log = logging.getLogger(__name__)

MIN_ATTEMPT_S = 0.5
"""A reconnect attempt gets at least this long, even right at the deadline."""
STALL_S = 8.0
"""An ACC stream silent this long (while HR still arrives) is restarted."""
WATCH_INTERVAL_S = 1.0
"""How often the watchdog looks at the streams."""
DEFAULT_RANGE_G = 8
"""ACC range asked for: 8 G never clips (the H10 reports mG whatever the range)."""
LINK_SILENT_S = 15.0
"""No notification at all for this long on a link that claims to be up: treat it as lost."""
BLUEZ_NOTIFY: Any = {"use_start_notify": True}
"""BlueZ: StartNotify rather than AcquireNotify (bleak 2.0-3.0.x defaulted to AcquireNotify, which
broke some devices; 3.1 went back to StartNotify). Explicit, so the pinned bleak does not matter."""


class _End:
    """Queued after the last item: the source has ended."""


_END = _End()


class BleSource:
    """A live strap as a :class:`~psoas_sense.sources.base.Source`.

    Args:
        device: a ``BLEDevice`` (from a scan; best), or an address or name to scan for.
        clock: session clock (default: the host's monotonic clock from entering).
        client_backend, scanner_backend, scanner_kwargs: bleak backends (the emulated strap's).
        acc_rate_hz: highest ACC rate wanted (the strap's best offered rate not above it).
        acc_range_g: ACC range asked for (the nearest offered one).
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
        self._control_point = ControlPoint()
        self._link_down = asyncio.Event()
        self._has_pmd = False
        self._acc_started = False
        self._acc_settings: dict[str, int] = {}
        self.state = ""
        self._last_acc_s: float | None = None
        self._last_any_s: float | None = None
        self._closing = False
        self.reconnects = 0
        self.info: dict[str, Any] = {}

    # ------------------------------------------------------------ queue helpers

    def _status(self, state: str, detail: str = "") -> None:
        self.state = state
        self._queue.put_nowait(Status(self.clock.now(), state, detail))

    def _on_notify(self, char: BleakGATTCharacteristic, data: bytearray) -> None:
        """The notification callback: timestamp and enqueue, nothing else."""
        t = self.clock.now()
        uuid = char.uuid
        self._queue.put_nowait(Notification(t, uuid, bytes(data)))
        self._last_any_s = t
        if uuid == pmd.PMD_DATA_UUID:
            self._last_acc_s = t
        elif uuid == pmd.PMD_CONTROL_POINT_UUID:
            self._control_point.feed(bytes(data))

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

    # ------------------------------------------------------------ PMD

    async def _cp(self, client: BleakClient, request: bytes) -> pmd.CpResponse:
        """Write one CP request and wait for its response (one at a time)."""
        return await self._control_point.request(client, request, self.clock)

    choose_acc_settings = staticmethod(choose_acc_settings)
    """One value per offered setting (see :func:`.control_point.choose_acc_settings`). Pure."""

    async def _start_acc(self, client: BleakClient, why: str = "") -> None:
        chosen = await self._control_point.start_acc(client, self.clock, self.acc_rate_hz, self.acc_range_g)
        if chosen is None:
            self._status("streaming", "this strap's PMD offers no accelerometer; breathing from RR")
            return
        self._acc_settings = chosen
        self._acc_started = True
        self._last_acc_s = None
        self._status(
            "waiting_for_acc",
            (why + "; " if why else "") + f"accelerometer {chosen['sample_rate']} Hz starting; an H10 may take 30 s",
        )

    async def _stop_acc(self, client: BleakClient) -> None:
        if not self._acc_started:
            return
        self._acc_started = False
        with contextlib.suppress(Exception):
            await self._cp(client, pmd.stop_request(pmd.ACC))

    # ------------------------------------------------------------ session

    async def _setup(self, client: BleakClient) -> None:
        """Subscriptions and the PMD handshake on a fresh connection."""
        services = client.services
        self._has_pmd = services.get_service(pmd.PMD_SERVICE_UUID) is not None
        if services.get_characteristic(hrs.HEART_RATE_MEASUREMENT_UUID) is None:
            raise PsoasError("this device has no Heart Rate Measurement: is it a heart-rate strap?")
        if self._has_pmd:
            await self._acquire_mtu(client)
            # indications on the CP and notifications on data BEFORE any CP write (Polar spec)
            await client.start_notify(pmd.PMD_CONTROL_POINT_UUID, self._on_notify, bluez=BLUEZ_NOTIFY)
            await client.start_notify(pmd.PMD_DATA_UUID, self._on_notify, bluez=BLUEZ_NOTIFY)
        await client.start_notify(hrs.HEART_RATE_MEASUREMENT_UUID, self._on_notify, bluez=BLUEZ_NOTIFY)
        self._last_any_s = self.clock.now()
        if self._has_pmd and self.acc_rate_hz > 0:
            await self._start_acc(client)
        else:
            self._status("streaming", "heart rate and RR")

    async def __aenter__(self) -> BleSource:
        spec = self._device_spec
        label = spec if isinstance(spec, str) else (spec.name or spec.address)
        self._status("connecting", str(label))
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
            self._status("connected", self._ble_device.name or self._ble_device.address)
            self.info.update(await read_device_info(client))
            await self._acquire_mtu(client)
            self._has_pmd = client.services.get_service(pmd.PMD_SERVICE_UUID) is not None
            self.header = strap_header(
                self._ble_device, self.info, self._source_kind, self.acc_rate_hz if self._has_pmd else 0
            )
            await self._setup(client)
        except BaseException as exc:
            await self._close_link()
            if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt)):
                raise
            raise translate_error(exc, str(label)) from exc
        self._task = asyncio.get_running_loop().create_task(self._supervise(), name="ble-supervisor")
        return self

    async def _supervise(self) -> None:
        """Watch the link: restart a stalled ACC stream; reconnect after a drop; give up."""
        try:
            while True:
                await self._watch()
                if self._closing:
                    return
                if not await self._reconnect():
                    return
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - surfaced to the consumer
            self._queue.put_nowait(translate_error(exc))

    async def _watch(self) -> None:
        """Return when the link drops."""
        stall_reported = False
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
            acc_silent_s = now - self._last_acc_s if self._last_acc_s is not None else 0.0
            if self._acc_started and self.state == "streaming" and acc_silent_s > STALL_S:
                if not stall_reported:
                    stall_reported = True
                    why = f"accelerometer silent for {acc_silent_s:.0f} s, restarted"
                    client = self._client
                    if client is not None and client.is_connected:
                        try:
                            await self._stop_acc(client)
                            await self._start_acc(client, why)
                        except (PsoasError, BleakError, TimeoutError) as exc:
                            log.warning("restarting the accelerometer failed: %s", exc)
                        self._last_acc_s = self.clock.now()
            elif stall_reported and self.state == "streaming":
                stall_reported = False

    async def _reconnect(self) -> bool:
        """Reconnect with backoff; False (after a ``lost`` status) when giving up."""
        t_lost = self.clock.now()
        self.reconnects += 1
        self._acc_started = False
        self._client = None
        self._status("reconnecting", "link lost; reconnecting")
        attempt = 0
        while True:
            attempt += 1
            # an attempt never runs past the deadline: giving up happens on time (±1 s)
            remaining = self.reconnect_timeout_s - (self.clock.now() - t_lost)
            try:
                client = await self.clock.wait_for(self._connect_once(), max(MIN_ATTEMPT_S, remaining))
                self._status("reconnected", f"after {self.clock.now() - t_lost:.1f} s")
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
                    "lost",
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
                await self._stop_acc(client)
                for uuid in (hrs.HEART_RATE_MEASUREMENT_UUID, pmd.PMD_DATA_UUID, pmd.PMD_CONTROL_POINT_UUID):
                    if client.services.get_characteristic(uuid) is not None:
                        with contextlib.suppress(Exception):
                            await client.stop_notify(uuid)

            with contextlib.suppress(Exception):
                await self.clock.wait_for(clean(), SHUTDOWN_TIMEOUT_S)
        try:
            await self._close_link()
            self._status("stopped", "streams stopped and disconnected")
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
            if (
                isinstance(item, Notification)
                and item.char_uuid == pmd.PMD_DATA_UUID
                and self._acc_started
                and self.state == "waiting_for_acc"
            ):
                self.state = "streaming"
                yield item.t_s, Status(item.t_s, "streaming", "accelerometer flowing")
            yield item.t_s, item

    def pending(self) -> list[Item]:
        """Items queued but not consumed (e.g. the final ``stopped`` status after exit)."""
        out: list[Item] = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not isinstance(item, (_End, BaseException)):
                out.append(item)
        return out
