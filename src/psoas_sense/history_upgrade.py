"""Upgrading an older history to the current schema (edge code: SQLite), inside the caller's
transaction: the whole upgrade or none of it.

Schema 6 keeps every event of a session as its line. Histories of schema 1-5 kept holds, sides,
pain stops and breaths in tables of their own, and a session's end only in its row: each row
becomes the event it stands for (:func:`psoas_sense.history_schema.legacy_events`; a row that
cannot be read is left out, never the upgrade), the hold, side and pain lines those versions
also kept give way to the table's rows (which had the exact start and every figure), and the old
tables are dropped once their rows are lines.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from psoas_sense.history_schema import (
    _SCHEMA,
    LEGACY_TABLES,
    LINE_EVENTS_OF_LEGACY,
    legacy_end,
    legacy_events,
    line_of,
)

_ORDER = {"holds": "seq", "sides": "seq", "pain_stops": "t", "breaths": "rowid"}
"""How each old table's rows are ordered."""


def insert_lines(db: sqlite3.Connection, session_id: int, lines: list[dict[str, Any]]) -> None:
    """Insert ``lines`` rows (``t``, ``event``, ``data``) of one session."""
    db.executemany("INSERT INTO lines (session_id, t, event, data) VALUES (?, ?, ?, ?)",
                   [(session_id, ln["t"], ln["event"], ln["data"]) for ln in lines])


def create(db: sqlite3.Connection) -> None:
    """Create what is missing of the current schema."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def upgrade(db: sqlite3.Connection, version: int) -> None:
    """Bring a history of schema ``version`` (0: a new file) to the current one (in the caller's
    transaction; the caller sets ``user_version``)."""
    create(db)
    if version == 0:
        return
    tables = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    old = [t for t in LEGACY_TABLES if t in tables]
    for (sid,) in db.execute("SELECT id FROM sessions ORDER BY id").fetchall():
        events = []
        for table in old:
            cur = db.execute(f"SELECT * FROM {table} WHERE session_id = ? ORDER BY {_ORDER[table]}", (sid,))
            names = [d[0] for d in cur.description]
            for i, values in enumerate(cur.fetchall()):
                row = dict(zip(names, values, strict=True))
                try:
                    events += legacy_events({table: [row]}, first_side=i)
                except (ValueError, KeyError, TypeError):
                    continue  # a row this version cannot read is left out
        if old:
            marks = ", ".join("?" * len(LINE_EVENTS_OF_LEGACY))
            db.execute(f"DELETE FROM lines WHERE session_id = ? AND event IN ({marks})", (sid, *LINE_EVENTS_OF_LEGACY))
        lines = [line_of(ev) for ev in events]
        has_end = db.execute("SELECT 1 FROM lines WHERE session_id = ? AND event = 'session_end'", (sid,)).fetchone()
        if has_end is None:
            t_end, ended_by, summary = db.execute("SELECT t_end, ended_by, summary FROM sessions WHERE id = ?",
                                                  (sid,)).fetchone()
            end = legacy_end(t_end, ended_by, summary)
            if end is not None:
                lines.append(line_of(end))
        insert_lines(db, sid, lines)
    for table in old:
        db.execute(f"DROP TABLE {table}")
