"""The Polar PMD profile: a Polar strap's accelerometer (an H10), beside its Heart Rate Service.

Notifications on the control point (indications) and on data go on *before* any control-point
write (Polar spec); the accelerometer starts at the highest offered rate up to the host's
``acc_rate_hz`` with every offered setting. While it has not sent its first frame (an H10 often
needs 25-30 s) the source reports ``waiting_for_acc``; RR from the Heart Rate Service carries the
session meanwhile. A stream silent for :data:`STALL_S` while the link is up is restarted.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from bleak import BleakClient
from bleak.backends.service import BleakGATTServiceCollection
from bleak.exc import BleakError

from psoas_sense.decode import hrs, pmd
from psoas_sense.errors import PsoasError
from psoas_sense.model import Item, Notification, Status
from psoas_sense.sources.ble.connection import acquire_mtu
from psoas_sense.sources.ble.control_point import ControlPoint
from psoas_sense.sources.ble.profiles.base import DeviceProfile, ProfileHost
from psoas_sense.sources.ble.profiles.hrs import BLUEZ_NOTIFY
from psoas_sense.vocab import LinkState

log = logging.getLogger(__name__)

STALL_S = 8.0
"""An ACC stream silent this long (while HR still arrives) is restarted."""
ACC_RATES_PREFERRED = (200, 100, 50, 25)
"""ACC rates a Polar strap offers, best first (for the header before the strap is asked)."""
UNLISTED_BRAND = "polar"
"""A device of this brand is listed by a scan even when it advertises neither service."""


class PmdProfile(DeviceProfile):
    """The PMD accelerometer of a Polar strap (used together with its Heart Rate Service)."""

    name = "pmd"
    setup_rank = 0
    notify_uuids = (pmd.PMD_CONTROL_POINT_UUID, pmd.PMD_DATA_UUID)
    scan_streams = ("acc",)
    emulators = {"h10": "psoas_sense.sources.emulator.strap:EmulatedStrap"}

    def __init__(self) -> None:
        self.control_point = ControlPoint()
        self.acc_started = False
        self.acc_settings: dict[str, int] = {}
        self.last_acc_s: float | None = None
        self._stall_reported = False

    def advertised(self, service_uuids: set[str], name: str) -> bool:
        return pmd.PMD_SERVICE_UUID in service_uuids

    def listed_anyway(self, name: str) -> bool:
        return UNLISTED_BRAND in name.lower()

    def present(self, services: BleakGATTServiceCollection) -> bool:
        # PMD rides with the Heart Rate Service (a Polar strap has both)
        return (
            services.get_service(pmd.PMD_SERVICE_UUID) is not None
            and services.get_characteristic(hrs.HEART_RATE_MEASUREMENT_UUID) is not None
        )

    def header_streams(self, host: ProfileHost) -> dict[str, dict[str, Any]]:
        if host.acc_rate_hz <= 0:
            return {}
        ok = [r for r in ACC_RATES_PREFERRED if r <= host.acc_rate_hz]
        return {"acc": {"unit": "mG", "rate_hz": float(ok[0] if ok else 25)}}

    def reset(self) -> None:
        self.acc_started = False
        self._stall_reported = False

    def on_notify(self, uuid: str, data: bytes, t_s: float) -> None:
        if uuid == pmd.PMD_DATA_UUID:
            self.last_acc_s = t_s
        elif uuid == pmd.PMD_CONTROL_POINT_UUID:
            self.control_point.feed(data)

    async def subscribe(self, host: ProfileHost, client: BleakClient) -> None:
        mtu = await acquire_mtu(client)
        if mtu is not None:
            host.info["mtu"] = mtu
        # indications on the CP and notifications on data BEFORE any CP write (Polar spec)
        await client.start_notify(pmd.PMD_CONTROL_POINT_UUID, host.notify_callback, bluez=BLUEZ_NOTIFY)
        await client.start_notify(pmd.PMD_DATA_UUID, host.notify_callback, bluez=BLUEZ_NOTIFY)

    async def start(self, host: ProfileHost, client: BleakClient, reported: bool) -> bool:
        if host.acc_rate_hz <= 0:
            return reported
        await self.start_acc(host, client)
        return True

    async def start_acc(self, host: ProfileHost, client: BleakClient, why: str = "") -> None:
        chosen = await self.control_point.start_acc(client, host.clock, host.acc_rate_hz, host.acc_range_g)
        if chosen is None:
            host.status(LinkState.STREAMING, "this strap's PMD offers no accelerometer; breathing from RR")
            return
        self.acc_settings = chosen
        self.acc_started = True
        self.last_acc_s = None
        host.status(
            LinkState.WAITING_FOR_ACC,
            (why + "; " if why else "") + f"accelerometer {chosen['sample_rate']} Hz starting; an H10 may take 30 s",
        )

    async def stop(self, host: ProfileHost, client: BleakClient) -> None:
        if not self.acc_started:
            return
        self.acc_started = False
        with contextlib.suppress(Exception):
            await self.control_point.request(client, pmd.stop_request(pmd.ACC), host.clock)

    async def watch(self, host: ProfileHost, client: BleakClient | None, now_s: float) -> str | None:
        acc_silent_s = now_s - self.last_acc_s if self.last_acc_s is not None else 0.0
        if self.acc_started and host.state == LinkState.STREAMING and acc_silent_s > STALL_S:
            if not self._stall_reported:
                self._stall_reported = True
                why = f"accelerometer silent for {acc_silent_s:.0f} s, restarted"
                if client is not None and client.is_connected:
                    try:
                        await self.stop(host, client)
                        await self.start_acc(host, client, why)
                    except (PsoasError, BleakError, TimeoutError) as exc:
                        log.warning("restarting the accelerometer failed: %s", exc)
                    self.last_acc_s = host.clock.now()
        elif self._stall_reported and host.state == LinkState.STREAMING:
            self._stall_reported = False
        return None

    def item_status(self, host: ProfileHost, item: Item) -> Status | None:
        if (
            isinstance(item, Notification)
            and item.char_uuid == pmd.PMD_DATA_UUID
            and self.acc_started
            and host.state == LinkState.WAITING_FOR_ACC
        ):
            host.state = LinkState.STREAMING
            return Status(item.t_s, LinkState.STREAMING, "accelerometer flowing")
        return None
