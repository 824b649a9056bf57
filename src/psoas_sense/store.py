"""Session history in SQLite, in the user data directory (edge code: files, SQLite).

One row per session; every completed hold, side and pain stop, and at least every 10 s of
session otherwise, is committed with the breaths and coach lines since the last commit (by the
session's writer thread, :mod:`psoas_sense.session.history_writer`, never by the event loop),
so a crash loses at most the last few seconds. The database and its directory are owner-only.
A damaged history, or one written by a newer version, is renamed aside and a fresh one started
(said once, in :attr:`HistoryStore.notices`); schema upgrades run in one transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psoas_sense import history_spool
from psoas_sense.errors import OutputError, PsoasError
from psoas_sense.events import (
    BreathRecord,
    HoldEnded,
    PainRecord,
    SessionEvent,
    SessionSummary,
    SideEnded,
)
from psoas_sense.history_schema import (
    _BREATH_COLS,
    _HOLD_COLS,
    _SCHEMA,
    _SIDE_COLS,
    SCHEMA_VERSION,
    begin_record,
    progress_of,
)
from psoas_sense.serialize import WireError, from_json, summary_from_json

DB_NAME = "history.sqlite3"
BUSY_TIMEOUT_S = 2.0
"""How long one attempt waits for another process's lock (SQLite's busy timeout)."""
class StoreError(PsoasError):
    """The history database cannot be used."""


class HistoryLocked(StoreError):
    """Another process holds the history: try again later."""


class _Unusable(Exception):
    """The file is not a history this version can use (damaged, or newer); ``why`` says so."""

    def __init__(self, why: str, suffix: str) -> None:
        super().__init__(why)
        self.why = why
        self.suffix = suffix


def default_path() -> Path:
    """``history.sqlite3`` in the user data directory (``$PSOAS_SENSE_DATA_DIR`` overrides it)."""
    from psoas_sense.config import data_dir

    return data_dir() / DB_NAME


class HistoryStore:
    """The session history database. Use as a context manager or call :meth:`close`.

    Args:
        path: the database (default: the user's history).
        create: create it when absent, and set a damaged or newer one aside for a fresh one
            (a reader passes False: it never changes what it cannot read).
        busy_timeout_s: how long one statement waits for another process's lock.
        merge: merge the side files waiting next to it (when the database is free).

    Raises:
        StoreError: it cannot be opened (a link, unreadable, damaged or newer for a reader).
        HistoryLocked: another process holds it (only when it must be upgraded or replaced).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        create: bool = True,
        busy_timeout_s: float | None = None,
        merge: bool = True,
    ) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._busy_timeout_s = BUSY_TIMEOUT_S if busy_timeout_s is None else busy_timeout_s
        self.notices: list[str] = []
        """What was done on the way in (a damaged history set aside, a side file set aside)."""
        self.merged = 0  # side files merged when this store opened
        try:
            if not history_spool.open_path(self.path, create):
                raise StoreError(f"{self.path}: no history yet (no session has been saved)")
        except OutputError as exc:
            raise StoreError(str(exc)) from None
        try:
            self.db = self._connect()
        except _Unusable as u:
            if not create:
                raise StoreError(f"{self.path}: {u.why}") from None
            aside = self._set_aside(u)
            self.notices.append(f"{self.path.name}: {u.why}; kept as {aside.name} and a new history started")
            try:
                history_spool.open_path(self.path, create)
                self.db = self._connect()
            except (_Unusable, OutputError) as e:
                raise StoreError(f"{self.path}: cannot start a new history: {e}") from None
        if merge:
            self.merge_pending()

    def merge_pending(self) -> int:
        """Merge the side files no process is writing (the bad ones set aside, said in
        :attr:`notices`); returns how many were merged (0 while another process holds the history)."""
        try:
            n = history_spool.merge_all(self.db, self.path, self.notices)
        except sqlite3.OperationalError:
            return 0  # locked or full: they wait for the next time
        self.merged += n
        return n

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, timeout=self._busy_timeout_s,
                             check_same_thread=False)
        db.row_factory = sqlite3.Row
        try:
            self._setup(db)
        except sqlite3.OperationalError as e:
            db.close()
            if history_spool.is_locked(e):
                raise HistoryLocked(f"{self.path}: the history is in use by another program") from None
            raise StoreError(f"{self.path}: cannot open the history database: {e}") from None
        except sqlite3.DatabaseError as e:  # not a database, malformed
            db.close()
            raise _Unusable(f"damaged ({e})", "damaged") from None
        except BaseException:
            db.close()
            raise
        return db

    def _setup(self, db: sqlite3.Connection) -> None:
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # a damaged file fails here
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise _Unusable(f"written by a newer psoas-sense (schema {version}, this one reads {SCHEMA_VERSION})",
                            f"schema{version}")
        if version == SCHEMA_VERSION:
            return  # opening must not need the write lock
        db.execute("BEGIN IMMEDIATE")  # the whole upgrade or none of it
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]  # another program may have done it
            if version < SCHEMA_VERSION:
                if version == 1:  # a side's mean rate was added in schema 2
                    db.execute("ALTER TABLE sides ADD COLUMN mean_rate_bpm REAL")
                if 1 <= version < 4:  # holds and sides carry their physiology from schema 4
                    for table in ("holds", "sides"):
                        for col in ("exhale_share", "hr_bpm", "rmssd_ms"):
                            db.execute(f"ALTER TABLE {table} ADD COLUMN {col} REAL")
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def _set_aside(self, u: _Unusable) -> Path:
        """Rename the unusable file (and its journal) aside, owner-only as it was; returns its new path."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.{u.suffix}-{stamp}")
        n = 1
        while aside.exists() or aside.is_symlink():
            n += 1
            aside = self.path.with_name(f"{self.path.name}.{u.suffix}-{stamp}-{n}")
        try:
            os.rename(self.path, aside)
        except OSError as e:
            raise StoreError(f"{self.path}: {u.why}; cannot set it aside: {e.strerror or e}") from None
        journal = self.path.with_name(self.path.name + "-journal")
        if journal.is_file() and not journal.is_symlink():
            try:
                os.rename(journal, aside.with_name(aside.name + "-journal"))
            except OSError:
                pass
        return aside

    def close(self) -> None:
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
        """Insert a session row (committed at once) and return its id.

        Raises:
            sqlite3.OperationalError: the database is locked (the session writer keeps a side file).
        """
        return history_spool.save(self.db, None, begin_record(
            started_at=started_at, protocol=protocol, practised=practised, safety=safety, settings=settings,
            source=source, t_start=t_start), ())

    def commit_progress(self, session_id: int, **progress: Any) -> None:
        """Write completed holds, sides, pain stops, breaths and lines in one transaction (the
        arguments of :func:`progress_of`).

        Raises:
            sqlite3.OperationalError: the database is locked (nothing was written).
        """
        history_spool.save(self.db, session_id, {}, [progress_of(**progress)])

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
