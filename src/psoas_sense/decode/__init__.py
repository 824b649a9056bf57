"""Pure decoders of raw BLE notifications into sample frames, one per kind of device.

The seam: every device kind brings a *device decoder* (:class:`DeviceDecoder`: the
characteristics it reads and a ``decode`` of one notification), listed in
:data:`DEVICE_DECODERS`. :class:`NotificationDecoder` holds one of each for a session, sends
every :class:`~psoas_sense.model.Notification` to the one that owns its characteristic, and
counts what could not be decoded. Today: the Heart Rate Service (:class:`.hrs.HrsDecoder`),
Polar PMD (:class:`.pmd.PmdDecoder`) and Vernier Go Direct (:class:`.gdx.GdxDecoder`).
``firmware_notes/adding-a-device.md`` says where a new device goes.
"""

from __future__ import annotations

from typing import Protocol, TypeVar

from psoas_sense.decode.gdx import GdxDecoder
from psoas_sense.decode.hrs import RR_REANCHOR_AHEAD_S, RR_REANCHOR_BEHIND_S, HrsDecoder, RRBeatClock
from psoas_sense.decode.pmd import CpResponse, DeviceClockMap, PmdDecoder
from psoas_sense.errors import DecodeError
from psoas_sense.model import Notification, SampleFrame

__all__ = [
    "DEVICE_DECODERS",
    "RR_REANCHOR_AHEAD_S",
    "RR_REANCHOR_BEHIND_S",
    "DeviceDecoder",
    "GdxDecoder",
    "HrsDecoder",
    "NotificationDecoder",
    "PmdDecoder",
    "RRBeatClock",
]


T = TypeVar("T")


class DeviceDecoder(Protocol):
    """What a device kind's decoder offers the notification decoder."""

    @property
    def chars(self) -> frozenset[str]:
        """The characteristic UUIDs (128-bit, lower case) it decodes."""
        ...

    def decode(self, n: Notification) -> tuple[list[SampleFrame], list[str]]:
        """The frames of one notification, and one line per piece it had to drop.

        Raises:
            DecodeError: the notification as a whole does not decode (counted, skipped).
        """
        ...


DEVICE_DECODERS: tuple[type[DeviceDecoder], ...] = (
    HrsDecoder,
    PmdDecoder,
    GdxDecoder,
)
"""Every device kind's decoder; a new device kind adds its own here."""


class NotificationDecoder:
    """Turns raw notifications into sample frames; counts what it could not decode.

    One decoder per device kind (:data:`DEVICE_DECODERS`) holds that kind's state (the running
    beat clock of RR intervals, the PMD device clock, the Go Direct sample clock); a notification
    of a characteristic no device kind owns decodes to nothing.
    """

    def __init__(self) -> None:
        self.errors = 0
        """Notifications (or pieces of them) that failed to decode (skipped)."""
        self.last_error: str = ""
        self.devices: tuple[DeviceDecoder, ...] = tuple(cls() for cls in DEVICE_DECODERS)
        """One decoder of each kind, in :data:`DEVICE_DECODERS` order."""
        self._by_char: dict[str, DeviceDecoder] = {c: d for d in self.devices for c in d.chars}
        self.pmd: PmdDecoder = self.device(PmdDecoder)
        """The PMD decoder (its clock and counters are read by tests and tools)."""
        self.gdx: GdxDecoder = self.device(GdxDecoder)
        """The Go Direct decoder (its sample clock's gaps, its counters)."""

    def device(self, kind: type[T]) -> T:
        """This session's decoder of one kind."""
        for d in self.devices:
            if isinstance(d, kind):
                return d
        raise KeyError(kind.__name__)

    @property
    def clock(self) -> DeviceClockMap:
        """Device clock -> session time mapping of PMD frames."""
        return self.pmd.clock

    @property
    def acc_frames(self) -> int:
        """PMD ACC frames decoded."""
        return self.pmd.acc_frames

    @property
    def ecg_samples(self) -> int:
        """PMD ECG samples decoded (checked; nothing consumes them yet)."""
        return self.pmd.ecg_samples

    @property
    def last_cp(self) -> CpResponse | None:
        """The newest PMD control-point response."""
        return self.pmd.last_cp

    def decode(self, n: Notification) -> list[SampleFrame]:
        """Frames in the notification, or ``[]`` (unknown characteristic, malformed bytes)."""
        device = self._by_char.get(n.char_uuid)
        if device is None:
            return []
        try:
            frames, dropped = device.decode(n)
        except DecodeError as exc:
            frames, dropped = [], [str(exc)]
        if dropped:
            self.errors += len(dropped)
            self.last_error = dropped[-1]
        return frames
