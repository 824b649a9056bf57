"""The Bluetooth SIG Heart Rate Service profile: any standard heart-rate strap (HR and RR)."""

from __future__ import annotations

from typing import Any

from bleak import BleakClient
from bleak.backends.service import BleakGATTServiceCollection

from psoas_sense.decode import hrs
from psoas_sense.sources.ble.profiles.base import DeviceProfile, ProfileHost
from psoas_sense.vocab import LinkState

BLUEZ_NOTIFY: Any = {"use_start_notify": True}
"""BlueZ: StartNotify rather than AcquireNotify (bleak 2.0-3.0.x defaulted to AcquireNotify, which
broke some devices; 3.1 went back to StartNotify). Explicit, so the pinned bleak does not matter."""


class HrsProfile(DeviceProfile):
    """Heart Rate Measurement notifications; the decoder gives HR and RR."""

    name = "hrs"
    setup_rank = 1
    notify_uuids = (hrs.HEART_RATE_MEASUREMENT_UUID,)
    scan_streams = ("hr", "rr")
    emulators = {
        "h10": "psoas_sense.sources.emulator.strap:EmulatedStrap",
        "hrs": "psoas_sense.sources.emulator.strap:EmulatedStrap",
    }

    def advertised(self, service_uuids: set[str], name: str) -> bool:
        return hrs.HEART_RATE_SERVICE_UUID in service_uuids

    def present(self, services: BleakGATTServiceCollection) -> bool:
        return services.get_characteristic(hrs.HEART_RATE_MEASUREMENT_UUID) is not None

    def header_streams(self, host: ProfileHost) -> dict[str, dict[str, Any]]:
        return {"rr": {"unit": "ms"}, "hr": {"unit": "bpm"}}

    async def subscribe(self, host: ProfileHost, client: BleakClient) -> None:
        await client.start_notify(hrs.HEART_RATE_MEASUREMENT_UUID, host.notify_callback, bluez=BLUEZ_NOTIFY)

    async def start(self, host: ProfileHost, client: BleakClient, reported: bool) -> bool:
        if not reported:
            host.status(LinkState.STREAMING, "heart rate and RR")
        return True
