"""Session history in SQLite: written as the session goes, survives a crash mid-session."""

from __future__ import annotations

import json
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
from psoas_sense.events import PainStopped, SessionEnded
from psoas_sense.model import BreathEvent
from psoas_sense.report.data import record_of
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
        assert row.protocol == "manual" and row.ended_by == "done" and not row.interrupted
        assert row.sides == 2 and row.holds == len(run.of("hold_end"))
        s = store.load(row.id)
    assert s.row.settings["hold_s"] == 45.0 and s.row.source == {"file": "synthetic"}
    r = record_of(s)
    assert [h.duration_s for h in r.holds] == [h["duration_s"] for h in run.of("hold_end")]
    assert r.holds[0].softened is True and r.holds[0].ended_by == "softened"
    assert [d.side for d in r.sides] == ["left", "right"]
    (end,) = [e for e in s.events if isinstance(e, SessionEnded)]
    assert to_json(end) == run.end
    seen = [e for e in phases(0, 900) if e.kind == "exhale" and e.detected_at_s <= run.end["t"]]
    assert len([b for b in s.events if isinstance(b, BreathEvent) and b.kind == "exhale"]) == len(seen) == row.breaths
    kinds = {to_json(ev)["event"] for ev in s.events}
    assert {"cue", "stage", "hold_start", "hold_end", "side_start", "side_end", "safety", "exhale"} <= kinds


def test_pain_stops_are_saved_at_once() -> None:
    coach = history_coach()
    drive(coach, phases(0, 900), 900, commands=[(100.0, "pain")], finish=False)  # type: ignore[arg-type]
    with HistoryStore(create=False) as store:
        (row,) = store.sessions()
        s = store.load(row.id)
    assert row.ended_by == "pain" and row.pain_stops == 1
    (pain,) = [e for e in s.events if isinstance(e, PainStopped)]
    assert pain.t_s == pytest.approx(100.0, abs=0.11)


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
        assert row.interrupted and row.ended_by is None
        s = store.load(row.id)
    r = record_of(s)
    assert [h.kind for h in r.holds] == ["static", "active", "static"]
    assert r.session.interrupted and r.session.t_end_s == row.t_last_s
    last_end = r.holds[-1].t_end_s
    assert last_end <= t_crash
    assert row.t_last_s == pytest.approx(last_end)
    # every breath up to the last completed hold is there
    exhales = [b.t_s for b in s.events if isinstance(b, BreathEvent) and b.kind == "exhale"]
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
    assert row.ended_by == "done"


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
    schema5(path)
    with sqlite3.connect(path) as db:  # makes the upgrade fail part-way, once the rows are being moved
        db.execute("CREATE TRIGGER no_lines BEFORE INSERT ON lines BEGIN SELECT RAISE(ABORT, 'refused'); END")
    with HistoryStore(path) as store:  # it cannot be upgraded: kept aside as it was, a new one started
        assert len(store.notices) == 1 and "refused" in store.notices[0] and store.sessions() == []
    (aside,) = tmp_path.glob("history.sqlite3.damaged-*")
    with sqlite3.connect(aside) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 5
        assert db.execute("SELECT COUNT(*) FROM holds").fetchone()[0] == 2  # nothing moved, nothing dropped
        assert db.execute("SELECT COUNT(*) FROM lines").fetchone()[0] == 2
    path2 = tmp_path / "other.sqlite3"
    schema5(path2)
    with sqlite3.connect(path2) as db:  # a name the new schema needs is taken: a reader is told, nothing changes
        db.execute("CREATE VIEW lines_by_event AS SELECT 1")
    with pytest.raises(StoreError, match="lines_by_event"):
        HistoryStore(path2, create=False)
    with sqlite3.connect(path2) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 5
        assert db.execute("SELECT COUNT(*) FROM breaths").fetchone()[0] == 6


