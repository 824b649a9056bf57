"""Typed BLE errors with advice for the user, and the mapping from bleak's exceptions.

Every error here is a :class:`~psoas_sense.errors.PsoasError` (one line, exit status 2) whose
``advice`` attribute says, in one line, what the user can do. :func:`translate_error` picks the
class from the exception's TYPE and typed attributes only (bleak's
``BleakBluetoothNotAvailableError.reason``, ``BleakDBusError.dbus_error``,
``BleakGATTProtocolError.code``, bleak-retry-connector's exception classes, OS errors), never
from the words of a message, which change between platforms, versions and locales. Wrapper
exceptions (bleak-retry-connector raises its own after its retries) are looked through: the
first exception of the ``raise ... from`` (``__cause__``) chain with a specific kind decides.
"""

from __future__ import annotations

from collections.abc import Iterator

from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakGATTProtocolError,
    BleakGATTProtocolErrorCode,
)
from bleak_retry_connector import BleakNotFoundError, BleakOutOfConnectionSlotsError

from psoas_sense.errors import PsoasError

MAX_CAUSE_DEPTH = 8
"""How far down an exception's cause chain :func:`translate_error` looks."""

DBUS_BLUETOOTH_OFF = frozenset({"org.bluez.Error.NotReady"})
"""D-Bus errors of an adapter that is powered off ("Resource Not Ready")."""
DBUS_NO_ADAPTER = frozenset({"org.bluez.Error.NoSuchAdapter", "org.freedesktop.DBus.Error.ServiceUnknown"})
"""D-Bus errors when there is no adapter, or no bluetoothd to ask."""
DBUS_NO_PERMISSION = frozenset(
    {
        "org.bluez.Error.NotPermitted",
        "org.bluez.Error.NotAuthorized",
        "org.freedesktop.DBus.Error.AccessDenied",
        "org.freedesktop.DBus.Error.AuthFailed",
    }
)
"""D-Bus errors of a user or process without the right to use Bluetooth."""
DBUS_BUSY = frozenset({"org.bluez.Error.InProgress", "org.bluez.Error.AlreadyConnected", "org.bluez.Error.Busy"})
"""D-Bus errors of a device or adapter already in use or in the middle of an operation."""
DBUS_NOT_FOUND = frozenset({"org.freedesktop.DBus.Error.UnknownObject", "org.bluez.Error.DoesNotExist"})
"""D-Bus errors of a device BlueZ does not know (never seen, or forgotten)."""
DBUS_TIMEOUT = frozenset(
    {"org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.Timeout", "org.freedesktop.DBus.Error.TimedOut"}
)
"""D-Bus errors of a call that got no answer in time."""

_PERMISSION_REASONS = frozenset(
    {
        BleakBluetoothNotAvailableReason.DENIED_BY_USER,
        BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM,
        BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN,
    }
)


class BleError(PsoasError):
    """A Bluetooth problem, told as ``what: advice`` on one line.

    Args:
        what: what went wrong.
        advice: one line saying what the user can do (the class's default when None).
        device: the strap it concerns (address or name; empty when none applies).
    """

    default_advice = ""
    """The advice when none is given."""

    def __init__(self, what: str, advice: str | None = None, *, device: str = "") -> None:
        self.what = what
        """What went wrong."""
        self.advice = self.default_advice if advice is None else advice
        """One line saying what the user can do."""
        self.device = device
        """The strap concerned, or empty."""
        super().__init__(f"{what}: {self.advice}" if self.advice else what)


class StrapNotFoundError(BleError):
    """The strap is not advertising, or the system does not know it."""

    default_advice = "wear it (it sleeps off the skin), wet the electrodes, and check `psoas-sense scan`"


class BluetoothUnavailableError(BleError):
    """Bluetooth cannot be used on this computer (see the subclasses)."""

    default_advice = "check the system's Bluetooth settings and retry"


class BluetoothOffError(BluetoothUnavailableError):
    """The Bluetooth adapter is powered off."""

    default_advice = "turn it on (e.g. `bluetoothctl power on`) and retry"


class NoBluetoothAdapterError(BluetoothUnavailableError):
    """There is no (usable) Bluetooth adapter."""

    default_advice = "plug one in or enable it, then retry"


