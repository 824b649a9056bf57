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
    data = rep.from_history(saved_session["id"])
    r = rep.build_report(data)
    run = saved_session["run"]
    ends = run.of("hold_end")
    assert [h["duration_s"] for h in r["holds"]] == [e["duration_s"] for e in ends]
    for h, e in zip(r["holds"], ends):
        assert h["breaths"] == e["breaths"] == len(h["breath_rows"])
        for b in h["breath_rows"]:
            assert b["period_s"] == pytest.approx(5.0)
            assert b["rate_bpm"] == pytest.approx(12.0)
            assert b["exhale_share"] == pytest.approx(0.6)  # 3 s out of a 5 s breath
            if h["kind"] == "static":
                assert b["cue"] == "sink_deeper"
                assert 0.3 <= b["cue_latency_s"] <= 0.4 + 1e-9  # detector lag 0.3 s + one 0.1 s step
    assert [s["side"] for s in r["sides"]] == ["left", "right"]
    assert r["sides"][0]["duration_s"] == pytest.approx(180.0)
    assert r["totals"]["holds"] == len(ends) and r["totals"]["pain_stops"] == 0
    assert r["totals"]["mean_rate_bpm"] == pytest.approx(12.0)
    assert rep.from_history(None).meta["id"] == saved_session["id"]  # 'last'


def test_text_json_csv_and_png(saved_session: dict, tmp_path: Path) -> None:
    data = rep.from_history(saved_session["id"])
    r = rep.build_report(data)
    text = rep.render_text(r)
    assert "Hold 1: static, left side, point 1" in text and "Sides" in text and "sink_deeper" in text
    json.loads(json.dumps(r))
    buf = io.StringIO()
    rep.write_csv(r, buf)
    rows = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert len(rows) == sum(h["breaths"] for h in r["holds"])
    assert set(rows[0]) == set(rep.CSV_COLUMNS)
    assert rows[0]["side"] == "left" and rows[0]["hold_kind"] == "static"
    pytest.importorskip("matplotlib")
    out = tmp_path / "s.png"
    rep.plot_png(data, r, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pain_stop_shows_in_the_report() -> None:
    coach = HistoryCoach(CoachEngine(CoachSettings(), SafetyCheck.answered([])))
    drive(coach, phases(0, 900), 900, commands=[(120.0, "pain")], finish=False)  # type: ignore[arg-type]
    r = rep.build_report(rep.from_history(coach.session_id))
    assert r["totals"]["pain_stops"] == 1
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
    data = rep.from_recording(path)
    r = rep.build_report(data)
    (h,) = r["holds"]
    assert (h["t_start"], h["t_end"], h["kind"], h["side"]) == (20.0, 65.0, "static", "left")
    assert 6 <= h["breaths"] <= 9  # 10 breaths/min over 45 s, as detected again
    (s,) = r["sides"]
    assert (s["t_start"], s["t_end"]) == (10.0, 100.0)
    assert [(c.t_s, c.kind, c.breath_t_s) for c in data.cues] == [(31.0, "sink_deeper", 30.6)]
    assert data.waveform is not None and np.all(np.diff(data.waveform[0]) > 0)
    pytest.importorskip("matplotlib")
    out = tmp_path / "rec.png"
    rep.plot_png(data, r, out)
    assert out.stat().st_size > 10_000


def test_report_runs_the_coach_over_a_plain_recording(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    syn = synthesize(300.0, seed=2, breather=Breather(rate_bpm=10.0), fs_hz=25.0)
    frames = [RespFrame(syn.t_s[i : i + 25], syn.resp[i : i + 25]) for i in range(0, syn.t_s.shape[0], 25)]
    write_recording(path, Header(streams={"resp": {"unit": "au", "rate_hz": 25.0}}), frames)
    plain = rep.build_report(rep.from_recording(path))
    assert plain["holds"] == [] and plain["totals"]["breaths"] > 30 and plain["breath_rows"]
    config = RunConfig(
        "report", file=path, coach=CoachConfig(protocol="manual", safety_confirmed=True, save_history=False)
    )
    coached = rep.from_recording(path, config=config)
    r = rep.build_report(coached)
    assert r["holds"] and r["holds"][0]["kind"] == "static"
    assert any(b["cue"] == "sink_deeper" for b in r["holds"][0]["breath_rows"])


def test_report_of_an_empty_history() -> None:
    with pytest.raises(StoreError, match="no sessions saved yet"):
        rep.from_history(None)


def test_breathing_practice_report_has_pacer_timing() -> None:
    coach = HistoryCoach(CoachEngine(CoachSettings(protocol="breathing", breathing_minutes=2.0), SafetyCheck()))
    drive(coach, phases(0, 200, 10.0, inhale_s=4.0, lag_s=0.4), 200)  # type: ignore[arg-type]
    r = rep.build_report(rep.from_history(coach.session_id))
    assert r["totals"]["adherence"] >= 95
    rows = r["breath_rows"]
    assert rows and all(b["pacer_error_s"] == pytest.approx(0.0, abs=0.01) for b in rows)
    text = rep.render_text(r)
    assert "Pacer adherence" in text and "vs pacer" in text


def test_history_report_has_physiology_keys_without_rr(saved_session: dict) -> None:
    r = rep.build_report(rep.from_history(saved_session["id"]))
    for h in r["holds"]:
        assert h["t_start_s"] == h["t_start"] and h["t_end_s"] == h["t_end"]
        assert h["rate_bpm"] == h["mean_rate_bpm"]
        assert h["exhale_share"] == pytest.approx(0.6)
        assert h["hr_bpm"] is None and h["rmssd_ms"] is None  # this session had no RR intervals
    assert r["totals"]["rmssd_ms"] is None
    assert r["changes"]
    # steady 12/min breathing: never a change; a short last hold (4 breaths) is too little data
    assert r["changes"][0] == "first hold against last (8 holds): breathing: too little data"
    assert "first minute against last: breathing: no clear change (12 to 12 per minute)" in r["changes"]
    assert all("HRV" not in line and "slowed" not in line for line in r["changes"])
    assert "Changes:" in rep.render_text(r)