SCHEMA_5 = """
CREATE TABLE sessions (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at TEXT NOT NULL, protocol TEXT NOT NULL,
    practised TEXT NOT NULL, safety TEXT NOT NULL, settings TEXT NOT NULL, source TEXT NOT NULL,
    t_start REAL NOT NULL, t_last REAL, t_end REAL, ended_by TEXT, summary TEXT);
CREATE TABLE holds (session_id INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, side TEXT,
    point INTEGER, t_start REAL NOT NULL, t_end REAL NOT NULL, duration_s REAL NOT NULL, breaths INTEGER NOT NULL,
    mean_rate_bpm REAL, cues INTEGER NOT NULL, ended_by TEXT NOT NULL, softened INTEGER NOT NULL,
    exhale_share REAL, hr_bpm REAL, rmssd_ms REAL, PRIMARY KEY (session_id, seq));
CREATE TABLE sides (session_id INTEGER NOT NULL, seq INTEGER NOT NULL, side TEXT NOT NULL, t_start REAL NOT NULL,
    t_end REAL NOT NULL, duration_s REAL NOT NULL, target_s REAL NOT NULL, holds INTEGER NOT NULL,
    hold_s REAL NOT NULL, breaths INTEGER NOT NULL, ended_by TEXT NOT NULL, mean_rate_bpm REAL,
    exhale_share REAL, hr_bpm REAL, rmssd_ms REAL, PRIMARY KEY (session_id, seq));
CREATE TABLE pain_stops (session_id INTEGER NOT NULL, t REAL NOT NULL, stage TEXT, side TEXT, hold TEXT);
CREATE TABLE breaths (session_id INTEGER NOT NULL, t REAL NOT NULL, kind TEXT NOT NULL, detected_at REAL,
    signal TEXT, rate_bpm REAL, quality REAL, source TEXT NOT NULL, stage TEXT, side TEXT);
CREATE TABLE lines (session_id INTEGER NOT NULL, t REAL NOT NULL, event TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE beats (session_id INTEGER NOT NULL, t REAL NOT NULL, rr_ms REAL NOT NULL);
CREATE TABLE merged_files (name TEXT PRIMARY KEY);
"""


def schema5(path: Path) -> None:
    """A history as version 5 wrote it: one finished session with two holds of one side, a pain stop,
    breaths detected and paced, a hold's line kept twice (its table row is the one to keep)."""
    summary = {"protocol": "manual", "practised": "manual", "safety": "cleared", "ended_by": "pain",
               "duration_s": 80.0, "settled_rate_bpm": None, "breaths": 3, "mean_rate_bpm": 12.0, "paced_breaths": 1,
               "fallback_s": 0.0, "cues": 4, "sides": [], "holds": [], "pain_stops": 1, "hr_bpm": 61.0}
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_5)
        db.execute("INSERT INTO sessions VALUES (1, '2026-01-01T10:00:00+00:00', 'manual', 'manual', 'cleared', "
                   "'{}', '{\"kind\": \"session\"}', 0.0, 80.0, 80.0, 'pain', ?)", (json.dumps(summary),))
        db.execute("INSERT INTO holds VALUES (1, 0, 'static', 'left', 1, 10.123, 55.0, 44.877, 3, 12.0, 5, 'time', "
                   "0, 0.6, 62.5, 30.5)")
        db.execute("INSERT INTO holds VALUES (1, 1, 'active', 'left', 1, 55.0, 70.0, 15.0, 1, NULL, 2, 'released', "
                   "0, NULL, NULL, NULL)")
        db.execute("INSERT INTO sides VALUES (1, 0, 'left', 5.0, 80.0, 75.0, 180.0, 2, 59.877, 4, 'pain', 12.0, "
                   "NULL, NULL, NULL)")
        db.execute("INSERT INTO pain_stops VALUES (1, 80.0, 'active', 'left', NULL)")
        for t, kind, source in ((20.0, "inhale", "detector"), (22.0, "exhale", "detector"),
                                (25.0, "inhale", "detector"), (27.0, "exhale", "detector"),
                                (32.0, "exhale", "pacer"), (35.0, "inhale", "detector")):
            db.execute("INSERT INTO breaths VALUES (1, ?, ?, ?, 'acc', 12.0, 0.9, ?, 'static', 'left')",
                       (t, kind, t + 0.4 if source == "detector" else t, source))
        db.execute("""INSERT INTO lines VALUES (1, 55.0, 'hold_end', '{"kind": "static", "side": "left", "point": 1,
                   "duration_s": 44.877, "breaths": 3, "cues": 5, "ended_by": "time", "softened": false}')""")
        db.execute("""INSERT INTO lines VALUES (1, 10.123, 'hold_start', '{"kind": "static", "side": "left",
                   "point": 1}')""")
        db.execute("PRAGMA user_version = 5")


