"""Breath-by-breath reports per hold and side, from the history or from a recording."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import HistoryCoach
from psoas_sense import report as rep
from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck
from psoas_sense.model import Marker, RespFrame
from psoas_sense.recording.format import Header, write_recording
from psoas_sense.session.setup import CoachConfig, RunConfig
from psoas_sense.simulate import Breather, synthesize
from psoas_sense.store import StoreError
from test_coach_engine import drive, phases  # tests/ is on sys.path (pytest prepend mode)


@pytest.fixture
def saved_session() -> dict:
    coach = HistoryCoach(CoachEngine(CoachSettings(), SafetyCheck.answered([])), started_at="2026-01-01T10:00:00+00:00")
    run = drive(coach, phases(0, 900, 5.0, inhale_s=2.0), 900)  # type: ignore[arg-type]
    return {"id": coach.session_id, "run": run}


def test_report_from_history_per_hold_and_side(saved_session: dict) -> None:
    r = rep.from_history(saved_session["id"])
    run = saved_session["run"]
    ends = run.of("hold_end")
    assert [h.duration_s for h in r.holds] == [e["duration_s"] for e in ends]
    for h, e in zip(r.holds, ends):
        assert h.breaths == e["breaths"] == len(h.breath_rows)
        assert h.t_start_s == e["t_start"] and h.t_end_s == e["t"]
        for b in h.breath_rows:
            assert b.period_s == pytest.approx(5.0)
            assert b.rate_bpm == pytest.approx(12.0)
            assert b.exhale_share == pytest.approx(0.6)  # 3 s out of a 5 s breath
            if h.kind == "static":
                assert b.cue == "sink_deeper"
                assert b.cue_latency_s is not None
                assert 0.3 <= b.cue_latency_s <= 0.4 + 1e-9  # detector lag 0.3 s + one 0.1 s step
    assert [s.side for s in r.sides] == ["left", "right"]
    assert r.sides[0].duration_s == pytest.approx(180.0)
    assert [h.hold for h in r.holds_of(r.sides[0])] == [h.hold for h in r.holds if h.side == "left"]
    assert r.totals.holds == len(ends) and r.totals.pain_stops == 0
    assert r.totals.mean_rate_bpm == pytest.approx(12.0)
    assert rep.from_history(None).session.id == saved_session["id"]  # 'last'


def test_text_json_csv_and_png(saved_session: dict, tmp_path: Path) -> None:
    r = rep.from_history(saved_session["id"])
    text = rep.render_text(r)
    assert "Hold 1: static, left side, point 1" in text and "Sides" in text and "sink_deeper" in text
    obj = json.loads(json.dumps(rep.to_json(r)))
    h0 = obj["holds"][0]  # one flat object per hold: the coach's figures, the stretch's, the breaths
    assert h0["t_start_s"] == r.holds[0].t_start_s and h0["exhale_share"] == r.holds[0].figures.exhale_share
    assert "t_start" not in h0 and "rate_bpm" not in h0 and h0["breath_rows"][0]["exhale_t"] > 0
    assert obj["totals"]["breaths"] == r.totals.breaths and obj["session"]["id"] == r.session.id
    buf = io.StringIO()
    rep.write_csv(r, buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert len(rows) == sum(h.breaths for h in r.holds)
    assert tuple(rows[0]) == rep.CSV_COLUMNS == (
        "session", "side", "hold", "hold_kind", "point", "breath", "exhale_t", "detected_at", "period_s",
        "rate_bpm", "detector_rate_bpm", "exhale_share", "cue", "cue_latency_s", "pacer_error_s", "source")
    assert rows[0]["side"] == "left" and rows[0]["hold_kind"] == "static"
    pytest.importorskip("matplotlib")
    out = tmp_path / "s.png"
    rep.plot_png(r, None, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pain_stop_shows_in_the_report() -> None:
    coach = HistoryCoach(CoachEngine(CoachSettings(), SafetyCheck.answered([])))
    drive(coach, phases(0, 900), 900, commands=[(120.0, "pain")], finish=False)  # type: ignore[arg-type]
    r = rep.from_history(coach.session_id)
    assert r.totals.pain_stops == 1 and r.session.ended_by == "pain"
    assert "PAIN STOP at 120.0 s" in rep.render_text(r)


def _recording_with_markers(path: Path) -> None:
    syn = synthesize(120.0, seed=5, breather=Breather(rate_bpm=10.0), fs_hz=25.0)
    items: list = []
    n = syn.t_s.shape[0]
    marks = [
        Marker(10.0, "side_start", {"side": "left", "index": 0}),
        Marker(20.0, "hold_start", {"kind": "static", "side": "left", "point": 1}),
        Marker(31.0, "cue", {"kind": "sink_deeper", "breath_t": 30.6}),
        Marker(
            65.0,
            "hold_end",
            {"kind": "static", "side": "left", "point": 1, "duration_s": 45.0, "breaths": 7, "ended_by": "time"},
        ),
        Marker(100.0, "side_end", {"side": "left", "duration_s": 90.0, "ended_by": "time"}),
    ]
    for i in range(0, n, 25):
        fr = RespFrame(syn.t_s[i : i + 25], syn.resp[i : i + 25])
        while marks and marks[0].t_s <= float(fr.t_s[-1]):
            items.append(marks.pop(0))
        items.append(fr)
    write_recording(
        path, Header(streams={"resp": {"unit": "au", "rate_hz": 25.0}}, device={"name": "synthetic"}), items
    )


def test_report_from_a_recording_uses_its_markers(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    _recording_with_markers(path)
    r, waveform = rep.read_recording(path, with_waveform=True)
    (h,) = r.holds
    assert (h.t_start_s, h.t_end_s, h.kind, h.side) == (20.0, 65.0, "static", "left")
    assert h.breaths == 7  # the coach's own count, from its marker
    assert 6 <= len(h.breath_rows) <= 9  # 10 breaths/min over 45 s, as detected again
    (s,) = r.sides
    assert (s.t_start_s, s.t_end_s) == (10.0, 100.0)
    assert h.figures.depth_rel is not None  # the detector's depth of each breath
    assert waveform is not None and np.all(np.diff(waveform[0]) > 0)
    assert rep.from_recording(path) == r  # the plot's signal changes nothing of the record
    pytest.importorskip("matplotlib")
    out = tmp_path / "rec.png"
    rep.plot_png(r, waveform, out)
    assert out.stat().st_size > 10_000


def test_report_runs_the_coach_over_a_plain_recording(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    syn = synthesize(300.0, seed=2, breather=Breather(rate_bpm=10.0), fs_hz=25.0)
    frames = [RespFrame(syn.t_s[i : i + 25], syn.resp[i : i + 25]) for i in range(0, syn.t_s.shape[0], 25)]
    write_recording(path, Header(streams={"resp": {"unit": "au", "rate_hz": 25.0}}), frames)
    plain = rep.from_recording(path)
    assert plain.holds == () and plain.totals.breaths > 30 and plain.breath_rows
    assert plain.session.protocol is None and plain.totals.cues is None
    config = RunConfig(
        "report", file=path, coach=CoachConfig(protocol="manual", safety_confirmed=True, save_history=False)
    )
    r = rep.from_recording(path, config=config)
    assert r.holds and r.holds[0].kind == "static" and r.session.protocol == "manual"
    assert any(b.cue == "sink_deeper" for b in r.holds[0].breath_rows)


def test_report_of_an_empty_history() -> None:
    with pytest.raises(StoreError, match="no sessions saved yet"):
        rep.from_history(None)


def test_breathing_practice_report_has_pacer_timing() -> None:
    coach = HistoryCoach(CoachEngine(CoachSettings(protocol="breathing", breathing_minutes=2.0), SafetyCheck()))
    drive(coach, phases(0, 200, 10.0, inhale_s=4.0, lag_s=0.4), 200)  # type: ignore[arg-type]
    r = rep.from_history(coach.session_id)
    assert r.totals.adherence_pct is not None and r.totals.adherence_pct >= 95
    rows = r.breath_rows
    assert rows and all(b.pacer_error_s == pytest.approx(0.0, abs=0.01) for b in rows)
    text = rep.render_text(r)
    assert "Pacer adherence" in text and "vs pacer" in text


def test_history_report_has_physiology_without_rr(saved_session: dict) -> None:
    r = rep.from_history(saved_session["id"])
    for h in r.holds:
        assert h.figures.exhale_share == pytest.approx(0.6)
        assert h.figures.hr_bpm is None and h.figures.rmssd_ms is None  # this session had no RR intervals
        assert h.figures.beats is None
    assert r.totals.figures.rmssd_ms is None
    assert r.changes
    # steady 12/min breathing: never a change; a short last hold (4 breaths) is too little data
    assert r.changes[0] == "first hold against last (8 holds): breathing: too little data"
    assert "first minute against last: breathing: no clear change (12 to 12 per minute)" in r.changes
    assert all("HRV" not in line and "slowed" not in line for line in r.changes)
    assert "Changes:" in rep.render_text(r)
