"""The registry of BLE device kinds: every profile psoas-sense knows, in listing order.

:data:`PROFILES` is what ``scan``, discovery, :class:`~psoas_sense.sources.ble.source.BleSource`
and the emulated devices loop over; ``firmware_notes/adding-a-device.md`` says how to add one.
"""

from __future__ import annotations

from psoas_sense.sources.ble.profiles.base import DeviceProfile, ProfileHost
from psoas_sense.sources.ble.profiles.gdx import GdxProfile
from psoas_sense.sources.ble.profiles.hrs import BLUEZ_NOTIFY, HrsProfile
from psoas_sense.sources.ble.profiles.pmd import ACC_RATES_PREFERRED, STALL_S, PmdProfile

PROFILES: tuple[type[DeviceProfile], ...] = (HrsProfile, PmdProfile, GdxProfile)
"""Every device kind, in the order a scan lists what a device streams."""


def emulator_path(kind: str) -> str | None:
    """``"module:Class"`` of the emulated device for ``emulated:KIND``, or None when none plays it."""
    for cls in PROFILES:
        path = cls.emulators.get(kind)
        if path is not None:
            return path
    return None


def emulated_kinds() -> tuple[str, ...]:
    """Every ``emulated:KIND`` some profile offers, in registry order."""
    out: list[str] = []
    for cls in PROFILES:
        out.extend(k for k in cls.emulators if k not in out)
    return tuple(out)


__all__ = [
    "ACC_RATES_PREFERRED",
    "BLUEZ_NOTIFY",
    "PROFILES",
    "STALL_S",
    "DeviceProfile",
    "GdxProfile",
    "HrsProfile",
    "PmdProfile",
    "ProfileHost",
    "emulated_kinds",
    "emulator_path",
]
