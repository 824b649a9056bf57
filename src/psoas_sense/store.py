"""Session history in SQLite, in the user data directory (edge code: files, SQLite).

One row per session, written when it starts; every completed hold, side and pain stop is
committed at once together with the breaths and coach lines since the last commit, so a crash
keeps everything up to the last completed hold. The database and its directory are owner-only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psoas_sense import history_spool
from psoas_sense.errors import OutputError, PsoasError
from psoas_sense.events import (
    BreathRecord,
    HoldEnded,
    PainRecord,
    SessionEnded,
    SessionEvent,
    SessionSummary,
    SideEnded,
)
from psoas_sense.serialize import WireError, from_json, summary_from_json, to_json

DB_NAME = "history.sqlite3"
BUSY_TIMEOUT_S = 2.0
"""How long one attempt waits for another process's write lock (SQLite's busy timeout)."""
LOCK_RETRY_DELAYS_S = (0.25, 0.5, 1.0, 2.0)
"""Pauses between attempts on a locked history; after the last, the session goes to a side file."""
SCHEMA_VERSION = 4
"""2: sides carry the coach's mean breathing rate (``mean_rate_bpm``)."""

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


class StoreError(PsoasError):
    """The history database cannot be used."""


def default_path() -> Path:
    """``history.sqlite3`` in the user data directory (``$PSOAS_SENSE_DATA_DIR`` overrides it)."""
    from psoas_sense.config import data_dir

    return data_dir() / DB_NAME


