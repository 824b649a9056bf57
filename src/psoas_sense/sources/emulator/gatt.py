"""The emulated devices' GATT tables and advertisements, as bleak objects.

A standard strap offers the Heart Rate, Battery and Device Information services; an H10 adds
the PMD service (control point: read, write, indicate; data: notify). A Go Direct Respiration
Belt offers Device Information, Battery and the Go Direct service (command: write without
response; response: notify), as the GATT dump of a real GDX-RB lists them. The handles are laid
out as a real device's would be: a service, then per characteristic its declaration, value and
CCCD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.scanner import AdvertisementData
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection

from psoas_sense.decode import gdx, hrs, pmd

DIS = {
    "00002a29-0000-1000-8000-00805f9b34fb": "manufacturer",
    "00002a24-0000-1000-8000-00805f9b34fb": "model",
    "00002a26-0000-1000-8000-00805f9b34fb": "firmware",
    "00002a27-0000-1000-8000-00805f9b34fb": "hardware",
    "00002a28-0000-1000-8000-00805f9b34fb": "software",
}
"""Device Information characteristics -> the field of the strap's info they hold."""
DIS_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
CCCD_UUID = "00002902-0000-1000-8000-00805f9b34fb"

EMULATED_MTU = 232
"""ATT MTU the emulated link reports (Polar's recommended minimum for PMD)."""
ATT_HEADER_BYTES = 3
"""ATT notification header: the largest value is the MTU minus this."""
POLAR_COMPANY_ID = 0x006B
"""Bluetooth SIG company identifier of Polar Electro, in an H10's manufacturer data."""


@dataclass
class GattChar:
    """One characteristic of the table."""

    uuid: str
    """128-bit UUID."""
    properties: list[str]
    """bleak property names (``read``, ``write``, ``notify``, ``indicate``)."""
    handle: int
    """Value handle (the declaration is one below, the CCCD one above)."""
    service_uuid: str
    """The service it belongs to."""


GDX_DIS = {
    "00002a29-0000-1000-8000-00805f9b34fb": "manufacturer",
    "00002a25-0000-1000-8000-00805f9b34fb": "serial",
    "00002a26-0000-1000-8000-00805f9b34fb": "firmware",
    "00002a28-0000-1000-8000-00805f9b34fb": "software",
}
"""Device Information characteristics of a GDX-RB (from a real one's GATT dump) -> its info field."""


class _Table:
    """Builds a table: a service handle, then three handles per characteristic."""

    def __init__(self) -> None:
        self.chars: list[GattChar] = []
        self.handle = 1

    def add(self, service: str, uuids: list[tuple[str, list[str]]]) -> None:
        self.handle += 1
        for uuid, props in uuids:
            self.chars.append(GattChar(uuid, props, self.handle + 1, service))
            self.handle += 3


def gatt_table(is_h10: bool) -> list[GattChar]:
    """The characteristics of a standard strap, or of an H10 (with PMD)."""
    table = _Table()
    add = table.add

    add(
        hrs.HEART_RATE_SERVICE_UUID,
        [(hrs.HEART_RATE_MEASUREMENT_UUID, ["notify"]), (hrs.BODY_SENSOR_LOCATION_UUID, ["read"])],
    )
    add(hrs.BATTERY_SERVICE_UUID, [(hrs.BATTERY_LEVEL_UUID, ["read", "notify"])])
    add(DIS_SERVICE_UUID, [(u, ["read"]) for u in DIS])
    if is_h10:
        add(
            pmd.PMD_SERVICE_UUID,
            [(pmd.PMD_CONTROL_POINT_UUID, ["read", "write", "indicate"]), (pmd.PMD_DATA_UUID, ["notify"])],
        )
    return table.chars


def gdx_gatt_table() -> list[GattChar]:
    """The characteristics of a Go Direct Respiration Belt."""
    table = _Table()
    table.add(DIS_SERVICE_UUID, [(u, ["read"]) for u in GDX_DIS])
    table.add(hrs.BATTERY_SERVICE_UUID, [(hrs.BATTERY_LEVEL_UUID, ["read", "notify"])])
    table.add(
        gdx.SERVICE_UUID,
        [(gdx.COMMAND_UUID, ["write-without-response"]), (gdx.RESPONSE_UUID, ["notify"])],
    )
    return table.chars


def service_collection(chars: list[GattChar], obj: Any, mtu: int = EMULATED_MTU) -> BleakGATTServiceCollection:
    """The table as bleak's service collection (``obj`` is each entry's platform object)."""
    coll = BleakGATTServiceCollection()
    services: dict[str, BleakGATTService] = {}
    for c in chars:
        svc = services.get(c.service_uuid)
        if svc is None:
            svc = services[c.service_uuid] = BleakGATTService(obj, c.handle - 1, c.service_uuid)
            coll.add_service(svc)
        ch = BleakGATTCharacteristic(
            obj, c.handle, c.uuid, list(c.properties), lambda: mtu - ATT_HEADER_BYTES, svc  # type: ignore[arg-type]
        )
        coll.add_characteristic(ch)
        if "notify" in c.properties or "indicate" in c.properties:
            coll.add_descriptor(BleakGATTDescriptor(obj, c.handle + 1, CCCD_UUID, ch))
    return coll


def advertised_services(is_h10: bool) -> list[str]:
    """Service UUIDs in the advertisement."""
    out = [hrs.HEART_RATE_SERVICE_UUID]
    if is_h10:
        out.append(pmd.PMD_SERVICE_UUID)
    return out


def gdx_advertisement(name: str, rssi: int) -> AdvertisementData:
    """What the emulated belt advertises: its name only (no public source shows the Go Direct
    service in a real belt's advertisement, and every host finds it by name)."""
    return AdvertisementData(
        local_name=name, manufacturer_data={}, service_data={}, service_uuids=[], tx_power=None, rssi=rssi,
        platform_data=(),
    )


def advertisement(name: str, is_h10: bool, rssi: int) -> AdvertisementData:
    """What the strap advertises (an H10 adds Polar's manufacturer data)."""
    return AdvertisementData(
        local_name=name,
        manufacturer_data={POLAR_COMPANY_ID: b"\x00"} if is_h10 else {},
        service_data={},
        service_uuids=advertised_services(is_h10),
        tx_power=None,
        rssi=rssi,
        platform_data=(),
    )
