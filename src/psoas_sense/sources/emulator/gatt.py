"""The emulated strap's GATT table and advertisement, as bleak objects.

A standard strap offers the Heart Rate, Battery and Device Information services; an H10 adds
the PMD service (control point: read, write, indicate; data: notify). The handles are laid out
as a real device's would be: a service, then per characteristic its declaration, value and CCCD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.scanner import AdvertisementData
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection

from psoas_sense.decode import hrs, pmd

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


def gatt_table(is_h10: bool) -> list[GattChar]:
    """The characteristics of a standard strap, or of an H10 (with PMD)."""
    chars: list[GattChar] = []
    handle = 1

    def add(service: str, uuids: list[tuple[str, list[str]]]) -> None:
        nonlocal handle
        handle += 1
        for uuid, props in uuids:
            chars.append(GattChar(uuid, props, handle + 1, service))
            handle += 3

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
    return chars


def service_collection(chars: list[GattChar], obj: Any) -> BleakGATTServiceCollection:
    """The table as bleak's service collection (``obj`` is each entry's platform object)."""
    coll = BleakGATTServiceCollection()
    services: dict[str, BleakGATTService] = {}
    for c in chars:
        svc = services.get(c.service_uuid)
        if svc is None:
            svc = services[c.service_uuid] = BleakGATTService(obj, c.handle - 1, c.service_uuid)
            coll.add_service(svc)
        ch = BleakGATTCharacteristic(
            obj, c.handle, c.uuid, list(c.properties), lambda: EMULATED_MTU - ATT_HEADER_BYTES, svc  # type: ignore[arg-type]
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
