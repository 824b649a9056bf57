"""bleak backends for the emulated strap: a client, a scanner, and the registry they share.

:class:`EmulatedBleakClient` is a bleak 3.x client backend (``BleakClient(device,
backend=EmulatedBleakClient)``): the real client code in :mod:`psoas_sense.sources.ble` runs
unchanged against it. :class:`EmulatedBleakScanner` is the matching scanner backend, reporting
the straps put in the registry with :func:`register`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementDataCallback, BaseBleakScanner
from bleak.exc import BleakError

from psoas_sense.sources.emulator.gatt import EMULATED_MTU
from psoas_sense.sources.emulator.strap import EmulatedStrap

# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, EmulatedStrap] = {}
"""Emulated straps by address and by name, for address-string connects and the scanner."""


def register(strap: EmulatedStrap) -> None:
    _REGISTRY[strap.address.upper()] = strap
    _REGISTRY[strap.name.upper()] = strap


def unregister(strap: EmulatedStrap) -> None:
    for key in [k for k, v in _REGISTRY.items() if v is strap]:
        del _REGISTRY[key]


def registered() -> list[EmulatedStrap]:
    seen: list[EmulatedStrap] = []
    for v in _REGISTRY.values():
        if v not in seen:
            seen.append(v)
    return seen


# --------------------------------------------------------------------------- bleak backends


class EmulatedBleakClient(BaseBleakClient):
    """bleak client backend talking to an :class:`EmulatedStrap` (``BleakClient(..., backend=)``).

    The strap comes from ``BLEDevice.details`` (as the emulated scanner reports it) or from the
    registry by address.
    """

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        kwargs.setdefault("disconnected_callback", None)
        kwargs.setdefault("timeout", 10.0)
        for key in ("services", "bluez", "winrt", "pair", "_is_retry_client", "cb"):
            kwargs.pop(key, None)
        super().__init__(address_or_ble_device, **kwargs)
        strap: Any = None
        if isinstance(address_or_ble_device, BLEDevice):
            strap = address_or_ble_device.details
        if not isinstance(strap, EmulatedStrap):
            strap = _REGISTRY.get(str(self.address).upper())
        if strap is None:
            raise BleakError(f"no emulated strap with address {self.address}")
        self._strap: EmulatedStrap = strap
        self._connected = False

    @property
    def name(self) -> str:
        return self._strap.name

    @property
    def mtu_size(self) -> int:
        return EMULATED_MTU

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        timeout = float(kwargs.get("timeout", self._timeout))
        await self._strap.attach(self, timeout)
        self.services = self._strap.service_collection(self._strap)
        self._connected = True

    async def disconnect(self) -> None:
        if self._connected:
            self._connected = False
            self._strap.detach(self)
        await asyncio.sleep(0)

    def _link_lost(self) -> None:
        self._connected = False
        if self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    def _check(self) -> None:
        if not self._connected:
            raise BleakError("Not connected")

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        self._check()
        await asyncio.sleep(0)
        return bytearray(self._strap.read(characteristic.uuid))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, **kwargs: Any) -> bytearray:
        raise BleakError("descriptor reads are not emulated")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        self._check()
        await asyncio.sleep(0)
        self._strap.write(characteristic.uuid, bytes(data))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        raise BleakError("descriptor writes are not emulated")

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        self._check()
        if not ({"notify", "indicate"} & set(characteristic.properties)):
            raise BleakError(f"characteristic {characteristic.uuid} does not notify")
        self._strap.subscribe(characteristic.uuid, callback)
        await asyncio.sleep(0)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._check()
        self._strap.unsubscribe(characteristic.uuid)


class EmulatedBleakScanner(BaseBleakScanner):
    """bleak scanner backend reporting the registered emulated straps (``devices=`` overrides)."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Any = "active",
        *,
        devices: list[EmulatedStrap] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._devices = devices
        self._handles: list[asyncio.Handle] = []

    async def start(self) -> None:
        self.seen_devices = {}
        loop = asyncio.get_running_loop()
        for strap in self._devices if self._devices is not None else registered():
            # report after start() returns: find_device_* register their callback afterwards
            self._handles.append(loop.call_soon(self._report, strap))

    def _report(self, strap: EmulatedStrap) -> None:
        adv = strap.advertisement
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(strap.address, strap.address, strap.name, strap, adv)
        self.call_detection_callbacks(device, adv)

    async def stop(self) -> None:
        for h in self._handles:
            h.cancel()
        self._handles.clear()
