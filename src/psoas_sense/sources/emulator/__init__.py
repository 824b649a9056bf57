"""An emulated chest strap behind bleak's own client and scanner APIs.

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

Modules: :mod:`.options` (the ``emulated:`` spec), :mod:`.breathing` (the signal model),
:mod:`.gatt` (GATT table, advertisement), :mod:`.payloads` (HR and ECG bytes), :mod:`.link`
(connection, latency), :mod:`.strap` (the device and its PMD control point) and
:mod:`.backends` (bleak client and scanner, registry). Every public name is re-exported here.
"""

from __future__ import annotations

from psoas_sense.sources.emulator.backends import (
    _REGISTRY,
    EmulatedBleakClient,
    EmulatedBleakScanner,
    register,
    registered,
    unregister,
)
from psoas_sense.sources.emulator.breathing import SYNTH_CHUNK_S, SYNTH_RATE_HZ, BreathingSignal
from psoas_sense.sources.emulator.gatt import CCCD_UUID, DIS, DIS_SERVICE_UUID, EMULATED_MTU
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
    "BreathingSignal",
    "EmulatedBleakClient",
    "EmulatedBleakScanner",
    "EmulatedStrap",
    "EmulatorOptions",
    "SentFrame",
    "parse_emulator_spec",
    "register",
    "registered",
    "unregister",
]
