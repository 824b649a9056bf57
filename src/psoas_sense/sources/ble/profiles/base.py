"""The device seam of the BLE edge: what a kind of BLE device brings, and what it may ask of the source.

A :class:`DeviceProfile` says what a kind of device advertises (for ``scan``), how to tell it
from its GATT services once connected, which characteristics it subscribes to, its set-up and
tear-down handshakes, the streams of the recording header, the watchdog work it needs, and
which emulators play it. :class:`~psoas_sense.sources.ble.source.BleSource` keeps one instance of
every registered profile (they hold per-link state) and runs those whose services the device
has. Decoding is not here: each profile's characteristics are decoded by its device decoder in
the pure core (:data:`psoas_sense.decode.DEVICE_DECODERS`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bleak import BleakClient
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.service import BleakGATTServiceCollection

from psoas_sense.model import Item, Status
from psoas_sense.sources.clock import Clock
from psoas_sense.vocab import LinkState

NotifyHandler = Callable[[BleakGATTCharacteristic, bytearray], None]
"""What ``BleakClient.start_notify`` calls with each notification."""


class ProfileHost(Protocol):
    """What a profile may use of the source that runs it."""

    clock: Clock
    """The session clock (every wait is timed on it)."""
    state: LinkState | None
    """The source's newest status state (None: none yet)."""
    info: dict[str, Any]
    """Device facts for the recording header (model, firmware, battery_pct, serial, mtu ...)."""
    acc_rate_hz: int
    """Highest accelerometer rate wanted (Polar); 0: none."""
    acc_range_g: int
    """Accelerometer range wanted (Polar)."""
    belt_period_us: int
    """Measurement period wanted from a breathing belt, µs."""
    reconnect_timeout_s: float
    """Give up after this long without a link (or without data, for a profile that watches it)."""

    def status(self, state: LinkState, detail: str = "") -> None:
        """Report a status change (queued for the consumer)."""
        ...

    def record_write(self, char_uuid: str, data: bytes) -> None:
        """Queue a write the profile makes, so the recording keeps it beside the notifications."""
        ...

    @property
    def notify_callback(self) -> NotifyHandler:
        """The callback to pass to ``start_notify`` (it timestamps and enqueues only)."""
        ...


class DeviceProfile:
    """One kind of BLE device (subclass it; see ``firmware_notes/adding-a-device.md``).

    The defaults do nothing, so a profile overrides only what its device needs.
    """

    name = ""
    """Short name (``hrs``, ``pmd``, ``gdx``)."""
    setup_rank = 10
    """Profiles set up in ascending rank (PMD first: its CCCDs go before any other write)."""
    notify_uuids: tuple[str, ...] = ()
    """Characteristics it subscribes to, in order; unsubscribed in reverse order on exit."""
    scan_streams: tuple[str, ...] = ()
    """What a scan says it streams when :meth:`advertised` holds."""
    emulators: Mapping[str, str] = {}
    """``emulated:KIND`` -> ``"module:Class"`` of the emulated device that plays it."""

    def advertised(self, service_uuids: set[str], name: str) -> bool:
        """Whether an advertisement (service UUIDs lower case, local name) is one of its devices."""
        return False

    def listed_anyway(self, name: str) -> bool:
        """List a device that advertises none of the profile's services (by brand)."""
        return False

    def scan_channels(self, name: str) -> list[dict[str, Any]]:
        """Channels a scan can tell from the name alone (a Go Direct belt), or ``[]``."""
        return []

    def present(self, services: BleakGATTServiceCollection) -> bool:
        """Whether a connected device offers what this profile reads."""
        return False

    def header_streams(self, host: ProfileHost) -> dict[str, dict[str, Any]]:
        """The streams of the recording header this profile yields."""
        return {}

    def reset(self) -> None:
        """A new link: forget per-link state (set-up runs again after a reconnect)."""

    def on_notify(self, uuid: str, data: bytes, t_s: float) -> None:
        """From the notification callback, after the item was queued: bookkeeping only, no work."""

    async def subscribe(self, host: ProfileHost, client: BleakClient) -> None:
        """Turn notifications on (before any profile's :meth:`start`)."""

    async def start(self, host: ProfileHost, client: BleakClient, reported: bool) -> bool:
        """Start streaming; report a status unless ``reported`` (an earlier profile did).

        Returns:
            True when a status has been reported (by this profile or before).
        """
        return reported

    async def watch(self, host: ProfileHost, client: BleakClient | None, now_s: float) -> str | None:
        """The watchdog's look, about once a second while the link is up (restart a stalled stream).

        Returns:
            None (all is well, or handled here), ``"reconnect"`` (drop the link and reconnect), or
            a line saying why the source should give up (it reports ``lost`` and ends).
        """
        return None

    def item_status(self, host: ProfileHost, item: Item) -> Status | None:
        """A status the consumer should see before ``item`` (the first data after a wait)."""
        return None

    async def stop(self, host: ProfileHost, client: BleakClient) -> None:
        """Stop what :meth:`start` started (the source bounds the time and ignores failures)."""
