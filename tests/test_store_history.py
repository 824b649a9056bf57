"""Session history in SQLite: written as the session goes, survives a crash mid-session."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import HistoryCoach
from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck
from psoas_sense.serialize import to_json
from psoas_sense.store import HistoryStore, StoreError, default_path
from test_coach_engine import drive, phases  # tests/ is on sys.path (pytest prepend mode)

ROOT = Path(__file__).resolve().parents[1]


def history_coach(**kw: object) -> HistoryCoach:
    return HistoryCoach(CoachEngine(CoachSettings(**kw), SafetyCheck.answered([])),  # type: ignore[arg-type]
                        source={"file": "synthetic"}, started_at="2026-01-01T10:00:00+00:00")


def test_a_whole_session_is_saved() -> None:
    coach = history_coach()
    run = drive(coach, phases(0, 900), 900, commands=[(70.0, "soften")])  # type: ignore[arg-type]
    assert run.end["ended_by"] == "done"
    path = default_path()
    assert "userdirs" in str(path)  # the isolated data dir of the tests
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    with HistoryStore(create=False) as store:
        (row,) = store.sessions()
        assert row["protocol"] == "manual" and row["ended_by"] == "done" and not row["interrupted"]
        assert row["n_sides"] == 2 and row["n_holds"] == len(run.of("hold_end"))
        s = store.session(row["id"])
    assert s["settings"]["hold_s"] == 45.0 and s["source"] == {"file": "synthetic"}
    assert [h["duration_s"] for h in s["holds"]] == [h["duration_s"] for h in run.of("hold_end")]
    assert s["holds"][0]["softened"] is True and s["holds"][0]["ended_by"] == "softened"
    assert [d["side"] for d in s["sides"]] == ["left", "right"]
    assert s["summary"] == run.end["summary"]
    seen = [e for e in phases(0, 900) if e.kind == "exhale" and e.detected_at_s <= run.end["t"]]
    assert len([b for b in s["breaths"] if b["kind"] == "exhale"]) == len(seen)
    kinds = {ln["event"] for ln in s["lines"]}
    assert {"cue", "stage", "hold_start", "hold_end", "side_start", "side_end", "safety"} <= kinds


def test_pain_stops_are_saved_at_once() -> None:
    coach = history_coach()
    drive(coach, phases(0, 900), 900, commands=[(100.0, "pain")], finish=False)  # type: ignore[arg-type]
    with HistoryStore(create=False) as store:
        (row,) = store.sessions()
        s = store.session(row["id"])
    assert row["ended_by"] == "pain" and row["n_pain"] == 1
    assert s["pain_stops"][0]["t"] == pytest.approx(100.0, abs=0.11)


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {root!r} + "/tests")
    from conftest import HistoryCoach
    from psoas_sense.events import Cue, HoldEnded
    from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck
    from test_coach_engine import phases

    coach = HistoryCoach(CoachEngine(CoachSettings(), SafetyCheck.answered([])), source={{}})
    evs = phases(0, 900)
    coach.start(0.0)
    ends = 0
    i = 0
    for k in range(1, 9000):
        t = k * 0.1
        batch = []
        while i < len(evs) and evs[i].detected_at_s <= t:
            batch.append(evs[i]); i += 1
        lines = (coach.on_events(batch, t) if batch else []) + coach.tick(t)
        ends += sum(1 for ev in lines if isinstance(ev, HoldEnded))
        if ends == 3 and any(isinstance(ev, Cue) for ev in lines):
            # mid-hold after the third completed hold: the process dies without finish()
            print(t, flush=True)
            coach.sink.writer.wait_idle(10)  # the wall time a real session would have taken
            os._exit(9)
    """
)


def test_history_survives_a_crash_mid_session(tmp_path: Path) -> None:
    script = tmp_path / "crash.py"
    script.write_text(CRASH_SCRIPT.format(root=str(ROOT)), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=dict(os.environ),
                          timeout=60)
    assert proc.returncode == 9, proc.stderr
    t_crash = float(proc.stdout.strip())
    with HistoryStore(create=False) as store:
        (row,) = store.sessions()
        assert row["interrupted"] and row["ended_by"] is None
        s = store.session(row["id"])
    assert len(s["holds"]) == 3
    assert [h["kind"] for h in s["holds"]] == ["static", "active", "static"]
    last_end = s["holds"][-1]["t_end"]
    assert last_end <= t_crash
    assert row["t_last"] == pytest.approx(last_end)
    # every breath up to the last completed hold is there
    exhales = [b["t"] for b in s["breaths"] if b["kind"] == "exhale"]
    expected = [round(e.t_s, 3) for e in phases(0, 900) if e.kind == "exhale" and e.detected_at_s <= last_end]
    assert exhales == expected
    # and the CLI lists it as interrupted
    proc2 = subprocess.run([sys.executable, "-m", "psoas_sense", "history"], capture_output=True, text=True,
                           env=dict(os.environ), timeout=60)
    assert proc2.returncode == 0, proc2.stderr
    assert "interrupted" in proc2.stdout


