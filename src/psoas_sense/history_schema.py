"""The history's tables, and a session's rows as JSON objects (what the database and a side
file hold). Pure: no file, no SQLite connection."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from psoas_sense import history_spool
from psoas_sense.events import BreathRecord, HoldEnded, PainRecord, SessionEnded, SessionEvent, SideEnded
from psoas_sense.serialize import to_json

SCHEMA_VERSION = 5
"""2: sides carry the coach's mean breathing rate (``mean_rate_bpm``); 3: beats; 4: physiology
of holds and sides; 5: ``merged_files`` (side files already merged)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    protocol TEXT NOT NULL,
    practised TEXT NOT NULL,
    safety TEXT NOT NULL,
    settings TEXT NOT NULL,
    source TEXT NOT NULL,
    t_start REAL NOT NULL,
    t_last REAL,
    t_end REAL,
    ended_by TEXT,
    summary TEXT
);
CREATE TABLE IF NOT EXISTS holds (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    side TEXT,
    point INTEGER,
    t_start REAL NOT NULL,
    t_end REAL NOT NULL,
    duration_s REAL NOT NULL,
    breaths INTEGER NOT NULL,
    mean_rate_bpm REAL,
    cues INTEGER NOT NULL,
    ended_by TEXT NOT NULL,
    softened INTEGER NOT NULL,
    exhale_share REAL,
    hr_bpm REAL,
    rmssd_ms REAL,
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS sides (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    side TEXT NOT NULL,
    t_start REAL NOT NULL,
    t_end REAL NOT NULL,
    duration_s REAL NOT NULL,
    target_s REAL NOT NULL,
    holds INTEGER NOT NULL,
    hold_s REAL NOT NULL,
    breaths INTEGER NOT NULL,
    ended_by TEXT NOT NULL,
    mean_rate_bpm REAL,
    exhale_share REAL,
    hr_bpm REAL,
    rmssd_ms REAL,
    PRIMARY KEY (session_id, seq)
);
CREATE TABLE IF NOT EXISTS pain_stops (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    t REAL NOT NULL,
    stage TEXT,
    side TEXT,
    hold TEXT
);
CREATE TABLE IF NOT EXISTS breaths (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    t REAL NOT NULL,
    kind TEXT NOT NULL,
    detected_at REAL,
    signal TEXT,
    rate_bpm REAL,
    quality REAL,
    source TEXT NOT NULL,
    stage TEXT,
    side TEXT
);
CREATE TABLE IF NOT EXISTS lines (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    t REAL NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS beats (
    session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    t REAL NOT NULL,
    rr_ms REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS merged_files (
    name TEXT PRIMARY KEY
);
CREATE INDEX IF NOT EXISTS beats_by_session ON beats(session_id, t);
CREATE INDEX IF NOT EXISTS breaths_by_session ON breaths(session_id, t);
CREATE INDEX IF NOT EXISTS lines_by_session ON lines(session_id, t);
"""

_PHYSIO_COLS = ("exhale_share", "hr_bpm", "rmssd_ms")
_HOLD_COLS = (
    "kind", "side", "point", "t_start", "t_end", "duration_s", "breaths", "mean_rate_bpm", "cues", "ended_by",
    "softened", *_PHYSIO_COLS,
)
_SIDE_COLS = (
    "side", "t_start", "t_end", "duration_s", "target_s", "holds", "hold_s", "breaths", "ended_by", "mean_rate_bpm",
    *_PHYSIO_COLS,
)
_BREATH_COLS = ("t", "kind", "detected_at", "signal", "rate_bpm", "quality", "source", "stage", "side")


def begin_record(
    *,
    started_at: str,
    protocol: str,
    practised: str,
    safety: str,
    settings: Mapping[str, Any],
    source: Mapping[str, Any],
    t_start: float,
) -> dict[str, Any]:
    """What a session's row is made of (JSON types: a side file keeps it too)."""
    return {"kind": "begin", "started_at": started_at, "protocol": protocol, "practised": practised,
            "safety": safety, "settings": json.loads(json.dumps(dict(settings))),
            "source": json.loads(json.dumps(dict(source))), "t_start": float(t_start)}


def progress_of(
    *,
    t_last: float,
    holds: Sequence[HoldEnded] = (),
    sides: Sequence[SideEnded] = (),
    pain_stops: Sequence[PainRecord] = (),
    breaths: Sequence[BreathRecord] = (),
    lines: Sequence[SessionEvent] = (),
    end: SessionEnded | None = None,
    beats: Sequence[tuple[float, float]] = (),
) -> dict[str, Any]:
    """Completed holds, sides, pain stops, breaths, lines and beats as one commit's rows (JSON
    types, what :func:`psoas_sense.history_spool.apply_progress` writes and a side file keeps)."""
    return history_spool.progress_rows(
        holds=[dict(zip(_HOLD_COLS, (h.kind, h.side, h.point, h.t_start_s, h.t_s, h.duration_s, h.breaths,
                                     h.mean_rate_bpm, h.cues, h.ended_by, int(h.softened), h.exhale_share,
                                     h.hr_bpm, h.rmssd_ms))) for h in holds],
        sides=[dict(zip(_SIDE_COLS, (sd.side, sd.t_start_s, sd.t_s, sd.duration_s, sd.target_s, sd.holds,
                                     sd.hold_s, sd.breaths, sd.ended_by, sd.mean_rate_bpm, sd.exhale_share,
                                     sd.hr_bpm, sd.rmssd_ms))) for sd in sides],
        pain_stops=[{"t": p.t_s, "stage": p.stage, "side": p.side, "hold": p.hold} for p in pain_stops],
        breaths=[dict(zip(_BREATH_COLS, (b.t_s, b.kind, b.detected_at_s, b.signal, b.rate_bpm, b.quality,
                                         b.source, b.stage, b.side))) for b in breaths],
        lines=[{"t": o.pop("t"), "event": o.pop("event"), "data": json.dumps(o)} for o in map(to_json, lines)],
        t_last=t_last,
        beats=[{"t": t, "rr_ms": rr} for t, rr in beats],
        end=None if end is None else {"t_end": end.t_s, "ended_by": end.ended_by,
                                      "summary": json.dumps(to_json(end)["summary"])},
    )
