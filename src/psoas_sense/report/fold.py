"""One session record from one event stream: the fold every report, screen and trend reads.

:class:`RecordFold` takes a session's typed events and the strap's beats, in whatever way they
come: live from the session loop (:class:`RecordSink`, the summary screen), from the history's
saved events (:mod:`psoas_sense.report.data`), or from a recording (the detector's events found
again, the coach's from its markers). Every event is taken in its wire form (through the one
serializer, :mod:`psoas_sense.serialize`), so a session, its history and its recording give the
same :class:`~psoas_sense.report.record.Report`, field for field; :meth:`RecordFold.report` builds
it (:func:`psoas_sense.report.build.build_report`). Pure, except :class:`RecordSink`'s plumbing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psoas_sense.events import (
    Cue,
    HoldEnded,
    HoldStarted,
    PacedPhase,
    PacingScored,
    PainStopped,
    ProtocolChanged,
    SafetyChecked,
    SessionEnded,
    SessionEvent,
    SideEnded,
    SideStarted,
)
from psoas_sense.model import BreathEvent, Item, RRFrame, SampleFrame
from psoas_sense.report.record import Report
from psoas_sense.serialize import from_json, to_json
from psoas_sense.session.sinks import Sink

RECORD_EVENTS: tuple[type, ...] = (
    BreathEvent, PacedPhase, Cue, PacingScored, HoldStarted, HoldEnded, SideStarted, SideEnded, PainStopped,
    SafetyChecked, ProtocolChanged, SessionEnded,
)
"""The events a record is made of (the others are left out)."""


@dataclass(frozen=True)
class Origin:
    """Where a session's record comes from, and what its events may not say (a session without a
    coach, or one interrupted before its end)."""

    id: int | None = None
    """Its id in the history."""
    file: str | None = None
    """The recording it was read from (or replayed)."""
    started_at: str | None = None
    """When it started (ISO 8601)."""
    source: Mapping[str, Any] = field(default_factory=dict)
    """What it ran on, as saved."""
    protocol: str | None = None
    """The protocol asked for, when no event says it."""
    practised: str | None = None
    """The protocol practised, when no event says it."""
    safety: str | None = None
    """The safety check's answer, when no event says it."""
    ended_by: str | None = None
    """How it ended, when no event says it (a session without a coach; None: interrupted)."""
    t_start_s: float | None = None
    """Its start, when no event says it."""
    t_end_s: float | None = None
    """Its end (or its last data), when no event says it."""


def wire(event: SessionEvent) -> SessionEvent:
    """The event as it is saved and read back (floats to the millisecond, what the line holds)."""
    return from_json(to_json(event))


class RecordFold:
    """A session's events and beats, gathered for its record."""

    def __init__(self) -> None:
        self.phases: list[BreathEvent] = []
        """Detected phase changes."""
        self.paced: list[PacedPhase] = []
        """Phases paced by the clock while the pacer led."""
        self.cues: list[Cue] = []
        self.pacing: list[PacingScored] = []
        self.hold_starts: list[HoldStarted] = []
        self.holds: list[HoldEnded] = []
        self.side_starts: list[SideStarted] = []
        self.sides: list[SideEnded] = []
        self.pain_stops: list[PainStopped] = []
        self.safety: SafetyChecked | None = None
        """The coach's first word (None: no coach)."""
        self.changed: ProtocolChanged | None = None
        self.end: SessionEnded | None = None
        self.beats: list[tuple[float, float]] | None = None
        """The strap's beats ``(t_s, rr_ms)`` (None: none came)."""
        self.t_first_s: float | None = None
        """The first data time seen."""
        self.t_last_s: float | None = None
        """The newest data time seen."""
        self._lists: dict[type, list[Any]] = {
            BreathEvent: self.phases, PacedPhase: self.paced, Cue: self.cues, PacingScored: self.pacing,
            HoldStarted: self.hold_starts, HoldEnded: self.holds, SideStarted: self.side_starts,
            SideEnded: self.sides, PainStopped: self.pain_stops,
        }
        """Where each kind of event that is simply kept goes."""

    def event(self, event: SessionEvent) -> None:
        """One event of the session (those not in :data:`RECORD_EVENTS` are left out)."""
        if not isinstance(event, RECORD_EVENTS):
            return
        ev = wire(event)
        into = self._lists.get(type(ev))
        if into is not None:
            into.append(ev)
        elif isinstance(ev, SafetyChecked):
            self.safety = self.safety or ev
        elif isinstance(ev, ProtocolChanged):
            self.changed = ev
        elif isinstance(ev, SessionEnded):
            self.end = self.end or ev

    def add_beats(self, times_s: Sequence[float], rr_ms: Sequence[float]) -> None:
        """Heartbeats: the time of the beat ending each interval, and the interval (ms)."""
        if not len(times_s):
            return
        if self.beats is None:
            self.beats = []
        self.beats.extend((float(t), float(rr)) for t, rr in zip(times_s, rr_ms, strict=True))

    def seen(self, t_s: float) -> None:
        """Data time ``t_s`` was reached."""
        t = float(t_s)
        if self.t_first_s is None:
            self.t_first_s = t
        self.t_last_s = t if self.t_last_s is None else max(self.t_last_s, t)

    def report(self, origin: Origin | None = None) -> Report:
        """The session's record."""
        from psoas_sense.report.build import build_report

        return build_report(self, origin or Origin())


def build_record(events: Iterable[SessionEvent], beats: Iterable[tuple[float, float]] | None,
          origin: Origin | None = None) -> Report:
    """The record of a session's events and beats (``None``: the strap gave no RR intervals)."""
    fold = RecordFold()
    for ev in events:
        fold.event(ev)
    if beats is not None:
        pairs = list(beats)
        fold.add_beats([t for t, _ in pairs], [rr for _, rr in pairs])
    return fold.report(origin)


class RecordSink(Sink):
    """The fold as a session sink: every event, the RR frames' beats, the data time."""

    def __init__(self) -> None:
        self.fold = RecordFold()

    def item(self, t_s: float, item: Item) -> None:
        self.fold.seen(t_s)

    def frame(self, frame: SampleFrame) -> None:
        if isinstance(frame, RRFrame):
            self.fold.add_beats(frame.t_s.tolist(), frame.rr_ms.tolist())

    def event(self, event: SessionEvent) -> None:
        self.fold.event(event)

    def advance(self, t_s: float) -> None:
        self.fold.seen(t_s)

    def report(self, origin: Origin | None = None) -> Report:
        """The record of what the session did so far."""
        return self.fold.report(origin)
