"""The history's side files: where a session goes while the database cannot be written.

While another process holds the history (a backup tool, a second ``psoas-sense history``, a
sync client), the session's writer thread appends what it could not commit to a side file next
to the database (JSON lines, owner-only, created through :mod:`psoas_sense.safefile`, each
record forced to disk): first a ``begin`` record (everything needed to insert the session, and
the id of its row when it already has one), then one ``progress`` record per commit. The file is
merged as soon as the history is free again (by the session itself, or by the next program that
opens the history) in one transaction that also records the file's name in ``merged_files``;
only then is the file removed, so a crash between the commit and the removal never merges it
twice. A side file that cannot be merged (no begin record, a bad row) is renamed aside with a
warning and never blocks the others.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from psoas_sense.errors import OutputError
from psoas_sense.history_schema import LEGACY_TABLES, ROW_TABLES, legacy_end, legacy_events, line_of
from psoas_sense.safefile import create_private_fd, open_private, private_dir, refuse_link

SIDE_GLOB = "{db}.pending-*.jsonl"
"""Side files of the database named ``{db}``."""
MAX_SIDE_LINE_BYTES = 64 << 20
"""A longer line in a side file is skipped (a progress record holds at most a few minutes)."""

try:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True
except ImportError:  # pragma: no cover - Windows: a file being written cannot be removed anyway

    def _try_lock(fd: int) -> bool:
        return True


Row = Mapping[str, Any]
"""One table row: column name -> value (JSON types only)."""
_COLUMN = re.compile(r"^[a-z_]{1,32}$")


def is_locked(exc: sqlite3.Error) -> bool:
    """True when SQLite gave up waiting for another process's lock."""
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def open_path(path: Path, create: bool) -> bool:
    """Check the history's path before SQLite opens it: a symbolic link there (dangling or not)
    is refused; an absent file is created owner-only when ``create``. Returns whether the file
    is there now.

    Raises:
        OutputError: a link, or the file cannot be created.
    """
    if refuse_link(path) is not None:
        return True
    if not create:
        return False
    private_dir(path.parent)
    try:
        os.close(create_private_fd(path))
    except OutputError:
        if refuse_link(path) is None or not path.is_file():
            raise  # not simply created by another process meanwhile
    return True


def insert_session(db: sqlite3.Connection, begin: Mapping[str, Any]) -> int:
    """Insert a session row from a ``begin`` record; returns its id."""
    cur = db.execute(
        "INSERT INTO sessions (started_at, protocol, practised, safety, settings, source, t_start, t_last)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (str(begin["started_at"]), str(begin["protocol"]), str(begin["practised"]), str(begin["safety"]),
         json.dumps(begin.get("settings") or {}), json.dumps(begin.get("source") or {}), float(begin["t_start"]),
         float(begin["t_start"])),
    )
    return int(cur.lastrowid or 0)


def apply_progress(db: sqlite3.Connection, session_id: int, rows: Mapping[str, Any]) -> None:
    """Insert one commit's rows inside the caller's transaction (a progress record of
    :func:`psoas_sense.history_schema.progress_of`, or of a version before schema 6, whose hold,
    side, pain and breath rows become their events' lines). Column names are checked, since a
    side file is read back from disk."""
    tables: dict[str, list[Any]] = {t: list(rows.get(t) or ()) for t in ROW_TABLES}
    legacy = {t: rows[t] for t in LEGACY_TABLES if rows.get(t)}
    if legacy:
        first = db.execute("SELECT COUNT(*) FROM lines WHERE session_id = ? AND event = 'side_end'",
                           (session_id,)).fetchone()[0]
        tables["lines"] += [line_of(ev) for ev in legacy_events(legacy, first_side=int(first))]
    end = rows.get("end")
    if end is not None and not any(isinstance(r, Mapping) and r.get("event") == "session_end" for r in tables["lines"]):
        ev = legacy_end(end.get("t_end"), end.get("ended_by"), end.get("summary"))  # before schema 6
        if ev is not None:
            tables["lines"].append(line_of(ev))
    for table, items in tables.items():
        for row in items:
            cols = list(row)
            if not all(_COLUMN.match(c) for c in cols):
                raise ValueError(f"bad column name in a {table} row")
            db.execute(f"INSERT INTO {table} (session_id, {', '.join(cols)}) VALUES (?{', ?' * len(cols)})",
                       (session_id, *[row[c] for c in cols]))
    if end is not None:
        db.execute("UPDATE sessions SET t_last = ?, t_end = ?, ended_by = ?, summary = ? WHERE id = ?",
                   (rows["t_last"], end["t_end"], end["ended_by"], end["summary"], session_id))
    else:
        db.execute("UPDATE sessions SET t_last = MAX(COALESCE(t_last, t_start), ?) WHERE id = ?",
                   (rows["t_last"], session_id))


