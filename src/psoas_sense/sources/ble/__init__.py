"""Live BLE chest straps through bleak: any Heart Rate Service strap, and a Polar H10's ACC.

Modules: :mod:`.errors` (typed BLE errors with advice, chosen from bleak's exception types),
:mod:`.discovery` (scan, resolve a ``--device`` spec, recording header), :mod:`.connection`
(connect with retries, MTU, device info, backoff), :mod:`.control_point` (the PMD control point
from the client side) and :mod:`.source` (:class:`BleSource`, the Source). Every name of the
former ``psoas_sense.sources.ble`` module is re-exported here.
"""

from __future__ import annotations

from psoas_sense.sources.ble.connection import BACKOFF_S, SHUTDOWN_TIMEOUT_S, backoff_s
from psoas_sense.sources.ble.control_point import CP_TIMEOUT_S, ControlPoint, choose_acc_settings
from psoas_sense.sources.ble.discovery import (
    ACC_RATES_PREFERRED,
    SCAN_TIMEOUT_S,
    FoundDevice,
    resolve_device,
    scan,
    strap_header,
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
    "resolve_device",
    "scan",
    "strap_header",
    "translate_error",
]
