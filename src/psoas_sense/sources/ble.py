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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.exc import BleakBluetoothNotAvailableError, BleakBluetoothNotAvailableReason, BleakDeviceNotFoundError, BleakError

from psoas_sense.decode import hrs, pmd
from psoas_sense.errors import DecodeError, PsoasError
from psoas_sense.model import Item, Notification, Status
from psoas_sense.recording.format import Header
from psoas_sense.sources.clock import Clock, WallClock

log = logging.getLogger(__name__)

CP_TIMEOUT_S = 10.0
"""Wait this long for a control-point response (bleakheart uses 10 s, the Polar SDK 30 s)."""
SHUTDOWN_TIMEOUT_S = 5.0
"""Stopping streams and disconnecting on exit may take at most this long."""
STALL_S = 8.0
"""An ACC stream silent this long (while HR still arrives) is restarted."""
WATCH_INTERVAL_S = 1.0
"""How often the watchdog looks at the streams."""
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Wait before each reconnect attempt (the last value repeats)."""
ACC_RATES_PREFERRED = (200, 100, 50, 25)
DEFAULT_RANGE_G = 8
"""ACC range asked for: 8 G never clips (the H10 reports mG whatever the range)."""
SCAN_TIMEOUT_S = 10.0
LINK_SILENT_S = 15.0
"""No notification at all for this long on a link that claims to be up: treat it as lost."""
BLUEZ_NOTIFY: Any = {"use_start_notify": True}
"""BlueZ: StartNotify rather than AcquireNotify (bleak 2.0-3.0.x defaulted to AcquireNotify, which
broke some devices; 3.1 went back to StartNotify). Explicit, so the pinned bleak does not matter."""


def backoff_s(attempt: int) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (1-based). Pure."""
    return BACKOFF_S[min(max(attempt, 1), len(BACKOFF_S)) - 1]


# --------------------------------------------------------------------------- errors


def translate_error(exc: BaseException, device: str = "") -> PsoasError:
    """A bleak / OS error as one plain line the user can act on."""
    who = f" {device}" if device else ""
    text = str(exc)
    low = text.lower()
    if isinstance(exc, PsoasError):
        return exc
    if isinstance(exc, BleakBluetoothNotAvailableError):
        reason = exc.reason
        if reason == BleakBluetoothNotAvailableReason.NO_BLUETOOTH:
            return PsoasError("no Bluetooth adapter found: plug one in or enable it, then retry")
        if reason == BleakBluetoothNotAvailableReason.POWERED_OFF:
            return PsoasError("Bluetooth is off: turn it on (e.g. `bluetoothctl power on`) and retry")
        if reason in (
            BleakBluetoothNotAvailableReason.DENIED_BY_USER,
            BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM,
            BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN,
        ):
            return PsoasError(
                "no permission to use Bluetooth: allow this terminal to use Bluetooth "
                "(macOS: System Settings > Privacy > Bluetooth; Linux: be in the 'bluetooth' group)"
            )
        return PsoasError(f"Bluetooth is not available: {text}")
    if isinstance(exc, PermissionError) or "notpermitted" in low.replace(".", "") or "accessdenied" in low or "not authorized" in low:
        return PsoasError("no permission to use Bluetooth: check your user's Bluetooth rights and retry")
    if isinstance(exc, FileNotFoundError) or "no bluetooth adapters" in low or "adapter" in low and "not found" in low:
        return PsoasError("no Bluetooth adapter found: plug one in or enable it, then retry")
    if "notready" in low.replace(".", "") or "powered off" in low or "not powered" in low:
        return PsoasError("Bluetooth is off: turn it on (e.g. `bluetoothctl power on`) and retry")
    if isinstance(exc, BleakDeviceNotFoundError) or "not found" in low or type(exc).__name__ == "BleakNotFoundError":
        return PsoasError(
            f"strap{who} not found: wear it (it sleeps off the skin), wet the electrodes, "
            "and check `psoas-sense scan`"
        )
    if "inprogress" in low.replace(".", "") or "busy" in low or "already connected" in low or "out of connection slots" in low:
        return PsoasError(
            f"strap{who} is busy: disconnect it from phone apps and other programs "
            "(or take it off for a minute to reset it) and retry"
        )
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return PsoasError(f"strap{who} did not answer in time: move closer, wear it, and retry")
    return PsoasError(f"Bluetooth error with strap{who}: {text or type(exc).__name__}")


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True)
class FoundDevice:
    """One strap seen by a scan."""

    name: str
    address: str
    rssi: int | None
    streams: tuple[str, ...]
    """What it can stream: ``hr``, ``rr`` (Heart Rate Service), ``acc`` (PMD)."""
    device: BLEDevice


def _streams_of(service_uuids: list[str]) -> tuple[str, ...]:
    uuids = {u.lower() for u in service_uuids}
    out: list[str] = []
    if hrs.HEART_RATE_SERVICE_UUID in uuids:
        out += ["hr", "rr"]
    if pmd.PMD_SERVICE_UUID in uuids:
        out.append("acc")
    return tuple(out)


