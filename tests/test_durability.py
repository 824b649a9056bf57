"""Durability: a recording is on disk within a second of a write even when no write follows;
a locked history never holds up the session: its writer thread keeps the rows in a side file
(with its begin record) and merges it as soon as the history is free, or the next program does.
The recording timer is injected; the history tests wait (bounded) for the writer thread."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import stat
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from psoas_sense import history_spool
from psoas_sense.events import PainStopped
from psoas_sense.history_schema import progress_of
from psoas_sense.model import BreathEvent, Status
from psoas_sense.recording.format import FSYNC_INTERVAL_S, Header, read_recording
from psoas_sense.session.history_writer import HistoryWriter
from psoas_sense.session.sinks import Recorder
from psoas_sense.store import HistoryStore, SessionRow, StoreError

pytestmark = pytest.mark.hostile


class FakeTimers:
    """Collects ``schedule(delay, callback)`` calls; :meth:`fire` runs the due ones."""

    def __init__(self) -> None:
        self.pending: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay_s: float, callback: Callable[[], None]) -> object:
        self.pending.append((delay_s, callback))
        return None

    def fire(self) -> None:
        due, self.pending = self.pending, []
        for _, cb in due:
            cb()


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.fsync

    def spy(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", spy)
    return calls


def test_last_line_is_synced_by_the_timer_without_another_write(tmp_path: Path, fsyncs: list[int]) -> None:
    timers = FakeTimers()
    rec = Recorder(tmp_path / "r.jsonl", schedule=timers)
    rec.open(Header(streams={}))
    rec.item(0.5, Status(t_s=0.5, state="streaming"))
    # one timer for the header and the line, due within the interval
    assert [d for d, _ in timers.pending] == [FSYNC_INTERVAL_S]
    before = len(fsyncs)
    timers.fire()  # a second later, nothing else was written: the timer syncs
    assert len(fsyncs) == before + 1
    assert rec.writer is not None and not rec.writer.dirty
    timers.fire()  # nothing pending: no useless sync, no new timer
    assert len(fsyncs) == before + 1 and not timers.pending
    rec.item(0.7, Status(t_s=0.7, state="lost"))  # the next write arms a new timer
    assert len(timers.pending) == 1
    rec.close()
    _, items = read_recording(tmp_path / "r.jsonl")
    assert [i.state for i in items] == ["streaming", "lost"]  # type: ignore[union-attr]


def test_a_failing_sync_is_reported_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    timers = FakeTimers()
    rec = Recorder(tmp_path / "r.jsonl", schedule=timers)
    rec.open(Header(streams={}))
    rec.item(1.0, Status(t_s=1.0, state="streaming"))

    def broken(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", broken)
    timers.fire()
    (err,) = rec.take_errors()
    assert "recording stopped" in err.message and "incomplete" in err.message and err.t_s == 1.0
    monkeypatch.undo()
    rec.close()


async def test_by_default_a_timer_thread_syncs_off_the_event_loop(tmp_path: Path) -> None:
    """The default timer runs on the host's time in its own thread, never on the event loop (a
    session on an emulated strap's virtual clock must not wait for a real timer of ours)."""
    rec = Recorder(tmp_path / "r.jsonl")
    rec.open(Header(streams={}))
    timer = rec._timer
    assert isinstance(timer, threading.Timer) and timer.daemon and timer.interval <= FSYNC_INTERVAL_S
    assert not [h for h in getattr(asyncio.get_running_loop(), "_scheduled", ()) if not h.cancelled()]
    rec.close()
    timer.join(timeout=5.0)
    assert not timer.is_alive()  # cancelled on close


# ------------------------------------------------------------------ locked history


BEGIN = {"kind": "begin", "started_at": "2026-01-01T10:00:00+00:00", "protocol": "manual", "practised": "manual",
         "safety": "ok", "settings": {"hold_s": 45.0}, "source": {"file": "x"}, "t_start": 0.0}


def _rows(t: float, end: bool = False) -> dict[str, object]:
    return progress_of(t_last=t, events=[PainStopped(t, "static", "left", "static", "Stop."),
                                         BreathEvent("exhale", t, t + 0.3, "resp", rate_bpm=6.0, quality=0.8)])


def _saved(store: HistoryStore) -> tuple[SessionRow, list[float], int]:
    """The one session: its row, its pain stops' times, its exhales."""
    (row,) = store.sessions()
    events = store.load(row.id).events
    return row, [e.t_s for e in events if isinstance(e, PainStopped)], row.breaths


def _end(rows: dict[str, object], t: float) -> dict[str, object]:
    return {**rows, "end": {"t_end": t, "ended_by": "done", "summary": "{}"}}


@pytest.fixture
def locked_db(tmp_path: Path):
    path = tmp_path / "history.sqlite3"
    HistoryStore(path).close()  # the schema exists
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holding the write lock
    yield path, other
    if other.in_transaction:
        other.execute("ROLLBACK")
    other.close()


def _writer(path: Path) -> HistoryWriter:
    return HistoryWriter(path, BEGIN, busy_timeout_s=0.001, retry_every_s=0.02)


def _wait(cond: Callable[[], bool]) -> None:
    """Wait for the writer thread (bounded; no fixed sleep decides the outcome)."""
    for _ in range(2000):
        if cond():
            return
        threading.Event().wait(0.005)
    raise AssertionError("the writer thread did not get there")


