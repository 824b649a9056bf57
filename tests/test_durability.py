"""Durability: a recording is on disk within a second of a write even when no write follows;
a locked history retries with backoff, then keeps the session in a side file the next start
merges. No test waits on the wall clock: the timer and the sleeps are injected."""

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
from psoas_sense.events import BreathRecord, PainRecord
from psoas_sense.model import Status
from psoas_sense.recording.format import FSYNC_INTERVAL_S, Header, read_recording
from psoas_sense.session.sinks import Recorder
from psoas_sense.store import HistoryStore, StoreError

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
    assert "not synced" in err.message and err.t_s == 1.0
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


def _begin(store: HistoryStore) -> int:
    return store.begin_session(started_at="2026-01-01T10:00:00+00:00", protocol="manual", practised="manual",
                               safety="ok", settings={"hold_s": 45.0}, source={"file": "x"}, t_start=0.0)


def _progress(store: HistoryStore, sid: int, t: float) -> None:
    store.commit_progress(sid, t_last=t, pain_stops=[PainRecord(t_s=t, stage="hold", side="left", hold="static")],
                          breaths=[BreathRecord(t_s=t, kind="exhale", detected_at_s=t + 0.3, signal="resp",
                                                rate_bpm=6.0, quality=0.8, source="detector", stage=None,
                                                side="left")])


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


def test_locked_history_retries_then_keeps_a_side_file_that_the_next_start_merges(locked_db) -> None:
    path, other = locked_db
    sleeps: list[float] = []
    store = HistoryStore(path, busy_timeout_s=0.001, retry_delays_s=(0.5, 1.0, 2.0), sleep=sleeps.append)
    sid = _begin(store)
    assert sleeps == [0.5, 1.0, 2.0]  # backoff, on an injected sleep
    assert sid == -1 and store.side_file is not None
    side = store.side_file.path
    assert stat.S_IMODE(side.stat().st_mode) == 0o600 and side.parent == path.parent
    _progress(store, sid, 10.0)
    _progress(store, sid, 20.0)
    assert sleeps == [0.5, 1.0, 2.0]  # once in the side file, no more waiting
    # a start while the session still writes it: the side file is left alone
    other.execute("ROLLBACK")
    with HistoryStore(path, busy_timeout_s=0.001, retry_delays_s=()) as busy:
        assert busy.merged == 0 and side.exists()
    store.close()
    with HistoryStore(path) as nxt:
        assert nxt.merged == 1 and not side.exists()
        (row,) = nxt.sessions()
        s = nxt.session(row["id"])
    assert s["source"] == {"file": "x", "recovered_from": side.name}
    assert [p["t"] for p in s["pain_stops"]] == [10.0, 20.0] and len(s["breaths"]) == 2
    with HistoryStore(path) as again:
        assert again.merged == 0 and len(again.sessions()) == 1


def test_a_merge_is_never_repeated(tmp_path: Path, locked_db) -> None:
    path, other = locked_db
    store = HistoryStore(path, busy_timeout_s=0.001, retry_delays_s=(), sleep=lambda s: None)
    _progress(store, _begin(store), 5.0)
    side = store.side_file.path  # type: ignore[union-attr]
    store.close()
    other.execute("ROLLBACK")
    copy = side.read_bytes()
    with HistoryStore(path) as s1:
        assert s1.merged == 1
    side.write_bytes(copy)  # a crash between the merge's commit and the removal
    os.chmod(side, 0o600)
    with HistoryStore(path) as s2:
        assert s2.merged == 0 and len(s2.sessions()) == 1 and not side.exists()


def test_side_file_lines_cut_short_or_hostile_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    HistoryStore(path).close()
    side = path.parent / f"{path.name}.pending-1-1.jsonl"
    begin = {"kind": "begin", "started_at": "x", "protocol": "manual", "practised": "manual", "safety": "ok",
             "settings": {}, "source": {}, "t_start": 0.0}
    bad = {"kind": "progress", "rows": {"holds": [{"kind); DROP TABLE sessions; --": 1}], "t_last": 1.0, "end": None}}
    side.write_text(json.dumps(begin) + "\n" + json.dumps(bad) + "\n" + '{"kind": "progr')
    with pytest.raises(ValueError, match="bad column"):
        HistoryStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0  # rolled back, table intact


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
