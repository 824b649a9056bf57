"""Finding straps and describing them: a scan for heart-rate and PMD devices, resolving a
``--device`` spec, and the recording header of a connected strap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bleak import BleakScanner
from bleak.backends.device import BLEDevice

from psoas_sense.decode import hrs, pmd
from psoas_sense.recording.format import Header
from psoas_sense.sources.ble.errors import StrapNotFoundError, translate_error

SCAN_TIMEOUT_S = 10.0
"""How long :func:`resolve_device` scans for the strap."""
ACC_RATES_PREFERRED = (200, 100, 50, 25)
"""ACC rates a Polar strap offers, best first (for the header before the strap is asked)."""
HEADER_DEVICE_KEYS = ("model", "manufacturer", "firmware", "battery_pct", "location", "mtu")
"""Device info that goes into the recording header."""
UNLISTED_BRAND = "polar"
"""A device of this brand is listed by a scan even when it advertises neither service."""


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
    """What it can stream: ``hr``, ``rr`` (Heart Rate Service), ``acc`` (PMD)."""
    device: BLEDevice
    """bleak's device object, to connect without scanning again."""


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
    """Straps advertising the Heart Rate Service or PMD, strongest first.

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
        streams = _streams_of(list(adv.service_uuids))
        if not streams and UNLISTED_BRAND not in names.lower():
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



def strap_header(device: BLEDevice | None, info: dict[str, Any], source_kind: str, acc_rate_hz: int) -> Header:
    """The recording header of a connected strap.

    Args:
        device: the strap.
        info: what :func:`~psoas_sense.sources.ble.connection.read_device_info` read, plus the MTU.
        source_kind: ``ble`` or ``emulated``.
        acc_rate_hz: highest ACC rate asked for; 0 when there is no accelerometer stream.
    """
    streams: dict[str, dict[str, Any]] = {"rr": {"unit": "ms"}, "hr": {"unit": "bpm"}}
    if acc_rate_hz > 0:
        ok = [r for r in ACC_RATES_PREFERRED if r <= acc_rate_hz]
        streams = {"acc": {"unit": "mG", "rate_hz": float(ok[0] if ok else 25)}, **streams}
    desc = {
        "name": (device.name if device else "") or "",
        "address": device.address if device else "",
        "source": source_kind,
        **{k: v for k, v in info.items() if k in HEADER_DEVICE_KEYS},
    }
    return Header(streams=streams, device=desc, recorded_at=datetime.now(UTC).isoformat(timespec="seconds"))