def test_a_session_begun_while_locked_is_spooled_then_saved_when_the_history_is_free(locked_db) -> None:
    path, other = locked_db
    w = _writer(path)
    w.put(_rows(10.0))
    w.put(_rows(20.0))
    _wait(lambda: w.side_file is not None and w.side_file.records == 2)
    side = w.side_file.path  # type: ignore[union-attr]
    assert stat.S_IMODE(side.stat().st_mode) == 0o600 and side.parent == path.parent
    recs = [json.loads(x) for x in side.read_text().splitlines()]
    assert recs[0]["kind"] == "begin" and recs[0]["db_id"] is None and recs[0]["started_at"] == BEGIN["started_at"]
    assert [r["kind"] for r in recs[1:]] == ["progress", "progress"]
    assert any("in use by another program" in m for m in w.take_problems())
    other.execute("ROLLBACK")  # the other program lets go: merged while the session still runs
    assert w.wait_idle(10)
    assert not side.exists() and w.side_file is None and w.session_id is not None
    w.put(_end(_rows(30.0), 30.0))
    assert w.close(10)
    with HistoryStore(path, create=False) as store:
        row, pains, _ = _saved(store)
    assert row.ended_by == "done" and pains == [10.0, 20.0, 30.0]
    assert row.source == {"file": "x"}  # its own row, not a recovered copy
    assert any("free again" in m for m in w.take_problems())


def test_a_session_ending_while_locked_is_merged_whole_by_the_next_program(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    w = _writer(path)
    w.put(_rows(10.0))
    assert w.wait_idle(10) and w.session_id is not None  # saved directly
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN")
    other.execute("SELECT COUNT(*) FROM sessions").fetchone()  # a reader's transaction: writes cannot commit
    w.put(_rows(20.0))
    w.put(_end(_rows(30.0), 30.0))
    assert w.close(10)
    (side,) = history_spool.pending(path)
    begin = json.loads(side.read_text().splitlines()[0])
    assert begin["db_id"] == w.session_id  # it continues that row
    assert any("kept in" in m and "next time it is opened" in m for m in w.take_problems())
    with HistoryStore(path, create=False, busy_timeout_s=0.001) as busy:
        assert busy.merged == 0 and side.exists()  # still held: it waits, never deleted
    other.execute("ROLLBACK")
    other.close()
    with HistoryStore(path, create=False) as store:
        assert store.merged == 1 and not side.exists()
        row, pains, exhales = _saved(store)
    assert row.id == w.session_id and row.ended_by == "done"
    assert pains == [10.0, 20.0, 30.0] and exhales == 3


def test_a_merge_is_never_repeated(tmp_path: Path, locked_db) -> None:
    path, other = locked_db
    w = _writer(path)
    w.put(_end(_rows(5.0), 5.0))
    assert w.close(10)
    (side,) = history_spool.pending(path)
    other.execute("ROLLBACK")
    copy = side.read_bytes()
    with HistoryStore(path) as s1:
        assert s1.merged == 1
    side.write_bytes(copy)  # a crash between the merge's commit and the removal
    os.chmod(side, 0o600)
    with HistoryStore(path) as s2:
        assert s2.merged == 0 and len(s2.sessions()) == 1 and not side.exists()


def test_one_bad_side_file_is_set_aside_and_the_others_merged(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    HistoryStore(path).close()
    bad_rows = {"lines": [{"t": 1.0, "kind); DROP TABLE sessions; --": 1}], "t_last": 1.0, "end": None}
    files = {
        "1-1": [BEGIN, {"kind": "progress", "rows": bad_rows}],  # a hostile column name
        "1-2": [{"kind": "progress", "rows": _rows(1.0)}],  # no begin record
        "1-3": [BEGIN, {"kind": "progress", "rows": _rows(2.0)}],  # good
    }
    for key, recs in files.items():
        (path.parent / f"{path.name}.pending-{key}.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in recs) + '{"kind": "progr')  # and a line cut short
    with HistoryStore(path) as store:
        assert store.merged == 1
        assert _saved(store)[1] == [2.0]
        notices = store.notices
    assert len(notices) == 2 and all("set aside" in n for n in notices)
    assert sorted(p.name for p in tmp_path.glob("*.bad")) == [
        f"{path.name}.pending-1-1.jsonl.bad", f"{path.name}.pending-1-2.jsonl.bad"]
    assert history_spool.pending(path) == []
    with sqlite3.connect(path) as db:  # rolled back, tables intact
        assert db.execute("SELECT COUNT(*) FROM lines WHERE event = 'pain_stop'").fetchone()[0] == 1


@pytest.mark.parametrize("dangling", [False, True])
def test_a_symlink_at_the_history_path_is_refused(tmp_path: Path, dangling: bool) -> None:
    target = tmp_path / "elsewhere.sqlite3"
    if not dangling:
        HistoryStore(target).close()
    link = tmp_path / "history.sqlite3"
    link.symlink_to(target)
    with pytest.raises(StoreError, match="symbolic link"):
        HistoryStore(link)
    assert dangling != target.exists()


def test_new_history_is_owner_only_under_umask_000(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        HistoryStore(tmp_path / "d" / "history.sqlite3").close()
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "d" / "history.sqlite3").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o700
    assert history_spool.pending(tmp_path / "d" / "history.sqlite3") == []
