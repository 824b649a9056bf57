"""Typed BLE errors: each kind chosen from bleak's exception types and attributes, with advice."""

from __future__ import annotations

import pytest
from bleak import BleakClient
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)
from bleak_retry_connector import BleakConnectionError, BleakNotFoundError, BleakOutOfConnectionSlotsError

from psoas_sense.errors import PsoasError
from psoas_sense.sources.ble import (
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
from psoas_sense.sources.clock import VirtualClock
from psoas_sense.sources.emulator import EmulatedBleakClient, EmulatedStrap, parse_emulator_spec


def _wrapped(outer: BaseException, cause: BaseException) -> BaseException:
    """``outer`` raised ``from cause``, as bleak-retry-connector does after its retries."""
    try:
        raise outer from cause
    except BaseException as exc:  # noqa: BLE001 - captured for the test
        return exc


def _check(err: PsoasError, cls: type[BleError], words: str) -> None:
    assert type(err) is cls
    assert isinstance(err, PsoasError)
    text = str(err)
    assert words in text and "\n" not in text
    assert err.advice and "\n" not in err.advice and text.endswith(err.advice)


@pytest.mark.parametrize(
    "exc",
    [
        BleakDeviceNotFoundError("AA:BB", "Device with address AA:BB was not found."),
        BleakNotFoundError("Polar H10 - AA:BB: Failed to connect after 2 attempt(s): TimeoutError"),
        BleakDBusError("org.freedesktop.DBus.Error.UnknownObject", ["Method 'Connect' doesn't exist"]),
    ],
)
def test_strap_not_found(exc: BaseException) -> None:
    err = translate_error(exc, "Polar H10")
    _check(err, StrapNotFoundError, "strap Polar H10 not found")
    assert isinstance(err, StrapNotFoundError) and err.device == "Polar H10"


@pytest.mark.parametrize(
    "exc",
    [
        BleakBluetoothNotAvailableError("off", BleakBluetoothNotAvailableReason.POWERED_OFF),
        BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]),
    ],
)
def test_bluetooth_off(exc: BaseException) -> None:
    err = translate_error(exc)
    _check(err, BluetoothOffError, "Bluetooth is off")
    assert isinstance(err, BluetoothUnavailableError)


@pytest.mark.parametrize(
    "exc",
    [
        BleakBluetoothNotAvailableError("none", BleakBluetoothNotAvailableReason.NO_BLUETOOTH),
        BleakBluetoothNotAvailableError("classic only", BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE),
        BleakDBusError("org.bluez.Error.NoSuchAdapter", ["No such adapter"]),
        FileNotFoundError("/run/dbus/system_bus_socket"),
    ],
)
def test_no_adapter(exc: BaseException) -> None:
    err = translate_error(exc)
    assert isinstance(err, NoBluetoothAdapterError) and isinstance(err, BluetoothUnavailableError)
    assert "adapter" in str(err) and err.advice and "\n" not in str(err)


@pytest.mark.parametrize(
    "exc",
    [
        BleakBluetoothNotAvailableError("denied", BleakBluetoothNotAvailableReason.DENIED_BY_USER),
        BleakBluetoothNotAvailableError("policy", BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM),
        BleakDBusError("org.bluez.Error.NotPermitted", ["Not permitted"]),
        BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", ["Rejected send message"]),
        PermissionError(13, "Permission denied"),
    ],
)
def test_no_permission(exc: BaseException) -> None:
    _check(translate_error(exc), BluetoothPermissionError, "no permission to use Bluetooth")


@pytest.mark.parametrize(
    "exc",
    [
        BleakDBusError("org.bluez.Error.InProgress", ["Operation already in progress"]),
        BleakDBusError("org.bluez.Error.AlreadyConnected", ["Already connected"]),
        BleakOutOfConnectionSlotsError("out of connection slots"),
        BleakGATTProtocolError(BleakGATTProtocolErrorCode.PROCEDURE_ALREADY_IN_PROGRESS),
        _wrapped(BleakConnectionError("Failed to connect"), BleakDBusError("org.bluez.Error.InProgress", [])),
    ],
)
def test_busy(exc: BaseException) -> None:
    _check(translate_error(exc, "HRM"), StrapBusyError, "strap HRM is busy")


@pytest.mark.parametrize(
    "exc",
    [
        TimeoutError(),
        BleakDBusError("org.freedesktop.DBus.Error.NoReply", ["Did not receive a reply"]),
        _wrapped(BleakConnectionError("Failed to connect"), TimeoutError()),
    ],
)
def test_timeout(exc: BaseException) -> None:
    _check(translate_error(exc, "Polar H10"), StrapTimeoutError, "did not answer in time")


@pytest.mark.parametrize(
    "exc",
    [
        # the words are there, the types are not: a message never decides the kind
        BleakError("[org.bluez.Error.NotReady] Resource Not Ready"),
        BleakError("device busy, not found, powered off, not authorized"),
        BleakDBusError("org.bluez.Error.Failed", ["Operation already in progress"]),
        RuntimeError("adapter not found"),
    ],
)
def test_messages_do_not_decide(exc: BaseException) -> None:
    err = translate_error(exc, "Polar H10")
    assert type(err) is BleError and str(err).startswith("Bluetooth error with strap Polar H10: ")


def test_psoas_errors_pass_through() -> None:
    original = PsoasError("already plain")
    assert translate_error(original) is original


async def test_a_second_client_of_the_emulated_strap_is_busy() -> None:
    strap = EmulatedStrap(parse_emulator_spec("emulated:hrs"), VirtualClock())
    first = BleakClient(strap.ble_device, backend=EmulatedBleakClient)
    second = BleakClient(strap.ble_device, backend=EmulatedBleakClient)
    await first.connect()
    with pytest.raises(BleakDBusError) as info:
        await second.connect()
    assert isinstance(translate_error(info.value, strap.name), StrapBusyError)
    await first.disconnect()
    await strap.shutdown()
    await strap.clock.aclose()