class BluetoothPermissionError(BleError):
    """This user or program may not use Bluetooth."""

    default_advice = "check your user's Bluetooth rights and retry"


class StrapBusyError(BleError):
    """The strap or the adapter is in use (another app, another connect under way, no free slot)."""

    default_advice = (
        "disconnect it from phone apps and other programs (or take it off for a minute to reset it) and retry"
    )


class StrapTimeoutError(BleError):
    """The strap did not answer in time."""

    default_advice = "move closer, wear it, and retry"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then its explicit causes (``raise ... from``; an implicit context is often
    unrelated, so it is not followed)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < MAX_CAUSE_DEPTH:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _unavailable(exc: BleakBluetoothNotAvailableError) -> BleError:
    reason = exc.reason
    if reason == BleakBluetoothNotAvailableReason.NO_BLUETOOTH:
        return NoBluetoothAdapterError("no Bluetooth adapter found")
    if reason == BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE:
        return NoBluetoothAdapterError(
            "this Bluetooth adapter cannot connect to low-energy devices", "use a Bluetooth 4.0 (LE) adapter"
        )
    if reason == BleakBluetoothNotAvailableReason.POWERED_OFF:
        return BluetoothOffError("Bluetooth is off")
    if reason in _PERMISSION_REASONS:
        return BluetoothPermissionError(
            "no permission to use Bluetooth",
            "allow this terminal to use Bluetooth "
            "(macOS: System Settings > Privacy > Bluetooth; Linux: be in the 'bluetooth' group)",
        )
    return BluetoothUnavailableError(f"Bluetooth is not available ({reason.name.lower()})")


def _classify(exc: BaseException, who: str, device: str) -> BleError | None:
    """The typed error for one exception, or None when its type says nothing specific."""
    if isinstance(exc, BleakBluetoothNotAvailableError):
        return _unavailable(exc)
    if isinstance(exc, BleakDBusError):
        name = exc.dbus_error
        if name in DBUS_BLUETOOTH_OFF:
            return BluetoothOffError("Bluetooth is off")
        if name in DBUS_NO_ADAPTER:
            return NoBluetoothAdapterError("no Bluetooth adapter found")
        if name in DBUS_NO_PERMISSION:
            return BluetoothPermissionError("no permission to use Bluetooth")
        if name in DBUS_BUSY:
            return StrapBusyError(f"strap{who} is busy", device=device)
        if name in DBUS_NOT_FOUND:
            return StrapNotFoundError(f"strap{who} not found", device=device)
        if name in DBUS_TIMEOUT:
            return StrapTimeoutError(f"strap{who} did not answer in time", device=device)
        return None
    if isinstance(exc, BleakGATTProtocolError) and exc.code == BleakGATTProtocolErrorCode.PROCEDURE_ALREADY_IN_PROGRESS:
        return StrapBusyError(f"strap{who} is busy", device=device)
    if isinstance(exc, PermissionError):
        return BluetoothPermissionError("no permission to use Bluetooth")
    if isinstance(exc, FileNotFoundError):
        return NoBluetoothAdapterError("no Bluetooth adapter found")
    if isinstance(exc, (BleakDeviceNotFoundError, BleakNotFoundError)):
        return StrapNotFoundError(f"strap{who} not found", device=device)
    if isinstance(exc, BleakOutOfConnectionSlotsError):
        return StrapBusyError(f"strap{who} is busy", device=device)
    if isinstance(exc, TimeoutError):
        return StrapTimeoutError(f"strap{who} did not answer in time", device=device)
    return None


def translate_error(exc: BaseException, device: str = "") -> PsoasError:
    """A bleak / OS error as one plain line the user can act on.

    A :class:`~psoas_sense.errors.PsoasError` is returned as it is. Otherwise the first exception
    of ``exc``'s cause chain whose type (or D-Bus error name, or unavailability reason) is
    specific gives the class; anything else becomes a plain :class:`BleError` naming the error.

    Args:
        exc: the exception raised by bleak, bleak-retry-connector or the OS.
        device: the strap's address or name, for the message.
    """
    if isinstance(exc, PsoasError):
        return exc
    who = f" {device}" if device else ""
    for link in _chain(exc):
        typed = _classify(link, who, device)
        if typed is not None:
            return typed
    return BleError(f"Bluetooth error with strap{who}: {str(exc) or type(exc).__name__}", "", device=device)
