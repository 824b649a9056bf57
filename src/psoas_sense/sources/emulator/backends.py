"""bleak backends for the emulated devices: a client, a scanner, and the registry they share.

:class:`EmulatedBleakClient` is a bleak 3.x client backend (``BleakClient(device,
backend=EmulatedBleakClient)``): the real client code in :mod:`psoas_sense.sources.ble` runs
unchanged against it. :class:`EmulatedBleakScanner` is the matching scanner backend, reporting
the devices put in the registry with :func:`register`. Any :class:`EmulatedDevice` plugs in:
the straps (:class:`~psoas_sense.sources.emulator.strap.EmulatedStrap`) and the breathing belt
(:class:`~psoas_sense.sources.emulator.gdx.EmulatedGdxRb`).
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTServiceCollection
from bleak.exc import BleakError

from psoas_sense.sources.emulator.gatt import EMULATED_MTU
from psoas_sense.sources.emulator.link import StrapLink


class EmulatedDevice(Protocol):
    """What the backends need of an emulated device (its link half is a :class:`StrapLink`)."""

    name: str
    address: str
    ble_device: BLEDevice

    @property
    def advertisement(self) -> AdvertisementData: ...

    def service_collection(self, obj: Any) -> BleakGATTServiceCollection: ...

    async def attach(self, client: Any, timeout: float) -> None: ...

    def detach(self, client: Any) -> None: ...

    def read(self, uuid: str) -> bytes: ...

    def write(self, uuid: str, data: bytes) -> None: ...

    def subscribe(self, uuid: str, callback: NotifyCallback) -> None: ...

    def unsubscribe(self, uuid: str) -> None: ...

    async def shutdown(self) -> None: ...


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, EmulatedDevice] = {}
"""Emulated devices by address and by name, for address-string connects and the scanner."""


def register(strap: EmulatedDevice) -> None:
    _REGISTRY[strap.address.upper()] = strap
    _REGISTRY[strap.name.upper()] = strap


def unregister(strap: EmulatedDevice) -> None:
    for key in [k for k, v in _REGISTRY.items() if v is strap]:
        del _REGISTRY[key]


def registered() -> list[EmulatedDevice]:
    seen: list[EmulatedDevice] = []
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
        if not isinstance(strap, StrapLink):
            strap = _REGISTRY.get(str(self.address).upper())
        if strap is None:
            raise BleakError(f"no emulated strap with address {self.address}")
        self._strap: EmulatedDevice = strap
        self._connected = False

    @property
    def name(self) -> str:
        return self._strap.name

    @property
    def mtu_size(self) -> int:
        return int(getattr(self._strap, "mtu", EMULATED_MTU))

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
        if response and "write" not in characteristic.properties:
            raise BleakError(f"characteristic {characteristic.uuid} takes writes without response only")
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
    """bleak scanner backend reporting the registered emulated devices (``devices=`` overrides)."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Any = "active",
        *,
        devices: list[EmulatedDevice] | None = None,
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

    def _report(self, strap: EmulatedDevice) -> None:
        adv = strap.advertisement
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(strap.address, strap.address, strap.name, strap, adv)
        self.call_detection_callbacks(device, adv)

    async def stop(self) -> None:
        for h in self._handles:
            h.cancel()
        self._handles.clear()
