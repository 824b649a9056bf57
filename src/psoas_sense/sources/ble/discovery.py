"""Finding devices and describing them: a scan for every kind of device a profile knows (heart-rate
straps, Polar PMD, Vernier's breathing belt), resolving a ``--device`` spec, and the recording
header of a connected device."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bleak import BleakScanner
from bleak.backends.device import BLEDevice

from psoas_sense.recording.format import Header
from psoas_sense.sources.ble.errors import StrapNotFoundError, translate_error
from psoas_sense.sources.ble.profiles import ACC_RATES_PREFERRED, PROFILES, DeviceProfile, ProfileHost

SCAN_TIMEOUT_S = 10.0
"""How long :func:`resolve_device` scans for the strap."""
HEADER_DEVICE_KEYS = ("model", "manufacturer", "firmware", "battery_pct", "location", "mtu", "serial")
"""Device info that goes into the recording header."""
_SCAN_PROFILES: tuple[DeviceProfile, ...] = tuple(cls() for cls in PROFILES)
"""One of each profile, for reading advertisements."""
__all__ = ["ACC_RATES_PREFERRED", "SCAN_TIMEOUT_S", "FoundDevice", "device_header", "resolve_device", "scan"]


@dataclass(frozen=True)
class FoundDevice:
    """One strap seen by a scan."""

    name: str
    """Advertised name (or the name the system knows)."""
    address: str
    """Address (a UUID on macOS)."""
    rssi: int | None
    """Signal strength, dBm, when known."""
    streams: tuple[str, ...]
    """What it can stream: ``hr``, ``rr`` (Heart Rate Service), ``acc`` (PMD), ``force`` and
    ``device_rate`` (a Go Direct Respiration Belt)."""
    device: BLEDevice
    """bleak's device object, to connect without scanning again."""
    channels: tuple[dict[str, Any], ...] = ()
    """A device with numbered channels (a Go Direct belt): ``{"channel", "name", "unit"}`` each."""


def read_advertisement(service_uuids: list[str], name: str) -> tuple[tuple[str, ...], tuple[dict[str, Any], ...], bool]:
    """What the profiles read in an advertisement: streams, channels, and whether to list it."""
    uuids = {u.lower() for u in service_uuids}
    streams: list[str] = []
    channels: list[dict[str, Any]] = []
    listed = False
    for profile in _SCAN_PROFILES:
        if profile.advertised(uuids, name):
            streams.extend(s for s in profile.scan_streams if s not in streams)
            channels.extend(profile.scan_channels(name))
        elif profile.listed_anyway(name):
            listed = True
    return tuple(streams), tuple(channels), listed or bool(streams)


async def scan(
    timeout_s: float = 5.0,
    *,
    scanner_backend: type | None = None,
    scanner_kwargs: dict[str, Any] | None = None,
) -> list[FoundDevice]:
    """Devices a profile recognises (Heart Rate Service, PMD, a Go Direct belt's name), strongest first.

    Args:
        timeout_s: how long to listen.
        scanner_backend: bleak scanner backend class (the emulated strap's), None for the platform's.
        scanner_kwargs: passed on to the scanner.

    Raises:
        PsoasError: the scan failed (Bluetooth off, no permission ...; see :func:`translate_error`).
    """
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
        streams, channels, listed = read_advertisement(list(adv.service_uuids), names)
        if not listed:
            continue
        out.append(FoundDevice(names, device.address, adv.rssi, streams, device, channels))
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

    Returns as soon as a matching strap advertises.

    Raises:
        StrapNotFoundError: none advertised within ``timeout_s``.
        PsoasError: the scan itself failed (see :func:`translate_error`).
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
        raise StrapNotFoundError(
            f"strap {spec!r} not found within {timeout_s:g} s",
            "wear it (it sleeps off the skin), wet the electrodes, keep it close, and check `psoas-sense scan`",
            device=spec,
        )
    return device



def device_header(
    device: BLEDevice | None,
    info: dict[str, Any],
    source_kind: str,
    profiles: list[DeviceProfile],
    host: ProfileHost,
) -> Header:
    """The recording header of a connected device: its profiles' streams, in set-up order.

    Args:
        device: the device.
        info: what :func:`~psoas_sense.sources.ble.connection.read_device_info` and the profiles
            read (model, firmware, battery, serial, MTU).
        source_kind: ``ble`` or ``emulated``.
        profiles: the profiles running on it.
        host: the source (what was asked of the device).
    """
    streams: dict[str, dict[str, Any]] = {}
    for profile in profiles:
        streams.update(profile.header_streams(host))
    desc = {
        "name": (device.name if device else "") or "",
        "address": device.address if device else "",
        "source": source_kind,
        **{k: v for k, v in info.items() if k in HEADER_DEVICE_KEYS},
    }
    return Header(streams=streams, device=desc, recorded_at=datetime.now(UTC).isoformat(timespec="seconds"))