def test_a_schema_5_history_is_upgraded_and_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite3"
    schema5(path)
    with HistoryStore(path) as store:
        (row,) = store.sessions()
        r = record_of(store.load(row.id))
    assert (row.holds, row.sides, row.pain_stops, row.breaths) == (2, 1, 1, 2)
    h1, h2 = r.holds
    assert (h1.t_start_s, h1.t_end_s, h1.breaths, h1.cues) == (10.123, 55.0, 3, 5)  # the row's exact start
    assert (h1.figures.hr_bpm, h1.figures.rmssd_ms, h1.figures.exhale_share) == (62.5, 30.5, 0.6)
    assert h2.kind == "active" and h2.ended_by == "released"
    (side,) = r.sides
    assert (side.side, side.t_start_s, side.target_s, side.hold_s) == ("left", 5.0, 180.0, 59.877)
    assert [(p.t_s, p.stage) for p in r.pain_stops] == [(80.0, "active")]
    assert r.session.ended_by == "pain" and r.totals.breaths == 3 and r.totals.figures.hr_bpm == 61.0
    assert [(b.exhale_t, b.source) for b in r.breath_rows] == [(22.0, "detector"), (27.0, "detector"),
                                                               (32.0, "pacer")]
    assert r.holds[0].figures.paced_breaths == 1
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 6
        tables = {t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not tables & {"holds", "sides", "pain_stops", "breaths"}


def test_missing_history_and_unknown_session() -> None:
    with pytest.raises(StoreError, match="no history yet"):
        HistoryStore(create=False)
    with HistoryStore() as store:
        with pytest.raises(StoreError, match="no session 42"):
            store.load(42)
        assert store.latest_id() is None


def test_a_session_started_by_a_command_is_saved_too() -> None:
    coach = history_coach()
    lines = [to_json(ev) for ev in coach.command("pain", 3.0)]
    assert [ln["event"] for ln in lines][:2] == ["safety", "stage"]
    with HistoryStore(create=False) as store:
        (row,) = store.sessions()
    assert row.ended_by == "pain" and row.pain_stops == 1


def test_a_side_file_written_before_schema_6_is_merged_as_events(tmp_path: Path) -> None:
    """A session an older version could not save (the history held) waits in a side file of rows;
    the next program merges them as the events they stand for."""
    path = tmp_path / "history.sqlite3"
    HistoryStore(path).close()
    begin = {"kind": "begin", "started_at": "2026-01-01T10:00:00+00:00", "protocol": "manual", "practised": "manual",
             "safety": "cleared", "settings": {}, "source": {"kind": "session"}, "t_start": 0.0, "db_id": None}
    rows = {
        "holds": [{"kind": "static", "side": "left", "point": 1, "t_start": 10.5, "t_end": 55.0, "duration_s": 44.5,
                   "breaths": 2, "mean_rate_bpm": 12.0, "cues": 3, "ended_by": "time", "softened": 1,
                   "exhale_share": 0.55, "hr_bpm": 60.0, "rmssd_ms": 40.0}],
        "sides": [], "pain_stops": [{"t": 56.0, "stage": "active", "side": "left", "hold": None}],
        "breaths": [{"t": t, "kind": k, "detected_at": t + 0.3, "signal": "resp", "rate_bpm": None, "quality": 0.9,
                     "source": "detector", "stage": "static", "side": "left"}
                    for t, k in ((20.0, "inhale"), (22.0, "exhale"), (25.0, "inhale"), (27.0, "exhale"))],
        "lines": [{"t": 10.5, "event": "hold_start", "data": json.dumps({"kind": "static", "side": "left"})}],
        "t_last": 56.0, "end": {"t_end": 56.0, "ended_by": "pain", "summary": json.dumps({
            "protocol": "manual", "practised": "manual", "safety": "cleared", "ended_by": "pain", "duration_s": 56.0,
            "breaths": 2, "mean_rate_bpm": 12.0, "paced_breaths": 0, "fallback_s": 0.0, "cues": 3, "pain_stops": 1})},
    }
    side = path.parent / f"{path.name}.pending-7-1.jsonl"
    side.write_text(json.dumps(begin) + "\n" + json.dumps({"kind": "progress", "rows": rows}) + "\n")
    with HistoryStore(path) as store:
        assert store.merged == 1 and not side.exists()
        (row,) = store.sessions()
        r = record_of(store.load(row.id))
    assert row.source["recovered_from"] == side.name and row.ended_by == "pain"
    (h,) = r.holds
    assert (h.t_start_s, h.t_end_s, h.softened, h.figures.rmssd_ms) == (10.5, 55.0, True, 40.0)
    assert [b.exhale_t for b in h.breath_rows] == [22.0, 27.0] and r.totals.pain_stops == 1
    assert r.session.ended_by == "pain" and r.totals.cues == 3
