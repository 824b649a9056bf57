"""Data model of the pure core: frames, raw notifications, status changes, markers, events.

Every time is in seconds of session time (``t_s``): seconds since the recording or session
started, on the host's monotonic clock as mapped by the edge. Units are in the field names.
The core never reads a clock; time travels with the data.

Sample arrays are NumPy arrays made read-only on construction, so a frozen frame really is
immutable. Frames compare by identity (``eq=False``); compare their arrays in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from psoas_sense.vocab import BreathPhase, LinkState, Notice

StreamKind = Literal["resp", "acc", "rr", "hr", "device_rate"]
"""The kinds of sample stream the core understands."""

STREAM_KINDS: tuple[StreamKind, ...] = ("resp", "acc", "rr", "hr")

STREAM_UNITS: Mapping[str, str] = {
    "resp": "au",
    "acc": "mG",
    "rr": "ms",
    "hr": "bpm",
    "device_rate": "bpm",
}
"""Unit of each stream's values, as written in a recording header."""


def _frozen_array(values: Any, dtype: Any = np.float64, ndim: int = 1) -> np.ndarray:
    arr = np.array(values, dtype=dtype, copy=True)
    if arr.ndim != ndim:
        if ndim == 2 and arr.size == 0:
            arr = arr.reshape(0, 3)
        else:
            raise ValueError(f"expected a {ndim}-D array, got shape {arr.shape}")
    arr.flags.writeable = False
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class RespFrame:
    """Samples of a breathing waveform (belt, impedance, volume), arbitrary units."""

    t_s: np.ndarray
    """Time of each sample, session seconds, non-decreasing."""
    resp: np.ndarray
    """Breathing waveform value of each sample; larger means more air in (when known)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_s", _frozen_array(self.t_s))
        object.__setattr__(self, "resp", _frozen_array(self.resp))
        if self.t_s.shape != self.resp.shape:
            raise ValueError("t_s and resp differ in length")

    @property
    def kind(self) -> StreamKind:
        return "resp"


@dataclass(frozen=True, slots=True, eq=False)
class AccFrame:
    """Samples of a 3-axis accelerometer, in milli-g (mG)."""

    t_s: np.ndarray
    """Time of each sample, session seconds, non-decreasing."""
    acc_mg: np.ndarray
    """Acceleration, shape (n, 3): x, y, z in mG (1 G = 9.80665 m/s^2)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_s", _frozen_array(self.t_s))
        object.__setattr__(self, "acc_mg", _frozen_array(self.acc_mg, ndim=2))
        if self.acc_mg.shape != (self.t_s.shape[0], 3):
            raise ValueError(f"acc_mg must have shape (n, 3), got {self.acc_mg.shape}")

    @property
    def kind(self) -> StreamKind:
        return "acc"