def test_a_damaged_history_is_kept_aside_and_a_new_one_started(tmp_path: Path) -> None:
    bad = tmp_path / "history.sqlite3"
    junk = b"this is not sqlite" * 100
    bad.write_bytes(junk)
    coach = HistoryCoach(CoachEngine(CoachSettings(), SafetyCheck.answered([])), store_path=bad)
    run = drive(coach, phases(0, 900), 900)  # type: ignore[arg-type]
    errs = run.of("error")
    assert len(errs) == 1 and "damaged" in errs[0]["message"] and "new history started" in errs[0]["message"]
    assert run.end["ended_by"] == "done"
    (aside,) = tmp_path.glob("history.sqlite3.damaged-*")
    assert aside.read_bytes() == junk  # kept whole
    with HistoryStore(bad, create=False) as store:
        (row,) = store.sessions()
    assert row["ended_by"] == "done"


def test_a_history_that_cannot_be_written_does_not_stop_the_session(tmp_path: Path) -> None:
    where = tmp_path / "a-directory.sqlite3"
    where.mkdir()
    coach = HistoryCoach(CoachEngine(CoachSettings(), SafetyCheck.answered([])), store_path=where)
    run = drive(coach, phases(0, 900), 900)  # type: ignore[arg-type]
    msgs = [e["message"] for e in run.of("error")]
    assert msgs and all("history" in m for m in msgs) and len(msgs) == len(set(msgs))  # each said once
    assert run.end["ended_by"] == "done"


def test_a_newer_history_is_refused_to_readers_and_set_aside_by_a_session(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    HistoryStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer psoas-sense"):
        HistoryStore(path, create=False)
    with HistoryStore(path) as store:
        assert len(store.notices) == 1 and "schema 99" in store.notices[0]
    (aside,) = tmp_path.glob("history.sqlite3.schema99-*")
    with sqlite3.connect(aside) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 99
    with HistoryStore(path) as again:  # said once: the fresh one opens quietly
        assert again.notices == []


def test_an_upgrade_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    with sqlite3.connect(path) as db:  # a schema-1 history (before mean_rate_bpm)
        db.execute("CREATE TABLE sides (session_id INTEGER, seq INTEGER, side TEXT)")
        db.execute("CREATE TABLE holds (session_id INTEGER, seq INTEGER)")
        db.execute("CREATE TABLE sessions (id INTEGER PRIMARY KEY, started_at TEXT)")
        db.execute("CREATE TABLE merged_files (oops)")  # makes the upgrade fail part-way
        db.execute("CREATE INDEX merged_files_by_name ON merged_files(oops)")
        db.execute("CREATE VIEW lines AS SELECT 1")  # 'CREATE TABLE IF NOT EXISTS lines' fails on it
        db.execute("PRAGMA user_version = 1")
    with pytest.raises(StoreError):
        HistoryStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 1
        cols = [r[1] for r in db.execute("PRAGMA table_info(sides)")]
    assert cols == ["session_id", "seq", "side"]  # the ALTERs before the failure were rolled back


def test_missing_history_and_unknown_session() -> None:
    with pytest.raises(StoreError, match="no history yet"):
        HistoryStore(create=False)
    with HistoryStore() as store:
        with pytest.raises(StoreError, match="no session 42"):
            store.session(42)
        assert store.latest_id() is None


def test_a_session_started_by_a_command_is_saved_too() -> None:
    coach = history_coach()
    lines = [to_json(ev) for ev in coach.command("pain", 3.0)]
    assert [ln["event"] for ln in lines][:2] == ["safety", "stage"]
    with HistoryStore(create=False) as store:
        (row,) = store.sessions()
    assert row["ended_by"] == "pain" and row["n_pain"] == 1
