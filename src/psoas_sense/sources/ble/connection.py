"""Connecting to a strap and leaving it: connect (with retries), MTU, device info, backoff.

The client class is injected (``client_backend``: the emulated strap's, or bleak's own for the
platform), so the same code connects to a real strap and to the emulator. Reconnect timing is
the pure :func:`backoff_s`; the source decides when to retry.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from bleak import BleakClient
from bleak.backends.device import BLEDevice

from psoas_sense.decode import hrs
from psoas_sense.sources.clock import Clock

SHUTDOWN_TIMEOUT_S = 5.0
"""Stopping streams and disconnecting on exit may take at most this long."""
BACKOFF_S = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Wait before each reconnect attempt (the last value repeats)."""
CONNECT_ATTEMPTS = 2
"""Attempts bleak-retry-connector makes per connect (the source's own backoff does the rest)."""
DEVICE_INFO_CHARS = (
    ("00002a29-0000-1000-8000-00805f9b34fb", "manufacturer"),
    ("00002a24-0000-1000-8000-00805f9b34fb", "model"),
    ("00002a26-0000-1000-8000-00805f9b34fb", "firmware"),
)
"""Device Information characteristics read on connect, and the info key of each."""


def backoff_s(attempt: int) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (1-based). Pure."""
    return BACKOFF_S[min(max(attempt, 1), len(BACKOFF_S)) - 1]


async def connect(
    device: BLEDevice,
    *,
    clock: Clock,
    on_disconnect: Callable[[BleakClient], None],
    client_backend: type | None = None,
    retry_connector: bool = True,
    close_stale: bool = False,
) -> BleakClient:
    """Connect once (bleak-retry-connector makes :data:`CONNECT_ATTEMPTS` tries).

    Args:
        device: the strap, from a scan.
        clock: waits are timed on it.
        on_disconnect: bleak's disconnected callback.
        client_backend: bleak client backend class (None: the platform's).
        retry_connector: connect through bleak-retry-connector (else plain ``BleakClient``).
        close_stale: first close a link left by a crashed earlier run (BlueZ: it makes the next
            connect hang).

    Raises:
        Exception: whatever bleak or the connector raises; see
            :func:`~psoas_sense.sources.ble.errors.translate_error`.
    """
    kwargs: dict[str, Any] = {}
    if client_backend is not None:
        kwargs["backend"] = client_backend
    if retry_connector:
        from bleak_retry_connector import close_stale_connections, establish_connection

        if close_stale:
            with contextlib.suppress(Exception):
                await clock.wait_for(close_stale_connections(device), SHUTDOWN_TIMEOUT_S)
        client: BleakClient = await establish_connection(
            BleakClient,
            device,
            device.name or device.address,
            disconnected_callback=on_disconnect,
            max_attempts=CONNECT_ATTEMPTS,
            **kwargs,
        )
        return client
    # plain bleak, for platforms where the connector misbehaves
    client = BleakClient(device, disconnected_callback=on_disconnect, **kwargs)  # pragma: no cover
    await client.connect()  # pragma: no cover
    return client  # pragma: no cover


async def acquire_mtu(client: BleakClient) -> int | None:
    """Ask for a large MTU where the platform allows it (BlueZ needs an explicit acquire).

    Returns:
        The link's MTU, or None when the platform does not tell.
    """
    backend: Any = getattr(client, "_backend", None)
    acquire = getattr(backend, "_acquire_mtu", None)
    if acquire is not None:
        with contextlib.suppress(Exception):
            await acquire()
    with contextlib.suppress(Exception):
        return int(client.mtu_size)
    return None


async def read_device_info(client: BleakClient) -> dict[str, Any]:
    """Manufacturer, model, firmware, battery and sensor location, where the strap offers them.

    A characteristic that fails to read is left out.
    """
    info: dict[str, Any] = {}
    for uuid, key in DEVICE_INFO_CHARS:
        if client.services.get_characteristic(uuid) is not None:
            with contextlib.suppress(Exception):
                info[key] = bytes(await client.read_gatt_char(uuid)).decode("utf-8", "replace").strip("\x00 ")
    if client.services.get_characteristic(hrs.BATTERY_LEVEL_UUID) is not None:
        with contextlib.suppress(Exception):
            info["battery_pct"] = hrs.decode_battery_level(bytes(await client.read_gatt_char(hrs.BATTERY_LEVEL_UUID)))
    if client.services.get_characteristic(hrs.BODY_SENSOR_LOCATION_UUID) is not None:
        with contextlib.suppress(Exception):
            info["location"] = hrs.decode_body_sensor_location(
                bytes(await client.read_gatt_char(hrs.BODY_SENSOR_LOCATION_UUID))
            )
    return info


async def disconnect(client: BleakClient, clock: Clock) -> None:
    """Disconnect, waiting at most :data:`SHUTDOWN_TIMEOUT_S`; errors are ignored."""
    with contextlib.suppress(Exception):
        await clock.wait_for(client.disconnect(), SHUTDOWN_TIMEOUT_S)
