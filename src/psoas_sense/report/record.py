"""The session record: what a session did, typed end to end, built once (:mod:`psoas_sense.report.fold`).

A :class:`Report` holds the session (:class:`SessionInfo`), its totals, its sides, its holds (each
with its breath rows) and the plain-language change lines. The summary screen, ``report`` in
every format, the history screen and the trend read these fields and nothing else; the one place
that turns them into JSON is :func:`to_json` (the ``report --json`` object: a field's name is
its key). Frozen dataclasses, units in the names. Pure.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from psoas_sense.records import PainRecord
from psoas_sense.vocab import BreathSource, CueKind, Ending, HoldKind

FLAT = {"flat": True}
"""Field metadata: the field's own fields are written beside its owner's in JSON (one flat object)."""


@dataclass(frozen=True, slots=True)
class BreathRow:
    """One exhale of a window, breath by breath (detected, or paced by the clock)."""

    breath: int
    """Its number in the window, from 1."""
    exhale_t: float
    """When the exhale began, session seconds."""
    detected_at: float | None
    """When it was known, session seconds (a paced one: its own time)."""
    period_s: float | None
    """Time since the exhale before it (of the whole session), seconds."""
    rate_bpm: float | None
    """60 / period, breaths per minute."""
    detector_rate_bpm: float | None
    """The detector's running breathing rate as it found this exhale (what the session's screen
    showed), breaths per minute (None: a paced one)."""
    exhale_share: float | None
    """Share of this breath spent breathing out (0-1): from the inhale before it to the one after."""
    cue: CueKind | None
    """The kind of the coach's cue on this exhale, if one."""
    cue_latency_s: float | None
    """How long after the exhale began the cue came, seconds."""
    pacer_error_s: float | None
    """Paced breathing: its distance from the pacer's exhale, seconds (negative: early)."""
    source: BreathSource
    """``detector`` or ``pacer``."""


@dataclass(frozen=True, slots=True)
class Figures:
    """What a stretch of the session shows beyond the coach's own counts: from its breath rows,
    its detected breaths and the strap's beats (:mod:`psoas_sense.insight`)."""

    paced_breaths: int
    """Exhales paced by the clock (the pacer led)."""
    min_rate_bpm: float | None
    """Slowest breath (detected), breaths per minute."""
    max_rate_bpm: float | None
    """Fastest breath (detected), breaths per minute."""
    exhale_share: float | None
    """Share of the breaths spent breathing out (0-1), over the detected breaths."""
    cued_exhales: int
    """Detected exhales the coach cued on."""
    mean_cue_latency_s: float | None
    """Mean time from the exhale to its cue, seconds."""
    max_cue_latency_s: float | None
    """Longest time from an exhale to its cue, seconds."""
    ie_ratio: float | None
    """Inhale time over exhale time."""
    depth_rel: float | None
    """Median breath depth against the session's (1.0: as usual; None without a signal amplitude)."""
    hr_bpm: float | None
    """Mean heart rate, beats per minute (None without RR)."""
    rmssd_ms: float | None
    """RMSSD, ectopic and missed beats removed, ms (None without RR)."""
    beats: int | None
    """Beats in the stretch (None without RR)."""
    beats_kept: int | None
    """Beats kept by the artifact rule."""
    following_pct: float | None
    """Share of the heart rate's variation at the pacer's rhythm, percent (None: the pacer did not lead)."""
    rsa_bpm: float | None
    """Heart-rate swing at the pacer's rhythm, beats per minute."""
    rsa_lag_s: float | None
    """Heart-rate peak after the pacer's "breathe out", seconds."""
    paced_cycles: int | None
    """Paced breaths behind the following figures."""


@dataclass(frozen=True, slots=True)
class HoldReport:
    """One hold: the coach's figures, the stretch's, and its breaths."""

    hold: int
    """Its number in the session, from 1."""
    kind: HoldKind
    """``static``, ``active`` or ``tool``."""
    side: str | None
    """The side."""
    point: int
    """Which spot on the side."""
    t_start_s: float
    """When it began, session seconds."""
    t_end_s: float
    """When it ended, session seconds."""
    duration_s: float
    """Its length, seconds."""
    ended_by: Ending
    """How it ended (``time``, ``softened``, ``released``...)."""
    softened: bool
    """The person said the spot softened."""
    cues: int
    """Cues given during it."""
    breaths: int
    """Exhales (the coach's count)."""
    mean_rate_bpm: float | None
    """Breathing rate over its exhales (the coach's), breaths per minute."""
    figures: Figures = field(metadata=FLAT)
    """The stretch's figures."""
    breath_rows: tuple[BreathRow, ...] = ()
    """Its exhales, breath by breath."""


