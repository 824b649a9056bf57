"""The history's tables, and a session's rows as JSON objects (what the database and a side file
hold). Pure: no file, no SQLite connection.

A session is one row of ``sessions`` (what it ran, when, how it ended) and its events, each saved
as the one serializer writes it (:mod:`psoas_sense.serialize`: one ``lines`` row per event, its
name, its time and the rest of its JSON object), with the strap's beats beside them. Its record
is built from these by the same fold as a live session's (:mod:`psoas_sense.report.fold`), so
nothing here lists a hold's or a breath's fields: a new figure in an event is saved with it.

Histories of schema 5 and before kept holds, sides, pain stops and breaths in tables of their own;
:func:`legacy_events` reads those rows as the events they stand for (the upgrade to schema 6,
and side files written by an older version).
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from psoas_sense.coach.texts import PAIN_STOP
from psoas_sense.events import HoldEnded, PacedPhase, PainStopped, SessionEnded, SessionEvent, SideEnded
from psoas_sense.model import BreathEvent
from psoas_sense.serialize import to_json
from psoas_sense.vocab import BreathSource, Ending, HoldKind, Stage

SCHEMA_VERSION = 6
"""2: sides carry the coach's mean breathing rate (``mean_rate_bpm``); 3: beats; 4: physiology
of holds and sides; 5: ``merged_files`` (side files already merged); 6: every event a record is
made of saved as its line (holds, sides, pain stops and breaths no longer in tables of their own)."""

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
CREATE INDEX IF NOT EXISTS lines_by_session ON lines(session_id, t);
CREATE INDEX IF NOT EXISTS lines_by_event ON lines(session_id, event);
"""

ROW_TABLES = ("lines", "beats")
"""The tables a progress record writes rows into."""
LEGACY_TABLES = ("holds", "sides", "pain_stops", "breaths")
"""Tables of schema 5 and before (their rows are events now)."""
LINE_EVENTS_OF_LEGACY = ("hold_end", "side_end", "pain_stop")
"""Lines that schema 5 and before also kept in a table of their own (the table's row wins)."""


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


def line_of(event: SessionEvent) -> dict[str, Any]:
    """An event as its ``lines`` row: its time, its name and the rest of its JSON object."""
    obj = to_json(event)
    t = obj.pop("t")
    name = obj.pop("event")
    return {"t": t, "event": name, "data": json.dumps(obj, separators=(",", ":"))}


def progress_of(
    *,
    t_last: float,
    events: Sequence[SessionEvent] = (),
    end: SessionEnded | None = None,
    beats: Sequence[tuple[float, float]] = (),
) -> dict[str, Any]:
    """One commit: the events since the last one (the end among them), the beats, and how far the
    session got (JSON types: what :func:`psoas_sense.history_spool.apply_progress` writes and a
    side file keeps)."""
    return {
        "lines": [line_of(ev) for ev in events],
        "beats": [{"t": float(t), "rr_ms": float(rr)} for t, rr in beats],
        "t_last": float(t_last),
        "end": None if end is None else {"t_end": end.t_s, "ended_by": end.ended_by,
                                         "summary": json.dumps(to_json(end)["summary"])},
    }


def _f(x: Any) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"not a number: {x!r}")
    return float(x)


def _of(x: Any) -> float | None:
    return None if x is None else _f(x)


def _os(x: Any) -> str | None:
    return None if x is None else str(x)


W = TypeVar("W", bound=enum.StrEnum)


def _oword(vocabulary: type[W], x: Any) -> W | None:
    """A word of one of the vocabularies, or None for none (``ValueError``: not one of its words)."""
    return vocabulary(str(x)) if x else None


def legacy_events(rows: Mapping[str, Sequence[Mapping[str, Any]]], first_side: int = 0) -> list[SessionEvent]:
    """The events that rows of the schema-5 tables stand for (``holds``, ``sides``, ``pain_stops``,
    ``breaths``, each a list of rows by column name, sides in order from ``first_side``).

    Raises:
        ValueError: a row that is not one (a damaged or hostile side file).
    """
    out: list[SessionEvent] = []
    for h in rows.get("holds") or ():
        out.append(HoldEnded(
            t_s=_f(h["t_end"]), kind=HoldKind(str(h["kind"])), side=_os(h.get("side")), point=int(h.get("point") or 1),
            t_start_s=_f(h["t_start"]), duration_s=_f(h["duration_s"]), breaths=int(h["breaths"]),
            mean_rate_bpm=_of(h.get("mean_rate_bpm")), cues=int(h.get("cues") or 0),
            ended_by=Ending(str(h["ended_by"])),
            softened=bool(h.get("softened")), exhale_share=_of(h.get("exhale_share")), hr_bpm=_of(h.get("hr_bpm")),
            rmssd_ms=_of(h.get("rmssd_ms")),
        ))
    for i, s in enumerate(rows.get("sides") or (), start=first_side):
        out.append(SideEnded(
            t_s=_f(s["t_end"]), side=str(s["side"]), index=i, t_start_s=_f(s["t_start"]),
            duration_s=_f(s["duration_s"]), target_s=_f(s["target_s"]), holds=int(s["holds"]), hold_s=_f(s["hold_s"]),
            breaths=int(s["breaths"]), ended_by=Ending(str(s["ended_by"])), mean_rate_bpm=_of(s.get("mean_rate_bpm")),
            exhale_share=_of(s.get("exhale_share")), hr_bpm=_of(s.get("hr_bpm")), rmssd_ms=_of(s.get("rmssd_ms")),
        ))
    for p in rows.get("pain_stops") or ():
        out.append(PainStopped(_f(p["t"]), _oword(Stage, p.get("stage")), _os(p.get("side")),
                               _oword(HoldKind, p.get("hold")), PAIN_STOP))
    for b in rows.get("breaths") or ():
        exhale = b["kind"] == "exhale"
        if b.get("source") == BreathSource.PACER:
            out.append(PacedPhase(_f(b["t"]), "exhale" if exhale else "inhale", _oword(Stage, b.get("stage")),
                                  _os(b.get("side"))))
        else:
            at = _of(b.get("detected_at"))
            t = _f(b["t"])
            out.append(BreathEvent(kind="exhale" if exhale else "inhale", t_s=t, detected_at_s=t if at is None else at,
                                   signal=str(b.get("signal") or ""), rate_bpm=_of(b.get("rate_bpm")),
                                   quality=_of(b.get("quality"))))
    return out


def legacy_end(t_end: Any, ended_by: Any, summary: Any) -> SessionEnded | None:
    """A saved session's end as its event (schema 5 and before kept it only in its row), or None
    when it has none or its summary cannot be read."""
    from psoas_sense.serialize import WireError, summary_from_json

    if t_end is None or ended_by is None or summary is None:
        return None
    try:
        data = json.loads(summary)
        return SessionEnded(_f(t_end), Ending(str(ended_by)), summary_from_json(data if isinstance(data, dict) else {}))
    except (ValueError, WireError):
        return None