class HistoryStore:
    """The session history database. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        busy_timeout_s: float | None = None,
        retry_delays_s: Sequence[float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._busy_timeout_s = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        self._delays = tuple(LOCK_RETRY_DELAYS_S if retry_delays_s is None else retry_delays_s)
        self._sleep = sleep
        self.side_file: history_spool.SideFile | None = None  # set when the database stayed locked
        self.merged = 0  # sessions merged from side files when this store opened
        try:
            if not history_spool.open_path(self.path, create):
                raise StoreError(f"{self.path}: no history yet (no session has been saved)")
        except OutputError as exc:
            raise StoreError(str(exc)) from None
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=self._busy_timeout_s)
            self.db.row_factory = sqlite3.Row
            self._retrying(self._setup)
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.path}: cannot open the history database: {e}") from None
        if self.side_file is None:
            try:
                self.merged = history_spool.merge_all(self.db, self.path)
            except sqlite3.OperationalError as e:
                if not history_spool.is_locked(e):
                    raise StoreError(f"{self.path}: cannot merge a side file: {e}") from None

    def _setup(self) -> None:
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA synchronous = FULL")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: history written by a newer psoas-sense (schema {version})")
        if version < SCHEMA_VERSION:  # only then write: opening must not need the write lock
            if version == 1:  # a side's mean rate was added in schema 2
                self.db.execute("ALTER TABLE sides ADD COLUMN mean_rate_bpm REAL")
            if 1 <= version < 4:  # holds and sides carry their physiology from schema 4
                for table in ("holds", "sides"):
                    for col in ("exhale_share", "hr_bpm", "rmssd_ms"):
                        self.db.execute(f"ALTER TABLE {table} ADD COLUMN {col} REAL")
            self.db.executescript(_SCHEMA)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _retrying(self, write: Callable[[], Any]) -> bool:
        """``write`` retried while the database is locked; False (and a side file) when it stayed so."""
        if history_spool.retry_while_locked(self.db, write, self._delays, self._sleep):
            return True
        if self.side_file is None:
            self.side_file = history_spool.SideFile(self.path)
        return False

    def close(self) -> None:
        if self.side_file is not None:
            self.side_file.close()
        self.db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------------- writing

    def begin_session(
        self,
        *,
        started_at: str,
        protocol: str,
        practised: str,
        safety: str,
        settings: Mapping[str, Any],
        source: Mapping[str, Any],
        t_start: float,
    ) -> int:
        """Insert a session row (committed at once) and return its id (-1: in the side file)."""
        begin = {"kind": "begin", "started_at": started_at, "protocol": protocol, "practised": practised,
                 "safety": safety, "settings": dict(settings), "source": dict(source), "t_start": t_start}
        ids: list[int] = []
        if self.side_file is None and self._retrying(lambda: ids.append(history_spool.insert_session(self.db, begin))):
            return ids[0]
        assert self.side_file is not None
        self.side_file.append(begin)
        return -1

    def commit_progress(
        self,
        session_id: int,
        *,
        t_last: float,
        holds: Sequence[HoldEnded] = (),
        sides: Sequence[SideEnded] = (),
        pain_stops: Sequence[PainRecord] = (),
        breaths: Sequence[BreathRecord] = (),
        lines: Sequence[SessionEvent] = (),
        end: SessionEnded | None = None,
        beats: Sequence[tuple[float, float]] = (),
    ) -> None:
        """Write completed holds, sides, pain stops, breaths and lines in one transaction
        (retried while the database is locked; then appended to the side file)."""
        rows = history_spool.progress_rows(
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

        def write() -> None:
            self.db.execute("BEGIN IMMEDIATE")
            history_spool.apply_progress(self.db, session_id, rows)
            self.db.execute("COMMIT")

        if self.side_file is None and session_id >= 0 and self._retrying(write):
            return
        assert self.side_file is not None
        self.side_file.append({"kind": "progress", "rows": rows})

    # ---------------------------------------------------------------- reading

    def sessions(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Sessions, newest first, with counts of holds, sides and pain stops."""
        q = (
            "SELECT s.*, (SELECT COUNT(*) FROM holds h WHERE h.session_id = s.id) AS n_holds,"
            " (SELECT COUNT(*) FROM sides d WHERE d.session_id = s.id) AS n_sides,"
            " (SELECT COUNT(*) FROM pain_stops p WHERE p.session_id = s.id) AS n_pain,"
            " (SELECT COUNT(*) FROM breaths b WHERE b.session_id = s.id AND b.kind = 'exhale'"
            "  AND b.source = 'detector') AS n_breaths"
            " FROM sessions s ORDER BY s.id DESC"
        )
        if limit is not None:
            q += f" LIMIT {int(limit)}"
        return [self._session_row(r) for r in self.db.execute(q)]

    @staticmethod
    def _session_row(r: sqlite3.Row) -> dict[str, Any]:
        d = dict(r)
        for k in ("settings", "source", "summary"):
            if d.get(k) is not None:
                d[k] = json.loads(d[k])
        d["interrupted"] = d.get("ended_by") is None
        return d

    def session(self, session_id: int) -> dict[str, Any]:
        """Everything stored about one session."""
        row = self.db.execute(
            "SELECT s.*, 0 AS n_holds, 0 AS n_sides, 0 AS n_pain, 0 AS n_breaths FROM sessions s WHERE id = ?",
            (session_id,),
        ).fetchone()
        if row is None:
            raise StoreError(f"no session {session_id} in the history ({self.path})")
        out = self._session_row(row)
        for k in ("n_holds", "n_sides", "n_pain", "n_breaths"):
            out.pop(k)

        def rows(q: str) -> list[dict[str, Any]]:
            return [dict(r) for r in self.db.execute(q, (session_id,))]

        out["holds"] = rows(f"SELECT {', '.join(_HOLD_COLS)} FROM holds WHERE session_id = ? ORDER BY seq")
        for h in out["holds"]:
            h["softened"] = bool(h["softened"])
        out["sides"] = rows(f"SELECT {', '.join(_SIDE_COLS)} FROM sides WHERE session_id = ? ORDER BY seq")
        out["pain_stops"] = rows("SELECT t, stage, side, hold FROM pain_stops WHERE session_id = ? ORDER BY t")
        out["breaths"] = rows(f"SELECT {', '.join(_BREATH_COLS)} FROM breaths WHERE session_id = ? ORDER BY rowid")
        out["lines"] = [
            {"event": r["event"], "t": r["t"], **json.loads(r["data"])}
            for r in self.db.execute("SELECT t, event, data FROM lines WHERE session_id = ? ORDER BY rowid",
                                     (session_id,))
        ]
        return out

    def latest_id(self) -> int | None:
        row = self.db.execute("SELECT MAX(id) FROM sessions").fetchone()
        return None if row[0] is None else int(row[0])


    def load(self, session_id: int) -> StoredSession:
        """One session as typed records (what reports and the history screen read)."""
        s = self.session(session_id)
        holds = [
            HoldEnded(t_s=h["t_end"], kind=h["kind"], side=h["side"], point=int(h["point"] or 0),
                      t_start_s=h["t_start"], duration_s=h["duration_s"], breaths=h["breaths"], cues=h["cues"],
                      mean_rate_bpm=h["mean_rate_bpm"], ended_by=h["ended_by"], softened=bool(h["softened"]),
                      exhale_share=h["exhale_share"], hr_bpm=h["hr_bpm"], rmssd_ms=h["rmssd_ms"])
            for h in s["holds"]
        ]
        sides = [
            SideEnded(t_s=d["t_end"], side=d["side"], index=i, t_start_s=d["t_start"], duration_s=d["duration_s"],
                      target_s=d["target_s"], holds=d["holds"], hold_s=d["hold_s"], breaths=d["breaths"],
                      ended_by=d["ended_by"], mean_rate_bpm=d["mean_rate_bpm"], exhale_share=d["exhale_share"],
                      hr_bpm=d["hr_bpm"], rmssd_ms=d["rmssd_ms"])
            for i, d in enumerate(s["sides"])
        ]
        breaths = [
            BreathRecord(t_s=b["t"], kind=b["kind"], detected_at_s=b["detected_at"] if b["detected_at"] is not None
                         else b["t"], signal=b["signal"] or "", rate_bpm=b["rate_bpm"], quality=b["quality"],
                         source=b["source"], stage=b["stage"], side=b["side"])
            for b in s["breaths"]
        ]
        pains = [PainRecord(t_s=p["t"], stage=p["stage"], side=p["side"], hold=p["hold"]) for p in s["pain_stops"]]
        lines: list[SessionEvent] = []
        for ln in s["lines"]:
            try:
                lines.append(from_json(ln))
            except WireError:
                continue  # a line this version cannot read is left out of the report, not fatal
        summary = None
        if isinstance(s.get("summary"), dict):
            try:
                summary = summary_from_json(s["summary"])
            except WireError:
                summary = None
        return StoredSession(
            id=int(s["id"]), started_at=str(s["started_at"]), protocol=s["protocol"], practised=s["practised"],
            safety=s["safety"], source=dict(s["source"] or {}), settings=dict(s["settings"] or {}),
            t_start_s=float(s["t_start"]), t_end_s=float(s["t_end"] if s["t_end"] is not None else s["t_last"]),
            ended_by=s["ended_by"], summary=summary, holds=holds, sides=sides, breaths=breaths, pain_stops=pains,
            lines=lines,
            beats=[(float(t), float(rr)) for t, rr in self.db.execute(
                "SELECT t, rr_ms FROM beats WHERE session_id = ? ORDER BY rowid", (session_id,))],
        )