def save(
    db: sqlite3.Connection,
    session_id: int | None,
    begin: Mapping[str, Any],
    progress: Sequence[Mapping[str, Any]],
    merged_name: str | None = None,
) -> int:
    """One transaction: the session's row when it has none yet, its progress records in order,
    and the name of the side file they also sit in (so it is never merged again). Returns the
    session's id.

    Raises:
        sqlite3.OperationalError: locked or busy (nothing was written), or the disk is full.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        if session_id is None:
            session_id = insert_session(db, begin)
        for rows in progress:
            apply_progress(db, session_id, rows)
        if merged_name is not None:
            db.execute("INSERT OR IGNORE INTO merged_files (name) VALUES (?)", (merged_name,))
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return session_id


class SideFile:
    """A side file being written by this process (held under an advisory lock until closed).

    Args:
        db_path: the history database it stands in for.
        begin: the session's ``begin`` record (written first).
        session_id: the session's row in the database, when it has one already.
        clock_ns: names the file (injected in tests).

    Raises:
        OutputError: it cannot be created.
        OSError: the begin record cannot be written.
    """

    def __init__(self, db_path: Path, begin: Mapping[str, Any], session_id: int | None = None, *,
                 clock_ns: Any = time.time_ns) -> None:
        name = SIDE_GLOB.format(db=db_path.name).replace("*", f"{os.getpid()}-{clock_ns()}")
        self.path = db_path.parent / name
        self._f: IO[str] = open_private(self.path, "a")
        _try_lock(self._f.fileno())
        self._cut = False
        self.records = 0
        """Progress records written."""
        self._write({**begin, "kind": "begin", "db_id": session_id})

    def _write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
        if self._cut:  # a record cut short by an error before: end its line, so it stays apart
            line = "\n" + line
        self._cut = True
        self._f.write(line)
        self._f.flush()
        os.fsync(self._f.fileno())
        self._cut = False

    def append(self, rows: Mapping[str, Any]) -> None:
        """One progress record, on disk before this returns.

        Raises:
            OSError: it could not be written (disk full...); a later append still works.
        """
        self._write({"kind": "progress", "rows": dict(rows)})
        self.records += 1

    def close(self) -> None:
        """Release the file (and its lock) so a later start can merge it."""
        if not self._f.closed:
            try:
                self._f.close()
            except OSError:
                pass

    def discard(self) -> None:
        """Close and remove it: its contents are committed (the caller made sure)."""
        self.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def pending(db_path: Path) -> list[Path]:
    """Side files of ``db_path`` (regular files only: a symlink is never read)."""
    return sorted(p for p in db_path.parent.glob(SIDE_GLOB.format(db=db_path.name))
                  if p.is_file() and not p.is_symlink())


def _records(f: IO[bytes]) -> Iterator[dict[str, Any]]:
    for raw in f:
        if len(raw) > MAX_SIDE_LINE_BYTES or not raw.endswith(b"\n"):
            continue  # cut short by a crash, or not ours: skipped
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if isinstance(obj, dict):
            yield obj


def merge_all(db: sqlite3.Connection, db_path: Path, notices: list[str] | None = None) -> int:
    """Merge every side file no process is writing; returns how many were merged.

    A file is removed only after its contents are committed (or when it is empty); one that
    cannot be merged is renamed ``*.bad`` and said in ``notices``. A locked database stops
    the merging (the files wait for the next time).

    Args:
        db: the open database (this process holds no transaction).
        db_path: its path (side files sit next to it).
        notices: where to say what was set aside.

    Raises:
        sqlite3.OperationalError: the database is locked (or full): nothing more was merged.
    """
    merged = 0
    for path in pending(db_path):
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError:
            continue
        with os.fdopen(fd, "rb") as f:
            if not _try_lock(f.fileno()):
                continue  # still being written by a running session
            if os.fstat(fd).st_size == 0:
                _remove(path)  # created, nothing in it yet (a crash right then)
                continue
            records = list(_records(f))
            try:
                done = _merge_one(db, path.name, records)
            except sqlite3.OperationalError as e:
                if is_locked(e) or "full" in str(e):
                    raise
                done = str(e)
            except (ValueError, TypeError, KeyError, AttributeError, sqlite3.Error) as e:
                done = str(e) or type(e).__name__
            if isinstance(done, str):
                aside = path.with_name(path.name + ".bad")
                try:
                    os.rename(path, aside)
                except OSError:
                    continue
                if notices is not None:
                    notices.append(f"history side file {path.name} could not be merged ({done}); "
                                   f"set aside as {aside.name}")
                continue
            merged += int(done)
        _remove(path)
    return merged


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _merge_one(db: sqlite3.Connection, name: str, records: list[dict[str, Any]]) -> bool | str:
    """True: merged now; False: merged before; a string: why it cannot be merged."""
    begin = next((r for r in records if r.get("kind") == "begin"), None)
    if begin is None:
        return "no begin record"
    if db.execute("SELECT 1 FROM merged_files WHERE name = ?", (name,)).fetchone() is not None:
        return False
    done = db.execute("SELECT 1 FROM sessions WHERE json_extract(source, '$.recovered_from') = ?", (name,)).fetchone()
    if done is not None:
        return False  # merged by a version before merged_files
    progress = [r["rows"] for r in records if r.get("kind") == "progress"]
    if not all(isinstance(p, dict) for p in progress):
        return "a progress record is not an object"
    session_id = begin.get("db_id")
    if isinstance(session_id, int) and not isinstance(session_id, bool):
        row = db.execute("SELECT started_at, t_start FROM sessions WHERE id = ?", (session_id,)).fetchone()
        if row is None or (str(row[0]), float(row[1])) != (str(begin["started_at"]), float(begin["t_start"])):
            session_id = None  # not that session's row (gone, or another database): a row of its own
    else:
        session_id = None
    if session_id is None:
        begin = {**begin, "source": {**(begin.get("source") or {}), "recovered_from": name}}
    save(db, session_id, begin, progress, merged_name=name)
    return True
