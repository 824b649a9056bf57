"""Live BLE devices through bleak: any Heart Rate Service strap, a Polar H10's ACC, and Vernier's
Go Direct Respiration Belt.

Modules: :mod:`.profiles` (the device seam: one profile per kind of device, and the registry),
:mod:`.errors` (typed BLE errors with advice, chosen from bleak's exception types),
:mod:`.discovery` (scan, resolve a ``--device`` spec, recording header), :mod:`.connection`
(connect with retries, MTU, device info, backoff), :mod:`.control_point` (the PMD control point
from the client side) and :mod:`.source` (:class:`BleSource`, the Source).
"""

from __future__ import annotations

from psoas_sense.sources.ble.connection import BACKOFF_S, SHUTDOWN_TIMEOUT_S, backoff_s
from psoas_sense.sources.ble.control_point import CP_TIMEOUT_S, ControlPoint, choose_acc_settings
from psoas_sense.sources.ble.discovery import (
    ACC_RATES_PREFERRED,
    SCAN_TIMEOUT_S,
    FoundDevice,
    device_header,
    resolve_device,
    scan,
)
from psoas_sense.sources.ble.errors import (
    BleError,
    BluetoothOffError,
    BluetoothPermissionError,
    BluetoothUnavailableError,
    NoBluetoothAdapterError,
    StrapBusyError,
    StrapNotFoundError,
    StrapTimeoutError,
    translate_error,
)
from psoas_sense.sources.ble.source import (
    BLUEZ_NOTIFY,
    DEFAULT_RANGE_G,
    LINK_SILENT_S,
    STALL_S,
    WATCH_INTERVAL_S,
    BleSource,
)

__all__ = [
    "ACC_RATES_PREFERRED",
    "BACKOFF_S",
    "BLUEZ_NOTIFY",
    "CP_TIMEOUT_S",
    "DEFAULT_RANGE_G",
    "LINK_SILENT_S",
    "SCAN_TIMEOUT_S",
    "SHUTDOWN_TIMEOUT_S",
    "STALL_S",
    "WATCH_INTERVAL_S",
    "BleError",
    "BleSource",
    "BluetoothOffError",
    "BluetoothPermissionError",
    "BluetoothUnavailableError",
    "ControlPoint",
    "FoundDevice",
    "NoBluetoothAdapterError",
    "StrapBusyError",
    "StrapNotFoundError",
    "StrapTimeoutError",
    "backoff_s",
    "choose_acc_settings",
    "device_header",
    "resolve_device",
    "scan",
    "translate_error",
]