@dataclass(frozen=True, slots=True, eq=False)
class RRFrame:
    """Beat-to-beat (RR) intervals from a heart-rate strap."""

    t_s: np.ndarray
    """Time of the beat that ends each interval, session seconds, non-decreasing."""
    rr_ms: np.ndarray
    """Length of each interval, milliseconds."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_s", _frozen_array(self.t_s))
        object.__setattr__(self, "rr_ms", _frozen_array(self.rr_ms))
        if self.t_s.shape != self.rr_ms.shape:
            raise ValueError("t_s and rr_ms differ in length")

    @property
    def kind(self) -> StreamKind:
        return "rr"


@dataclass(frozen=True, slots=True)
class HRFrame:
    """One heart-rate reading, beats per minute."""

    t_s: float
    """Time of the reading, session seconds."""
    hr_bpm: float
    """Heart rate, beats per minute."""

    @property
    def kind(self) -> StreamKind:
        return "hr"


@dataclass(frozen=True, slots=True)
class DeviceRateFrame:
    """The breathing rate a device computes itself (a respiration belt's own channel), shown
    beside the detector's; the detector does not read it."""

    t_s: float
    """Time of the reading, session seconds."""
    rate_bpm: float
    """Breaths per minute; NaN while the device has none yet."""
    device: str = ""
    """Which device said it (``GDX-RB``)."""

    @property
    def kind(self) -> StreamKind:
        return "device_rate"


SampleFrame = RespFrame | AccFrame | RRFrame | HRFrame | DeviceRateFrame
"""Any frame of samples."""


@dataclass(frozen=True, slots=True)
class Notification:
    """A raw BLE notification or indication, exactly as received."""

    t_s: float
    """Host time of arrival, session seconds."""
    char_uuid: str
    """Characteristic UUID, 128-bit lower-case form."""
    data: bytes
    """Payload bytes in wire order."""


@dataclass(frozen=True, slots=True)
class Status:
    """A change in the source's link or stream state."""

    t_s: float
    """Session seconds at which the state changed."""
    state: LinkState | str
    """A :class:`~psoas_sense.vocab.LinkState`, compared as one; kept as written (a plain ``str``
    from a recording), so a newer recording's states still read."""
    detail: str = ""
    """Human-readable detail (device name, reason of a drop, ...)."""


@dataclass(frozen=True, slots=True)
class Marker:
    """A mark in the session: hold start or end, side switch, pain stop, note."""

    t_s: float
    """Session seconds of the mark."""
    marker: str
    """What is marked: ``hold_start``, ``hold_end``, ``side_switch``, ``pain_stop``, ``note``..."""
    data: Mapping[str, Any] = field(default_factory=dict)
    """Extra JSON-serialisable fields (side, kind, text, ...)."""


Item = SampleFrame | Notification | Status | Marker
"""Anything a source yields or a recording holds after its header."""


def item_time(item: Item) -> float:
    """Arrival time of an item: the time of its newest sample for sample frames."""
    if isinstance(item, (RespFrame, AccFrame, RRFrame)):
        return float(item.t_s[-1]) if item.t_s.size else float("nan")
    return float(item.t_s)


@dataclass(frozen=True, slots=True)
class BreathEvent:
    """A detected change of breathing phase."""

    kind: BreathPhase
    """``exhale``: breathing out starts (end of inspiration); ``inhale``: breathing in starts."""
    t_s: float
    """Estimated time of the phase change, session seconds."""
    detected_at_s: float
    """Time of the newest sample the detector had seen when it emitted the event."""
    signal: str = ""
    """Which signal found it: ``resp``, ``acc`` or ``rr``."""
    approximate: bool = False
    """True when the timing is only approximate (RR-derived breathing lags the chest)."""
    rate_bpm: float | None = None
    """Breathing rate over recent breaths, breaths per minute, when known."""
    quality: float | None = None
    """Signal-quality index 0-1 at detection, when known."""
    inhale_s: float | None = None
    """On an ``exhale``: duration of the inhale that just ended, seconds."""
    exhale_s: float | None = None
    """On an ``inhale``: duration of the exhale (with its pause) that just ended, seconds."""
    ie_ratio: float | None = None
    """On an ``inhale``: I:E ratio of the breath that just ended (inhale / exhale duration)."""
    polarity_confidence: float | None = None
    """Accelerometer only: confidence 0-1 that the inhale direction is right."""
    depth: float | None = None
    """On an ``exhale``: the breath's depth, the size of the breathing signal's swing from the inhale onset
    before it (the signal's own units; None where the pair is not known)."""


@dataclass(frozen=True, slots=True)
class SignalNotice:
    """Something the detector noticed that is not a phase change (hold, loss, polarity...)."""

    kind: Notice | str
    """A :class:`~psoas_sense.vocab.Notice` (open: kept as written). ``breath_hold`` /
    ``breathing_resumed`` (no breathing movement for a while, and back),
    ``signal_lost`` / ``signal_restored`` (a gap in the samples), ``stuck_axis`` /
    ``axis_recovered`` (an accelerometer axis pinned, e.g. the H10's -2000 mG fault), ``motion``
    (body movement reset the filters), ``polarity`` (which way is the inhale, with a confidence),
    ``exhale_expected`` (a prediction of the next exhale on regular breathing)."""
    t_s: float
    """Session seconds at which it was noticed."""
    detail: Mapping[str, Any] = field(default_factory=dict)
    """Extra JSON-serialisable fields."""
    detected_at_s: float = float("nan")
    """Time of the newest sample the core had seen when it emitted the notice (NaN: unknown)."""


CoreEvent = BreathEvent | SignalNotice
"""What the processing pipeline emits."""
