"""Faults the session survives: a held history, a full disk, a removed folder, a closed output,
signals, a kill -9 mid-practice. Sessions run on data time (replays at max speed); the history
tests wait (bounded) for the writer thread."""

from __future__ import annotations

import asyncio
import errno
import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from conftest import RECORDINGS
from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck
from psoas_sense.events import ErrorReported, HoldEnded, PainStopped, SessionEnded
from psoas_sense.model import BreathEvent
from psoas_sense.recording.format import read_recording
from psoas_sense.report import Report
from psoas_sense.report.data import record_of
from psoas_sense.session.commands import parsed_lines
from psoas_sense.session.history import HistorySink
from psoas_sense.session.loop import run_session
from psoas_sense.session.sinks import Collector, JsonPrinter, Recorder
from psoas_sense.sources.replay import ReplaySource
from psoas_sense.store import HistoryStore, SessionRow, default_path

REAL_WRITE = os.write
BELT = RECORDINGS / "neurokit2-resting-belt-rr.jsonl.gz"
ROOT = Path(__file__).resolve().parents[1]


def coach(protocol: str = "breathing", **kw: Any) -> CoachEngine:
    return CoachEngine(CoachSettings(protocol=protocol, **kw), SafetyCheck(confirmed=True, simulated=True))


@dataclass
class Saved:
    """The one saved session: its row, its events and its record."""

    row: SessionRow
    events: list[Any]
    record: Report


def saved() -> Saved:
    with HistoryStore(create=False) as store:
        (row,) = store.sessions()
        s = store.load(row.id)
    return Saved(row, s.events, record_of(s))


# ------------------------------------------------------------------ the history held by another program


async def _lines(*lines: str) -> Any:
    async def text() -> Any:
        for line in lines:
            yield line

    async for asked in parsed_lines(text()):
        yield asked


def test_a_history_held_mid_session_delays_the_save_never_the_pain_stop() -> None:
    """Another program holds the history from minute 2 to the end: the loop never waits for it
    (the pain stop applies at the data time it was sent), and the session is whole once free."""
    path = default_path()
    HistoryStore(path).close()
    eng = coach("manual", side_minutes=3)
    col = Collector()
    history = HistorySink(eng.settings, source={"kind": "test"})
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    class Grab(Collector):
        def advance(self, t_s: float) -> None:
            if t_s >= 120.0 and not holder.in_transaction:
                holder.execute("BEGIN IMMEDIATE")  # a second program takes the write lock

    src = ReplaySource(BELT, loop=True, speed=None)
    asyncio.run(run_session(src, sinks=[col, Grab(), history], coach=eng, commands=_lines("@300 pain")))
    (pain,) = col.of(PainStopped)
    assert 300.0 <= pain.t_s < 302.0  # applied at its data time, the history held or not
    assert col.of(SessionEnded)[0].ended_by == "pain"  # type: ignore[attr-defined]
    side = history.writer.side_file  # type: ignore[union-attr]
    assert side is not None and side.path.exists()  # the rows wait there, with their begin record
    said = [e.message for e in col.of(ErrorReported)]  # type: ignore[attr-defined]
    assert any("in use by another program" in m for m in said)
    holder.execute("ROLLBACK")
    holder.close()
    s = saved()  # the next program to open it merges the side file
    assert s.row.ended_by == "pain" and len(s.record.pain_stops) == 1
    holds = col.of(HoldEnded)
    assert len(holds) >= 3 and [h.t_end_s for h in s.record.holds] == [h.t_s for h in holds]  # type: ignore[attr-defined]
    assert any(h.t_s > 120.0 for h in holds)  # holds ended during the lock are there too  # type: ignore[attr-defined]
    assert not side.path.exists()


def test_breathing_practice_is_saved_every_ten_seconds_of_session() -> None:
    eng = coach("breathing", breathing_minutes=5)
    col = Collector()
    history = HistorySink(eng.settings, source={"kind": "test"})
    commits: list[float] = []
    real_put = None

    class Spy(Collector):
        def event(self, ev: Any) -> None:
            nonlocal real_put
            w = history.writer
            if w is not None and real_put is None:
                real_put = w.put

                def put(rows: Any) -> None:
                    commits.append(rows["t_last"])
                    real_put(rows)  # type: ignore[misc]

                w.put = put  # type: ignore[method-assign]

    src = ReplaySource(BELT, loop=True, speed=None)
    asyncio.run(run_session(src, sinks=[col, Spy(), history], coach=eng))
    gaps = [b - a for a, b in zip(commits, commits[1:], strict=False)]
    assert len(commits) >= 29 and max(gaps) <= 10.0  # 5 minutes, a commit at least every 10 s
    assert saved().row.ended_by == "done"