@dataclass(frozen=True, slots=True)
class SideReport:
    """One side: the coach's figures and the stretch's."""

    side: str
    """``left`` or ``right``."""
    t_start_s: float
    """When it began, session seconds."""
    t_end_s: float
    """When it ended, session seconds."""
    duration_s: float
    """Time on the side, seconds."""
    target_s: float
    """The time it should have taken, seconds."""
    ended_by: Ending
    """How it ended."""
    holds: int
    """Holds on the side."""
    hold_s: float
    """Time in holds, seconds."""
    breaths: int
    """Exhales in its holds (the coach's count)."""
    mean_rate_bpm: float | None
    """Breathing rate over its holds' exhales (the coach's), breaths per minute."""
    figures: Figures = field(metadata=FLAT)
    """The side's figures (over the whole side)."""


@dataclass(frozen=True, slots=True)
class Totals:
    """The whole session."""

    duration_s: float | None
    """Its length, seconds."""
    holds: int
    """Holds completed."""
    sides: int
    """Sides completed."""
    pain_stops: int
    """Pain stops."""
    breaths: int
    """Detected exhales."""
    mean_rate_bpm: float | None
    """Breathing rate over the detected exhales, breaths per minute."""
    cues: int | None
    """Cues given (None: no coach)."""
    settled_rate_bpm: float | None
    """The breathing rate once settled in preparation, breaths per minute."""
    fallback_s: float | None
    """Time the pacer led because the breathing could not be followed, seconds."""
    adherence_pct: float | None
    """Paced breathing: adherence to the pacer, percent."""
    figures: Figures = field(metadata=FLAT)
    """The session's figures."""


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """Which session, and how it went."""

    id: int | None
    """Its id in the history (None: not from the history)."""
    file: str | None
    """The recording it comes from (None: not from a recording)."""
    started_at: str | None
    """When it started (ISO 8601), when known."""
    protocol: str | None
    """The protocol asked for (None: no coach)."""
    practised: str | None
    """The protocol practised (``breathing`` when the safety check did not clear massage)."""
    safety: str | None
    """The safety check's answer."""
    ended_by: str | None
    """How it ended (None: interrupted)."""
    interrupted: bool
    """It never said how it ended (a crash, or the history's last commit)."""
    source: Mapping[str, Any]
    """What it ran on, as saved (device, file, kind, streams)."""
    t_start_s: float
    """Session time of its start."""
    t_end_s: float
    """Session time of its end (or of the last data)."""


@dataclass(frozen=True, slots=True)
class Report:
    """What a session did: sides, holds and breaths, with the coach's figures and the physiology."""

    session: SessionInfo
    """Which session."""
    totals: Totals
    """The whole session."""
    sides: tuple[SideReport, ...]
    """Each completed side, in order."""
    holds: tuple[HoldReport, ...]
    """Each completed hold, in order."""
    pain_stops: tuple[PainRecord, ...]
    """Pain stops."""
    changes: tuple[str, ...]
    """Plain-language change lines (first hold against last, first minute against last, side
    against side)."""
    breath_rows: tuple[BreathRow, ...]
    """Every exhale of the session, breath by breath."""

    def holds_of(self, side: SideReport) -> tuple[HoldReport, ...]:
        """The holds of one side."""
        return tuple(h for h in self.holds if h.side == side.side and side.t_start_s <= h.t_start_s <= side.t_end_s)

    def rate_points(self) -> list[tuple[float, float]]:
        """(time, the detector's breathing rate) of each detected exhale, for a chart (the running
        rate the session showed, not one breath's period: a stray close pair is no spike)."""
        return [(b.exhale_t, b.detector_rate_bpm) for b in self.breath_rows if b.detector_rate_bpm is not None]


def to_json(obj: Any) -> Any:
    """A record (or any part of it) as JSON types: each field by its name, nested records as
    objects (a :data:`FLAT` field's beside its owner's), tuples as lists."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = to_json(getattr(obj, f.name))
            if f.metadata.get("flat") and isinstance(value, dict):
                out.update(value)
            else:
                out[f.name] = value
        return out
    if isinstance(obj, (tuple, list)):
        return [to_json(x) for x in obj]
    if isinstance(obj, Mapping):
        return {str(k): to_json(v) for k, v in obj.items()}
    return obj
