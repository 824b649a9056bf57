"""Open a device from a ``--device`` spec: an address, a name, a phone, or ``emulated:KIND`` (``h10``,
``hrs``, ``gdx-rb``: whichever emulated devices the BLE device profiles offer)."""

from __future__ import annotations

from psoas_sense.errors import PsoasError
from psoas_sense.sources.base import Source
from psoas_sense.sources.ble import BleSource
from psoas_sense.sources.emulator import EMULATOR_HELP
from psoas_sense.sources.phone import PHONE_HELP, open_phone_source

DEVICE_HELP = (
    "--device D: the strap's address (AA:BB:CC:DD:EE:FF, or the UUID macOS shows) or (part of)\n"
    "its advertised name, e.g. 'Polar H10' or 'Polar H10 AE60D42F'; `psoas-sense scan` lists them.\n"
    "A standard heart-rate strap gives HR and RR; a Polar H10 also streams its accelerometer\n"
    "(it may take 30 s to start: 'waiting_for_acc'). A Vernier Go Direct Respiration Belt\n"
    "(GDX-RB) gives its force, the best breathing signal, and its own breathing rate.\n"
    "--speed applies to emulated devices only.\n"
    "\n"
    "No hardware? Use an emulated strap or belt (the real client code runs against it):\n"
    + EMULATOR_HELP
    + "\n\nA phone on the chest instead of a strap:\n"
    + PHONE_HELP
)
"""Help text for ``--device``."""


BELT_RATES_HZ = (10.0, 20.0)
"""Rates a breathing belt can be asked for: 10 Hz (its typical period) and 20 Hz (its fastest)."""


def is_emulated(spec: str) -> bool:
    return spec.strip().lower().startswith("emulated:") or spec.strip().lower() == "emulated"


def open_device_source(
    spec: str,
    *,
    speed: float | None = None,
    acc_rate_hz: int = 200,
    reconnect_timeout_s: float = 60.0,
    belt_rate_hz: float = 10.0,
) -> Source:
    """Return a Source (not yet entered) for a device spec.

    Args:
        spec: address, name, or ``emulated:h10?opt=value&...`` / ``emulated:hrs`` / ``emulated:gdx-rb``.
        speed: emulated devices only: ``None`` = as fast as possible on data time, 1 = real
            time, 4 = four times faster. Ignored for a real strap, which runs in real time.
        acc_rate_hz: highest accelerometer rate to ask a Polar strap for (25, 50, 100, 200);
            0 turns the accelerometer off (RR only).
        reconnect_timeout_s: give up reconnecting after this long without a link.
        belt_rate_hz: rate asked of a breathing belt: 10 (its typical rate) or 20 (its fastest).

    Raises:
        PsoasError: a bad spec or option.
    """
    text = spec.strip()
    if not text:
        raise PsoasError("--device is empty: give an address, a name, or emulated:h10")
    if acc_rate_hz < 0:
        raise PsoasError("the accelerometer rate must be 0 (off) or positive")
    if not reconnect_timeout_s >= 0:
        raise PsoasError("the reconnect timeout must be a non-negative number of seconds")
    if speed is not None and not speed > 0:
        raise PsoasError("speed must be positive (or max)")
    if belt_rate_hz not in BELT_RATES_HZ:
        raise PsoasError("the belt rate must be 10 or 20 Hz")
    phone = open_phone_source(text)
    if phone is not None:
        return phone
    if is_emulated(text):
        if text.lower() == "emulated":
            text = "emulated:h10"
        from psoas_sense.sources.clock import VirtualClock
        from psoas_sense.sources.emulator import (
            EmulatedBleakClient,
            EmulatedBleakScanner,
            make_emulated,
            parse_emulator_spec,
            register,
            unregister,
        )

        opts = parse_emulator_spec(text)
        clock = VirtualClock(speed)
        strap = make_emulated(opts, clock)
        register(strap)

        async def close() -> None:
            await strap.shutdown()
            unregister(strap)
            await clock.aclose()

        source = BleSource(
            strap.ble_device,
            clock=clock,
            client_backend=EmulatedBleakClient,
            scanner_backend=EmulatedBleakScanner,
            acc_rate_hz=acc_rate_hz,
            belt_rate_hz=belt_rate_hz,
            reconnect_timeout_s=reconnect_timeout_s,
            source_kind="emulated",
            on_close=close,
        )
        source.strap = strap  # type: ignore[attr-defined]  # tests and `record` look at it
        return source
    return BleSource(text, acc_rate_hz=acc_rate_hz, belt_rate_hz=belt_rate_hz, reconnect_timeout_s=reconnect_timeout_s)