KILL_SCRIPT = """
import asyncio, os, sys
sys.path.insert(0, {tests!r})
from test_faults import coach, BELT
from psoas_sense.session.history import HistorySink
from psoas_sense.session.loop import run_session
from psoas_sense.session.sinks import Sink
from psoas_sense.sources.replay import ReplaySource

eng = coach("breathing", breathing_minutes=10)
history = HistorySink(eng.settings, source={{"kind": "test"}})

class Kill(Sink):
    def advance(self, t_s):
        if t_s >= 360.0:  # six minutes in: kill -9, once the save a real 6 minutes allowed is done
            history.writer.wait_idle(10)
            os.kill(os.getpid(), 9)

asyncio.run(run_session(ReplaySource(BELT, loop=True, speed=None), sinks=[history, Kill()], coach=eng))
"""


@pytest.mark.slow
def test_kill_9_six_minutes_into_breathing_practice_keeps_at_least_five(tmp_path: Path) -> None:
    script = tmp_path / "kill.py"
    script.write_text(KILL_SCRIPT.format(tests=str(ROOT / "tests")), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=dict(os.environ),
                          timeout=120)
    assert proc.returncode == -9, proc.stderr
    s = saved()
    assert s.row.interrupted and s.row.duration_s >= 350.0
    exhales = [b for b in s.events if isinstance(b, BreathEvent) and b.kind == "exhale"]
    assert exhales and exhales[-1].t_s - s.row.t_start_s >= 300.0


# ------------------------------------------------------------------ a recording that cannot be written


def _enospc_after(monkeypatch: pytest.MonkeyPatch, path: Path, n_bytes: int, code: int = errno.ENOSPC) -> None:
    """Writes to ``path`` fail with ``code`` once ``n_bytes`` are written (part of a write first)."""
    real = os.write
    written = {"n": 0}

    def write(fd: int, data: Any) -> int:
        try:
            same = os.readlink(f"/proc/self/fd/{fd}") == str(path)
        except OSError:
            same = False
        if not same:
            return real(fd, data)
        room = n_bytes - written["n"]
        if room <= 0:
            raise OSError(code, os.strerror(code))
        n = real(fd, bytes(data)[:room])
        written["n"] += n
        return n

    monkeypatch.setattr(os, "write", write)


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG])
def test_a_disk_that_fills_while_recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    out = tmp_path / "session.jsonl.gz"
    _enospc_after(monkeypatch, out, 20_000, code)
    eng = coach("breathing", breathing_minutes=3)
    col = Collector()
    asyncio.run(run_session(ReplaySource(BELT, loop=True, speed=None), coach=eng,
                            sinks=[col, Recorder(out), HistorySink(eng.settings, source={"kind": "test"})]))
    (end,) = col.of(SessionEnded)
    assert end.ended_by == "done"  # type: ignore[attr-defined]
    errs = [e.message for e in col.of(ErrorReported)]  # type: ignore[attr-defined]
    assert len(errs) == 1 and errs[0].startswith("recording stopped: ") and "incomplete" in errs[0]
    assert ("disk is full" if code == errno.ENOSPC else "too large") in errs[0]
    monkeypatch.setattr(os, "write", REAL_WRITE)
    assert 0 < out.stat().st_size <= 20_000
    with pytest.warns(UserWarning):  # what is on disk reads back, cut short, with a warning
        read_recording(out)
    assert saved().row.ended_by == "done"


def test_a_recording_whose_folder_is_removed_says_so_once(tmp_path: Path) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    timers: list[Any] = []
    rec = Recorder(folder / "r.jsonl", schedule=lambda d, cb: timers.append(cb))
    eng = coach("breathing", breathing_minutes=1)
    col = Collector()

    class RemoveAt(Collector):
        def advance(self, t_s: float) -> None:
            if t_s >= 20.0 and folder.exists():
                (folder / "r.jsonl").unlink()
                folder.rmdir()
            while timers:
                timers.pop()()  # the sync timer, as it would fire

    asyncio.run(run_session(ReplaySource(BELT, speed=None), coach=eng, sinks=[col, rec, RemoveAt()]))
    errs = [e.message for e in col.of(ErrorReported)]  # type: ignore[attr-defined]
    assert len(errs) == 1 and "removed" in errs[0] and "incomplete" in errs[0]
    assert col.of(SessionEnded)


# ------------------------------------------------------------------ endings


class _Closed:
    def write(self, text: str) -> int:
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    def flush(self) -> None:
        pass


