"""The history's side file: where a session goes when the database stays locked.

When another process holds the history's write lock past every retry, the session is not lost:
its rows are appended to a side file next to the database (JSON lines, owner-only, created
through :mod:`psoas_sense.safefile`), one ``begin`` record and then one ``progress`` record per
commit, each forced to disk. The next start that gets the lock merges every side file no other
process is still writing (an advisory lock tells) in one transaction, then removes it. A
session already merged (a crash between the commit and the removal) is not merged twice: its
row carries the side file's name in ``source.recovered_from``.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from psoas_sense.errors import OutputError
from psoas_sense.safefile import create_private_fd, open_private, refuse_link

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
_TABLES = ("holds", "sides", "pain_stops", "breaths", "lines", "beats")


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
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path.parent, 0o700)
    except OSError:  # pragma: no cover - not our directory: SQLite will say so
        pass
    try:
        os.close(create_private_fd(path))
    except OutputError:
        if refuse_link(path) is None or not path.is_file():
            raise  # not simply created by another process meanwhile
    return True


def retry_while_locked(
    db: sqlite3.Connection, write: Callable[[], Any], delays_s: Sequence[float], sleep: Callable[[float], None]
) -> bool:
    """Run ``write``; while the database is locked, retry after each of ``delays_s``. False
    when every attempt found it locked. Any other error is raised."""
    for delay in (*delays_s, None):
        try:
            write()
            return True
        except sqlite3.OperationalError as e:
            if db.in_transaction:
                db.execute("ROLLBACK")
            if not is_locked(e):
                raise
        if delay is None:
            return False
        sleep(delay)
    return False  # pragma: no cover - the loop always returns


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


def progress_rows(
    *,
    holds: Sequence[Row],
    sides: Sequence[Row],
    pain_stops: Sequence[Row],
    breaths: Sequence[Row],
    lines: Sequence[Row],
    t_last: float,
    end: Row | None,
    beats: Sequence[Row] = (),
) -> dict[str, Any]:
    """One commit's rows as a JSON object (what the side file keeps, what
    :func:`apply_progress` writes)."""
    return {"holds": [dict(r) for r in holds], "sides": [dict(r) for r in sides],
            "pain_stops": [dict(r) for r in pain_stops], "breaths": [dict(r) for r in breaths],
            "lines": [dict(r) for r in lines], "beats": [dict(r) for r in beats], "t_last": t_last,
            "end": None if end is None else dict(end)}


def apply_progress(db: sqlite3.Connection, session_id: int, rows: Mapping[str, Any]) -> None:
    """Insert one commit's rows inside the caller's transaction (holds and sides numbered in
    order). Column names are checked, since a side file is read back from disk."""
    for table in _TABLES:
        for row in rows.get(table) or ():
            cols = list(row)
            if not all(_COLUMN.match(c) for c in cols):
                raise ValueError(f"bad column name in a {table} row")
            values = [row[c] for c in cols]
            if table in ("holds", "sides"):
                seq = db.execute(f"SELECT COUNT(*) FROM {table} WHERE session_id = ?", (session_id,)).fetchone()[0]
                cols, values = ["seq", *cols], [seq, *values]
            db.execute(f"INSERT INTO {table} (session_id, {', '.join(cols)}) VALUES (?{', ?' * len(cols)})",
                       (session_id, *values))
    end = rows.get("end")
    if end is not None:
        db.execute("UPDATE sessions SET t_last = ?, t_end = ?, ended_by = ?, summary = ? WHERE id = ?",
                   (rows["t_last"], end["t_end"], end["ended_by"], end["summary"], session_id))
    else:
        db.execute("UPDATE sessions SET t_last = ? WHERE id = ?", (rows["t_last"], session_id))


class SideFile:
    """A side file being written by this process (held under an advisory lock until closed).

    Args:
        db_path: the history database it stands in for.
        clock_ns: names the file (injected in tests).
    """

    def __init__(self, db_path: Path, *, clock_ns: Any = time.time_ns) -> None:
        name = SIDE_GLOB.format(db=db_path.name).replace("*", f"{os.getpid()}-{clock_ns()}")
        self.path = db_path.parent / name
        self._f: IO[str] = open_private(self.path, "a")
        _try_lock(self._f.fileno())

    def append(self, record: Mapping[str, Any]) -> None:
        """One record, on disk before this returns."""
        self._f.write(json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        """Release the file (and its lock) so a later start can merge it."""
        if not self._f.closed:
            self._f.close()


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
        except ValueError:
            continue
        if isinstance(obj, dict):
            yield obj


def merge_all(db: sqlite3.Connection, db_path: Path) -> int:
    """Merge every side file no process is writing; returns how many sessions were merged.

    Args:
        db: the open database (this process holds no transaction).
        db_path: its path (side files sit next to it).
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
            records = list(_records(f))
            if _merge_one(db, path.name, records):
                merged += 1
        try:
            os.unlink(path)
        except OSError:
            pass
    return merged


def _merge_one(db: sqlite3.Connection, name: str, records: list[dict[str, Any]]) -> bool:
    begin = next((r for r in records if r.get("kind") == "begin"), None)
    if begin is None:
        return False
    done = db.execute("SELECT 1 FROM sessions WHERE json_extract(source, '$.recovered_from') = ?", (name,)).fetchone()
    if done is not None:
        return False
    db.execute("BEGIN IMMEDIATE")
    try:
        session_id = insert_session(db, {**begin, "source": {**(begin.get("source") or {}), "recovered_from": name}})
        for r in records:
            if r.get("kind") == "progress":
                apply_progress(db, session_id, r["rows"])
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return True