async def scan(
    timeout_s: float = 5.0,
    *,
    scanner_backend: type | None = None,
    scanner_kwargs: dict[str, Any] | None = None,
) -> list[FoundDevice]:
    """Straps advertising the Heart Rate Service or PMD, strongest first."""
    kwargs: dict[str, Any] = dict(scanner_kwargs or {})
    if scanner_backend is not None:
        kwargs["backend"] = scanner_backend
    try:
        found = await BleakScanner.discover(timeout=timeout_s, return_adv=True, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a user message
        raise translate_error(exc) from exc
    out: list[FoundDevice] = []
    for device, adv in found.values():
        names = adv.local_name or device.name or ""
        streams = _streams_of(list(adv.service_uuids))
        if not streams and "polar" not in names.lower():
            continue
        out.append(FoundDevice(names, device.address, adv.rssi, streams, device))
    out.sort(key=lambda d: -(d.rssi if d.rssi is not None else -999))
    return out


async def resolve_device(
    spec: str,
    *,
    timeout_s: float = SCAN_TIMEOUT_S,
    scanner_backend: type | None = None,
    scanner_kwargs: dict[str, Any] | None = None,
) -> BLEDevice:
    """Find a strap by address (``AA:BB:...`` or a macOS UUID) or by (part of) its name.

    Returns as soon as a matching strap advertises; :class:`PsoasError` after ``timeout_s``.
    """
    want = spec.strip().lower()

    def match(device: BLEDevice, adv: Any) -> bool:
        if device.address.lower() == want:
            return True
        name = (adv.local_name or device.name or "").lower()
        return bool(want) and want in name

    kwargs: dict[str, Any] = dict(scanner_kwargs or {})
    if scanner_backend is not None:
        kwargs["backend"] = scanner_backend
    try:
        device = await BleakScanner.find_device_by_filter(match, timeout=timeout_s, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a user message
        raise translate_error(exc, spec) from exc
    if device is None:
        raise PsoasError(
            f"strap {spec!r} not found within {timeout_s:g} s: wear it (it sleeps off the skin), "
            "wet the electrodes, keep it close, and check `psoas-sense scan`"
        )
    return device


# --------------------------------------------------------------------------- the source


class _End:
    pass


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
        self._queue: asyncio.Queue[Item | _End | BaseException] = asyncio.Queue()
        self._client: BleakClient | None = None
        self._ble_device: BLEDevice | None = None
        self._task: asyncio.Task[None] | None = None
        self._cp_queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._cp_lock = asyncio.Lock()
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
            self._cp_queue.put_nowait(bytes(data))

    def _on_disconnect(self, client: BleakClient) -> None:
        if client is self._client:
            self._link_down.set()

    # ------------------------------------------------------------ connect

    async def _connect_once(self) -> BleakClient:
        assert self._ble_device is not None
        kwargs: dict[str, Any] = {}
        if self._client_backend is not None:
            kwargs["backend"] = self._client_backend
        self._link_down = asyncio.Event()
        if self._retry_connector:
            from bleak_retry_connector import close_stale_connections, establish_connection

            if not self._stale_checked:
                # BlueZ: a link left by a crashed earlier run makes the next connect hang
                self._stale_checked = True
                with contextlib.suppress(Exception):
                    await self.clock.wait_for(close_stale_connections(self._ble_device), SHUTDOWN_TIMEOUT_S)

            client = await establish_connection(
                BleakClient,
                self._ble_device,
                self._ble_device.name or self._ble_device.address,
                disconnected_callback=self._on_disconnect,
                max_attempts=2,
                **kwargs,
            )
        else:  # pragma: no cover - plain bleak, for platforms where the connector misbehaves
            client = BleakClient(self._ble_device, disconnected_callback=self._on_disconnect, **kwargs)
            await client.connect()
        self._client = client
        return client

    async def _acquire_mtu(self, client: BleakClient) -> None:
        """Ask for a large MTU where the platform allows it (BlueZ needs an explicit acquire)."""
        backend: Any = getattr(client, "_backend", None)
        acquire = getattr(backend, "_acquire_mtu", None)
        if acquire is not None:
            with contextlib.suppress(Exception):
                await acquire()
        with contextlib.suppress(Exception):
            self.info["mtu"] = client.mtu_size

    async def _read_info(self, client: BleakClient) -> None:
        for uuid, key in (
            ("00002a29-0000-1000-8000-00805f9b34fb", "manufacturer"),
            ("00002a24-0000-1000-8000-00805f9b34fb", "model"),
            ("00002a26-0000-1000-8000-00805f9b34fb", "firmware"),
        ):
            if client.services.get_characteristic(uuid) is not None:
                with contextlib.suppress(Exception):
                    self.info[key] = bytes(await client.read_gatt_char(uuid)).decode("utf-8", "replace").strip("\x00 ")
        if client.services.get_characteristic(hrs.BATTERY_LEVEL_UUID) is not None:
            with contextlib.suppress(Exception):
                self.info["battery_pct"] = hrs.decode_battery_level(bytes(await client.read_gatt_char(hrs.BATTERY_LEVEL_UUID)))
        if client.services.get_characteristic(hrs.BODY_SENSOR_LOCATION_UUID) is not None:
            with contextlib.suppress(Exception):
                self.info["location"] = hrs.decode_body_sensor_location(
                    bytes(await client.read_gatt_char(hrs.BODY_SENSOR_LOCATION_UUID))
                )

    # ------------------------------------------------------------ PMD

    async def _cp(self, client: BleakClient, request: bytes) -> pmd.CpResponse:
        """Write one CP request and wait for its response (one at a time)."""
        async with self._cp_lock:
            while not self._cp_queue.empty():
                self._cp_queue.get_nowait()
            await client.write_gatt_char(pmd.PMD_CONTROL_POINT_UUID, request, response=True)

            async def answer() -> pmd.CpResponse:
                while True:
                    data = await self._cp_queue.get()
                    try:
                        msg = pmd.parse_cp_message(data)
                    except DecodeError:
                        continue
                    # ignore the BlueZ echo of a feature read and device-side stop notices
                    if isinstance(msg, pmd.CpResponse) and msg.op_code == request[0] and msg.measurement_type == (request[1] & 0x3F):
                        return msg

            return await self.clock.wait_for(answer(), CP_TIMEOUT_S)

    @staticmethod
    def choose_acc_settings(offered: dict[str, tuple[float, ...]], rate_hz: int, range_g: int) -> dict[str, int]:
        """One value per offered setting: the highest rate <= ``rate_hz``, the range nearest
        ``range_g``, the highest resolution. Pure."""
        chosen: dict[str, int] = {}
        rates = sorted(int(r) for r in offered.get("sample_rate", ()) or (rate_hz,))
        ok = [r for r in rates if r <= rate_hz]
        chosen["sample_rate"] = ok[-1] if ok else rates[0]
        if offered.get("resolution"):
            chosen["resolution"] = int(max(offered["resolution"]))
        if offered.get("range"):
            chosen["range"] = int(min(offered["range"], key=lambda g: (abs(g - range_g), -g)))
        if offered.get("channels"):
            chosen["channels"] = int(max(offered["channels"]))
        return chosen

    async def _start_acc(self, client: BleakClient, why: str = "") -> None:
        features = pmd.parse_features(bytes(await client.read_gatt_char(pmd.PMD_CONTROL_POINT_UUID)))
        if "acc" not in features.measurements:
            self._status("streaming", "this strap's PMD offers no accelerometer; breathing from RR")
            return
        resp = await self._cp(client, pmd.get_settings_request(pmd.ACC))
        if not resp.ok:
            raise PsoasError(f"the strap refused the accelerometer settings query ({resp.status_name})")
        chosen = self.choose_acc_settings(resp.settings, self.acc_rate_hz, self.acc_range_g)
        request = pmd.start_request(pmd.ACC, chosen)
        resp = await self._cp(client, request)
        if resp.status == pmd.ERROR_ALREADY_IN_STATE:
            # left running by an earlier session or a dropped link: stop, then start again
            await self._cp(client, pmd.stop_request(pmd.ACC))
            resp = await self._cp(client, request)
        if not resp.ok:
            raise PsoasError(f"the strap refused to start the accelerometer ({resp.status_name})")
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

    def _make_header(self) -> Header:
        dev = self._ble_device
        streams: dict[str, dict[str, Any]] = {"rr": {"unit": "ms"}, "hr": {"unit": "bpm"}}
        if self._has_pmd and self.acc_rate_hz > 0:
            ok = [r for r in ACC_RATES_PREFERRED if r <= self.acc_rate_hz]
            streams = {"acc": {"unit": "mG", "rate_hz": float(ok[0] if ok else 25)}, **streams}
        device = {
            "name": (dev.name if dev else "") or "",
            "address": dev.address if dev else "",
            "source": self._source_kind,
            **{k: v for k, v in self.info.items() if k in ("model", "manufacturer", "firmware", "battery_pct", "location", "mtu")},
        }
        return Header(
            streams=streams,
            device=device,
            recorded_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        )

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
            await self._read_info(client)
            await self._acquire_mtu(client)
            self._has_pmd = client.services.get_service(pmd.PMD_SERVICE_UUID) is not None
            self.header = self._make_header()
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
            if self._acc_started and self.state == "streaming" and self._last_acc_s is not None and now - self._last_acc_s > STALL_S:
                if not stall_reported:
                    stall_reported = True
                    why = f"accelerometer silent for {now - self._last_acc_s:.0f} s, restarted"
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
            try:
                client = await self._connect_once()
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
        with contextlib.suppress(Exception):
            await self.clock.wait_for(client.disconnect(), SHUTDOWN_TIMEOUT_S)

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