@dataclass
class StoredSession:
    """A saved session as typed records."""

    id: int
    """Its id in the history."""
    started_at: str
    """When it started (ISO 8601, with its time zone)."""
    protocol: str
    """The protocol asked for."""
    practised: str
    """The protocol practised."""
    safety: str
    """The safety status."""
    source: dict[str, Any]
    """What it ran on (device, file, streams)."""
    settings: dict[str, Any]
    """The coach settings."""
    t_start_s: float
    """Session time of its start."""
    t_end_s: float
    """Session time of its end (or of the last commit, when it was interrupted)."""
    ended_by: str | None
    """How it ended (None: interrupted)."""
    summary: SessionSummary | None
    """Its summary (None: interrupted)."""
    holds: list[HoldEnded] = field(default_factory=list)
    """Completed holds."""
    sides: list[SideEnded] = field(default_factory=list)
    """Completed sides."""
    breaths: list[BreathRecord] = field(default_factory=list)
    """Breath phases seen by the coach."""
    pain_stops: list[PainRecord] = field(default_factory=list)
    """Pain stops."""
    lines: list[SessionEvent] = field(default_factory=list)
    """The coach's other output (cues, pacing...)."""
    beats: list[tuple[float, float]] = field(default_factory=list)
    """Heart beats from the strap, ``(t_s, rr_ms)`` (schema 3 on)."""