def test_a_closed_output_ends_the_session_truthfully(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl.gz"
    eng = coach("breathing")
    col = Collector()
    res = asyncio.run(run_session(ReplaySource(BELT, speed=None), coach=eng,
                                  sinks=[JsonPrinter(_Closed()), col, Recorder(out),  # type: ignore[arg-type]
                                         HistorySink(eng.settings, source={})]))
    assert res.stopped_by == "output_closed"
    assert col.of(SessionEnded)[0].ended_by == "output_closed"  # type: ignore[attr-defined]
    with gzip.open(out, "rb") as f:
        f.read()  # a whole gzip stream: the trailer is there
    assert saved().row.ended_by == "output_closed"


def _headless(tmp_path: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "psoas_sense", "session", "--device", "emulated:h10", "--headless",
         "--protocol", "breathing", "--record", str(tmp_path / "s.jsonl.gz"), *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


@pytest.mark.parametrize("sig", [pytest.param("SIGTERM", marks=pytest.mark.slow), "SIGHUP",
                                 pytest.param("SIGINT", marks=pytest.mark.slow)])
def test_signals_in_headless_mode_close_the_recording_and_end_the_history_truthfully(
        tmp_path: Path, sig: str) -> None:
    proc = _headless(tmp_path, "--speed", "4")
    assert proc.stdout is not None
    started = time.monotonic()
    for line in proc.stdout:  # wait for the coach to run (a few seconds of data)
        ev = json.loads(line)
        if ev.get("event") == "stage" or time.monotonic() - started > 30:
            break
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == (130 if sig == "SIGINT" else 0), err
    assert f"stopped by {sig}" in err
    with gzip.open(tmp_path / "s.jsonl.gz", "rb") as f:
        lines = f.read().decode().splitlines()  # whole: trailer present
    assert json.loads(lines[-1]).get("marker") == "session_end"
    assert saved().row.ended_by == ("interrupt" if sig == "SIGINT" else "signal")


def test_the_emulated_straps_bookkeeping_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hours of emulated data keep only the latest sent frames (benchmarks/long_run_memory.py
    measures the whole process over 10 h of data)."""
    from psoas_sense.sources.devices import open_device_source
    from psoas_sense.sources.emulator import strap as strap_mod

    monkeypatch.setattr(strap_mod, "MAX_SENT_KEPT", 50)
    src = open_device_source("emulated:h10", speed=None)
    asyncio.run(run_session(src, sinks=[Collector()], duration_s=120.0))
    strap = src.strap  # type: ignore[attr-defined]
    assert len(strap.sent) == 50 and len(strap.hr_sent) == 50
    assert strap.sent[-1].t_s > 100.0  # the latest are the ones kept


def test_a_survived_error_is_kept_once_in_the_view() -> None:
    from psoas_sense.view import MAX_PROBLEMS, view_of

    said = ErrorReported(10.0, "recording stopped: the disk is full (x.jsonl); the recording is incomplete")
    v = view_of([said, ErrorReported(12.0, said.message), ErrorReported(20.0, "history in use by another program")])
    assert v.problems == (said.message, "history in use by another program")  # each once
    many = view_of([ErrorReported(float(i), f"problem {i}") for i in range(20)])
    assert len(many.problems) == MAX_PROBLEMS and many.problems[-1] == "problem 19"


async def test_the_tui_shows_a_survived_error_quietly_on_the_session_and_summary_screens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.widgets import Static

    from conftest import Gate
    from psoas_sense.session.setup import CoachConfig, RunConfig
    from psoas_sense.ui.app import make_app
    from psoas_sense.ui.audio import CuePlayer
    from psoas_sense.ui.screens.summary import SummaryScreen

    out = tmp_path / "r.jsonl"
    _enospc_after(monkeypatch, out, 5_000)
    gate = Gate(1e9)
    config = RunConfig("replay", file=BELT, speed=1.0, loop=True, record_path=out,
                       coach=CoachConfig(protocol="breathing", overrides={"breathing_minutes": 1.0},
                                         simulated_safety=True, save_history=False))
    app = make_app(config, make_source=lambda: ReplaySource(BELT, speed=1.0, loop=True, sleep=gate.sleep,
                                                            clock=gate.clock),
                   audio=CuePlayer(player=["fake-player"], speaker=None, run=lambda cmd: None, cache_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(2000):
            await pilot.pause()
            if app.view.problems and app._session_screen is not None:
                break
        assert app.view.problems and app.view.problems[0].startswith("recording stopped: the disk is full")
        line = app._session_screen.query_one("#notes", Static)  # type: ignore[union-attr]
        for _ in range(50):
            await pilot.pause()
            if "recording stopped" in str(line.render()):
                break
        assert "recording stopped" in str(line.render())
        for _ in range(4000):
            await pilot.pause()
            if isinstance(app.screen, SummaryScreen):
                break
        assert isinstance(app.screen, SummaryScreen)
        assert "recording is incomplete" in str(app.screen.query_one("#summary-note", Static).render())


def test_the_emulated_breathers_signal_is_made_a_chunk_at_a_time_and_forgotten() -> None:
    from psoas_sense.sources.emulator.breathing import SYNTH_CHUNK_S, BreathingSignal
    from psoas_sense.sources.emulator.options import parse_emulator_spec

    sig = BreathingSignal(parse_emulator_spec("emulated:h10"))
    first = sig.acc(0, 200, 200.0)
    for k in range(1, 8):  # 40 minutes of data
        sig.acc(int(k * SYNTH_CHUNK_S * 200), int(k * SYNTH_CHUNK_S * 200) + 200, 200.0)
    assert len(sig._acc_chunks) <= 2 and len(sig._beats) <= 2
    onsets = len(sig.exhale_onsets_s)
    assert (sig.acc(0, 200, 200.0) == first).all() and len(sig.exhale_onsets_s) == onsets  # made again, the same
