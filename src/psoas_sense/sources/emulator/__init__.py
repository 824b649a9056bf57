"""Emulated BLE devices behind bleak's own client and scanner APIs: chest straps and a breathing belt.

:class:`EmulatedStrap` models the device: a standard Heart Rate strap (``hrs``: Heart Rate,
Battery and Device Information services) or a Polar H10 (``h10``: the same plus the PMD service
with its control point, settings, ACC start delay and delta-compressed or raw ACC frames). It
is driven by a synthetic breather (:func:`psoas_sense.simulate.synthesize`) or by a recording,
and can inject faults: a link drop at a time, a malformed frame, a stalled stream.

:class:`EmulatedBleakClient` is a bleak 3.x client backend (``BleakClient(device,
backend=EmulatedBleakClient)``): the real client code in :mod:`psoas_sense.sources.ble` runs
unchanged against it. :class:`EmulatedBleakScanner` is the matching scanner backend. The device
runs on a :class:`~psoas_sense.sources.clock.VirtualClock`: as fast as possible (data time, no
real sleeps) or paced.

:class:`EmulatedGdxRb` is Vernier's Go Direct Respiration Belt (``gdx-rb``): its command
frames, replies and measurement packets, with the belt's faults (lost packets, delivery pauses,
a bad checksum, a late respiration rate), driven by a synthetic breather or a belt recording.
:func:`make_emulated` builds the device an ``emulated:KIND`` spec names (the device profiles
say which class plays each kind).

Modules: :mod:`.options` (the ``emulated:`` spec), :mod:`.breathing` (the strap's signal model),
:mod:`.belt` (the belt's), :mod:`.gatt` (GATT tables, advertisements), :mod:`.payloads` (HR and
ECG bytes), :mod:`.link` (connection, latency), :mod:`.strap` (the strap and its PMD control
point), :mod:`.gdx` (the belt) and :mod:`.backends` (bleak client and scanner, registry). Every
public name is re-exported here.
"""

from __future__ import annotations

import importlib

from psoas_sense.errors import PsoasError
from psoas_sense.sources.clock import VirtualClock
from psoas_sense.sources.emulator.backends import (
    _REGISTRY,
    EmulatedBleakClient,
    EmulatedBleakScanner,
    EmulatedDevice,
    register,
    registered,
    unregister,
)
from psoas_sense.sources.emulator.belt import BeltSignal
from psoas_sense.sources.emulator.breathing import SYNTH_CHUNK_S, SYNTH_RATE_HZ, BreathingSignal
from psoas_sense.sources.emulator.gatt import CCCD_UUID, DIS, DIS_SERVICE_UUID, EMULATED_MTU
from psoas_sense.sources.emulator.gdx import EmulatedGdxRb, SentPacket
from psoas_sense.sources.emulator.link import SentFrame
from psoas_sense.sources.emulator.options import EMULATOR_HELP, EmulatorOptions, parse_emulator_spec
from psoas_sense.sources.emulator.strap import (
    ACC_RANGES_G,
    ACC_RATES_HZ,
    ECG_RATE_HZ,
    ECG_SAMPLES_PER_FRAME,
    H10_EPOCH_NS,
    EmulatedStrap,
)

__all__ = [
    "ACC_RANGES_G",
    "ACC_RATES_HZ",
    "CCCD_UUID",
    "DIS",
    "DIS_SERVICE_UUID",
    "ECG_RATE_HZ",
    "ECG_SAMPLES_PER_FRAME",
    "EMULATED_MTU",
    "EMULATOR_HELP",
    "H10_EPOCH_NS",
    "SYNTH_CHUNK_S",
    "SYNTH_RATE_HZ",
    "_REGISTRY",
    "BeltSignal",
    "BreathingSignal",
    "EmulatedBleakClient",
    "EmulatedBleakScanner",
    "EmulatedDevice",
    "EmulatedGdxRb",
    "EmulatedStrap",
    "EmulatorOptions",
    "SentFrame",
    "SentPacket",
    "make_emulated",
    "parse_emulator_spec",
    "register",
    "registered",
    "unregister",
]


def make_emulated(opts: EmulatorOptions, clock: VirtualClock) -> EmulatedDevice:
    """The emulated device for ``opts.kind``, as the device profile that owns the kind names it.

    Raises:
        PsoasError: no profile offers this kind.
    """
    from psoas_sense.sources.ble.profiles import emulator_path

    path = emulator_path(opts.kind)
    if path is None:
        raise PsoasError(f"no emulated device {opts.kind!r}")
    module, _, name = path.partition(":")
    cls = getattr(importlib.import_module(module), name)
    device: EmulatedDevice = cls(opts, clock)
    return device
