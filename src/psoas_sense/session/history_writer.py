"""Saving a session off the event loop: one writer thread per session, with its own queue.

The session only enqueues (:meth:`HistoryWriter.put`); the thread commits. A history another
program holds (a backup, a second ``psoas-sense history``, a sync client) or a slow disk delays
the save, never a cue or a pain stop. What cannot be committed is appended at once to a side
file (:mod:`psoas_sense.history_spool`), beginning with everything needed to merge it, and the
thread tries again every :data:`RETRY_EVERY_S` seconds; as soon as the history is free, the
side file's records are committed in one transaction and only then is the file removed. At the
end a last attempt is made; what is still locked stays in the closed side file, which the next
program to open the history merges. Problems are reported once each, as one line.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from psoas_sense import history_spool
from psoas_sense.errors import OutputError
from psoas_sense.store import HistoryLocked, HistoryStore, StoreError

RETRY_EVERY_S = 2.0
"""While the history is held, try again this often (wall seconds, in the writer thread)."""
WRITE_BUSY_S = 1.0
"""One attempt waits this long for another program's lock (then the side file takes the rows)."""
FINAL_BUSY_S = 0.25
"""The last attempt at the end of a session waits this long (the side file keeps the rest)."""


class HistoryWriter:
    """The thread that saves one session.

    Args:
        path: the history database (None: the user's).
        begin: the session's ``begin`` record (:func:`psoas_sense.history_schema.begin_record`).
        busy_timeout_s: how long one attempt waits for a lock.
        retry_every_s: how often a held history is tried again.
    """

    def __init__(
        self,
        path: str | Path | None,
        begin: Mapping[str, Any],
        *,
        busy_timeout_s: float = WRITE_BUSY_S,
        retry_every_s: float = RETRY_EVERY_S,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.begin = dict(begin)
        self.session_id: int | None = None
        """The session's row, once it is in the database."""
        self.side_file: history_spool.SideFile | None = None
        """Where the rows wait while the history is held."""
        self.committed = 0
        """Progress records committed to the database."""
        self._busy_s = busy_timeout_s
        self._retry_s = retry_every_s
        self._q: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._problems: list[str] = []
        self._said: set[str] = set()
        self._lock = threading.Lock()
        self._store: HistoryStore | None = None
        self._pending: list[dict[str, Any]] = []
        """Progress records not yet in the database, in order."""
        self._spooled = 0
        """How many of them the side file holds."""
        self._merged_others = False
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="history-writer", daemon=False)
        self._thread.start()

    # ------------------------------------------------------------------ the session's side

    def put(self, rows: Mapping[str, Any]) -> None:
        """Queue one commit's rows (returns at once)."""
        self._idle.clear()
        self._q.put(("progress", dict(rows)))

    def close(self, timeout_s: float | None = None) -> bool:
        """Ask for the last save and wait up to ``timeout_s`` (None: until done). True when the
        thread finished; otherwise it finishes on its own (the program waits for it at exit)."""
        self._q.put(("close", None))
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Wait until everything queued so far was handled (tests; never the event loop)."""
        return self._idle.wait(timeout_s)

    def take_problems(self) -> list[str]:
        """Problems met since the last call, one line each."""
        with self._lock:
            out, self._problems = self._problems, []
        return out

    def _say(self, key: str, message: str) -> None:
        with self._lock:
            if key not in self._said:
                self._said.add(key)
                self._problems.append(message)

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        closing = False
        try:
            self._save()  # the session's row, at once
            while not closing:
                try:
                    kind, rows = self._q.get(timeout=self._retry_s if self._pending else 1.0)
                except queue.Empty:
                    kind, rows = "", None
                    if not threading.main_thread().is_alive():
                        closing = True  # the program is ending without a close: save what there is
                while True:
                    if kind == "progress":
                        self._pending.append(rows)
                    elif kind == "close":
                        closing = True
                    try:
                        kind, rows = self._q.get_nowait()
                    except queue.Empty:
                        break
                if closing and self._store is not None:
                    self._store.db.execute(f"PRAGMA busy_timeout = {int(FINAL_BUSY_S * 1000)}")
                if self._pending or self.session_id is None:
                    self._save()
                if self._q.empty() and not self._pending:
                    self._idle.set()
        except Exception as exc:  # noqa: BLE001 - a bug here must not take the session with it
            self._say("bug", f"history not saved: {type(exc).__name__}: {exc}")
        finally:
            self._finish()

    def _finish(self) -> None:
        if self.side_file is not None:
            self.side_file.close()
            if self._pending:
                self._say("kept", f"history still in use: the session is saved the next time it is opened "
                                  f"(kept in {self.side_file.path.name})")
        elif self._pending:
            self._say("lost", "history not saved: the end of the session could not be written")
        if self._store is not None:
            self._store.close()
            self._store = None
        self._idle.set()

    def _open(self) -> HistoryStore:
        if self._store is None:
            self._store = HistoryStore(self.path, busy_timeout_s=self._busy_s, merge=False)
            for notice in self._store.notices:
                self._say(notice, notice)
        return self._store

    def _save(self) -> None:
        """Commit the session's row and every pending record in one transaction; on a lock,
        make sure the side file holds them all."""
        try:
            store = self._open()
            side = self.side_file
            self.session_id = history_spool.save(store.db, self.session_id, self.begin, self._pending,
                                                 merged_name=side.path.name if side is not None else None)
        except (HistoryLocked, sqlite3.OperationalError) as exc:
            self._spool(exc)
            return
        except StoreError as exc:  # a link, a directory we cannot write: said once, kept trying
            self._say("store", f"history not saved: {exc}")
            self._spool(exc)
            return
        self.committed += len(self._pending)
        self._pending = []
        self._spooled = 0
        if self.side_file is not None:
            self._say(f"free {self.side_file.path.name}", "history free again: the session is saved")
            self.side_file.discard()
            self.side_file = None
        if not self._merged_others:
            self._merged_others = True
            store.merge_pending()
            for notice in store.notices:
                self._say(notice, notice)

    def _spool(self, why: Exception) -> None:
        if isinstance(why, sqlite3.OperationalError) and not history_spool.is_locked(why):
            self._say(f"db {why}", f"history not saved yet: {why}; trying again")
        try:
            if self.side_file is None:
                self.side_file = history_spool.SideFile(self._db_path(), self.begin, self.session_id)
                self._spooled = 0
                self._say("locked", f"history in use by another program: saving when it is free "
                                    f"(kept in {self.side_file.path.name})")
            for rows in self._pending[self._spooled:]:
                self.side_file.append(rows)
                self._spooled += 1
        except (OSError, OutputError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            self._say("side", f"history side file not written: {reason}; the session is kept in memory "
                              "and saved when it can be")

    def _db_path(self) -> Path:
        if self.path is not None:
            return self.path
        from psoas_sense.store import default_path

        return default_path()
