"""Session history in SQLite, in the user data directory (edge code: files, SQLite).

One row per session, and its events as lines (:mod:`psoas_sense.history_schema`); every
completed hold, side and pain stop, and at least every 10 s of session otherwise, is committed
with the events and beats since the last commit (by the session's writer thread,
:mod:`psoas_sense.session.history_writer`, never by the event loop), so a crash loses at most
the last few seconds. A saved session is read back as typed rows and events
(:meth:`HistoryStore.load`), which the record's fold turns into its report. The database and
its directory are owner-only. A damaged history, or one written by a newer version, is renamed
aside and a fresh one started (said once, in :attr:`HistoryStore.notices`); schema upgrades run
in one transaction (:mod:`psoas_sense.history_upgrade`).
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

from psoas_sense import history_spool, history_upgrade
from psoas_sense.errors import OutputError, PsoasError
from psoas_sense.events import SessionEvent
from psoas_sense.history_schema import SCHEMA_VERSION, begin_record, progress_of
from psoas_sense.serialize import WireError, from_json

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
    from psoas_sense.paths import data_dir

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
                history_upgrade.upgrade(db, version)
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
        """Write a commit's events, beats and end in one transaction (the arguments of
        :func:`progress_of`).

        Raises:
            sqlite3.OperationalError: the database is locked (nothing was written).
        """
        history_spool.save(self.db, session_id, {}, [progress_of(**progress)])

    # ---------------------------------------------------------------- reading

    def sessions(self, limit: int | None = None) -> list[SessionRow]:
        """Sessions, newest first, with counts of holds, sides, pain stops and detected exhales."""
        q = _ROW_QUERY + " ORDER BY s.id DESC"
        if limit is not None:
            q += f" LIMIT {int(limit)}"
        return [_session_row(r) for r in self.db.execute(q)]

    def latest_id(self) -> int | None:
        row = self.db.execute("SELECT MAX(id) FROM sessions").fetchone()
        return None if row[0] is None else int(row[0])

    def load(self, session_id: int) -> StoredSession:
        """One session: its row, its events (a line this version cannot read is left out) and the
        strap's beats.

        Raises:
            StoreError: no such session.
        """
        r = self.db.execute(_ROW_QUERY + " WHERE s.id = ?", (session_id,)).fetchone()
        if r is None:
            raise StoreError(f"no session {session_id} in the history ({self.path})")
        events: list[SessionEvent] = []
        for t, name, data in self.db.execute(
                "SELECT t, event, data FROM lines WHERE session_id = ? ORDER BY rowid", (session_id,)):
            try:
                obj = json.loads(data)
                if isinstance(obj, dict):
                    events.append(from_json({**obj, "event": name, "t": t}))
            except (ValueError, WireError):
                continue  # from another version, or damaged: left out of the record, not fatal
        beats = [(float(t), float(rr)) for t, rr in self.db.execute(
            "SELECT t, rr_ms FROM beats WHERE session_id = ? ORDER BY rowid", (session_id,))]
        return StoredSession(row=_session_row(r), events=events, beats=beats)


_ROW_QUERY = (
    "SELECT s.*,"
    " (SELECT COUNT(*) FROM lines l WHERE l.session_id = s.id AND l.event = 'hold_end') AS n_holds,"
    " (SELECT COUNT(*) FROM lines l WHERE l.session_id = s.id AND l.event = 'side_end') AS n_sides,"
    " (SELECT COUNT(*) FROM lines l WHERE l.session_id = s.id AND l.event = 'pain_stop') AS n_pain,"
    " (SELECT COUNT(*) FROM lines l WHERE l.session_id = s.id AND l.event = 'exhale') AS n_breaths"
    " FROM sessions s"
)


def _json_object(text: Any) -> dict[str, Any]:
    try:
        obj = json.loads(text) if text is not None else {}
    except ValueError:
        return {}
    return obj if isinstance(obj, dict) else {}


def _session_row(r: sqlite3.Row) -> SessionRow:
    return SessionRow(
        id=int(r["id"]), started_at=str(r["started_at"]), protocol=str(r["protocol"]), practised=str(r["practised"]),
        safety=str(r["safety"]), settings=_json_object(r["settings"]), source=_json_object(r["source"]),
        t_start_s=float(r["t_start"]), t_last_s=None if r["t_last"] is None else float(r["t_last"]),
        t_end_s=None if r["t_end"] is None else float(r["t_end"]), ended_by=r["ended_by"],
        holds=int(r["n_holds"]), sides=int(r["n_sides"]), pain_stops=int(r["n_pain"]), breaths=int(r["n_breaths"]),
    )


@dataclass(frozen=True)
class SessionRow:
    """A saved session as the history lists it."""

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
    settings: Mapping[str, Any]
    """The coach settings."""
    source: Mapping[str, Any]
    """What it ran on (device, file, kind, streams)."""
    t_start_s: float
    """Session time of its start."""
    t_last_s: float | None
    """Session time of its last commit."""
    t_end_s: float | None
    """Session time of its end (None: interrupted)."""
    ended_by: str | None
    """How it ended (None: interrupted)."""
    holds: int
    """Completed holds."""
    sides: int
    """Completed sides."""
    pain_stops: int
    """Pain stops."""
    breaths: int
    """Detected exhales."""

    @property
    def interrupted(self) -> bool:
        """It never said how it ended."""
        return self.ended_by is None

    @property
    def t_stop_s(self) -> float:
        """Its end, or its last commit when it was interrupted."""
        return self.t_end_s if self.t_end_s is not None else self.t_last_s if self.t_last_s is not None \
            else self.t_start_s

    @property
    def duration_s(self) -> float:
        """How long it ran (to its last commit when interrupted), seconds."""
        return max(0.0, self.t_stop_s - self.t_start_s)


@dataclass
class StoredSession:
    """A saved session: its row, its events and the strap's beats."""

    row: SessionRow
    """What the history lists of it."""
    events: list[SessionEvent] = field(default_factory=list)
    """Its events, in order (what its record is made of)."""
    beats: list[tuple[float, float]] = field(default_factory=list)
    """Heart beats from the strap, ``(t_s, rr_ms)``."""
