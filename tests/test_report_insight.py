"""Heart rate, RMSSD and the change lines in reports: holds cut from a replayed session."""

from __future__ import annotations

from pathlib import Path

import pytest

from psoas_sense import report as rep
from psoas_sense.events import HoldEnded
from psoas_sense.insight import beat_figures, rmssd
from psoas_sense.records import BreathRecord
from psoas_sense.report.data import SessionData
from psoas_sense.session.setup import CoachConfig, RunConfig

ROOT = Path(__file__).resolve().parents[1]
NK = ROOT / "recordings" / "neurokit2-resting-belt-rr.jsonl.gz"


@pytest.fixture(scope="module")
def replayed() -> tuple[SessionData, dict]:
    config = RunConfig("report", file=NK, coach=CoachConfig(protocol="manual", safety_confirmed=True,
                                                           save_history=False))
    data = rep.from_recording(NK, config=config, with_waveform=False)
    return data, rep.build_report(data)


def test_holds_cut_from_a_replayed_session_carry_heart_figures(replayed: tuple[SessionData, dict]) -> None:
    data, r = replayed
    assert data.rr is not None and len(data.rr) > 300
    assert len(r["holds"]) >= 2
    for h in r["holds"]:
        for key in ("t_start_s", "t_end_s", "rate_bpm", "exhale_share", "hr_bpm", "rmssd_ms"):
            assert key in h
        assert h["t_start_s"] < h["t_end_s"]
        beats = [(t, v) for t, v in data.rr if h["t_start_s"] - 1e-6 <= t <= h["t_end_s"] + 1e-6]
        fig = beat_figures(beats)
        assert h["rmssd_ms"] == pytest.approx(fig.rmssd_ms.value, abs=0.05)
        assert h["hr_bpm"] == pytest.approx(fig.hr_bpm.value, abs=0.05)
        assert 50 < h["hr_bpm"] < 120 and 5 < h["rmssd_ms"] < 150
    for s in r["sides"]:
        assert s["hr_bpm"] is not None and "t_start_s" in s
    assert r["totals"]["rmssd_ms"] == pytest.approx(rmssd([v for _, v in data.rr]), abs=0.05)


def test_replayed_session_has_change_lines_in_text(replayed: tuple[SessionData, dict]) -> None:
    _, r = replayed
    labels = [line.split(":")[0] for line in r["changes"]]
    assert labels[0].startswith("first hold against last")
    assert "first minute against last" in labels
    assert any(" side against " in lab for lab in labels)
    text = rep.render_text(r)
    assert "Changes:" in text and "RMSSD" in text
    for line in r["changes"]:
        assert line in text


def _breaths(t0: float, period: float, n: int) -> list[BreathRecord]:
    out = []
    for i in range(n):
        p = period * (1.05 if i % 2 else 0.95)
        t = t0 + i * period
        for kind, at in (("inhale", t), ("exhale", t + 0.4 * p)):
            out.append(BreathRecord(at, kind, at + 0.3, "resp", None, None, "detector", "hold", "left"))
    return out


def _hold(t0: float, t1: float) -> HoldEnded:
    return HoldEnded(t_s=t1, kind="static", side="left", point=1, t_start_s=t0, duration_s=t1 - t0, breaths=8,
                     mean_rate_bpm=None, cues=0, ended_by="time", softened=False)


def _beats(t0: float, t1: float, pattern: list[float]) -> list[tuple[float, float]]:
    out, t, i = [], t0, 0
    while t < t1:
        rr = pattern[i % len(pattern)]
        t += rr / 1000.0
        out.append((t, rr))
        i += 1
    return out


def test_clear_change_between_first_and_last_hold() -> None:
    data = SessionData(
        meta={"file": "x", "t_start": 0.0, "t_end": 100.0},
        breaths=_breaths(0.0, 60 / 14, 10) + _breaths(50.0, 60 / 9, 7),
        holds=[_hold(0.0, 45.0), _hold(50.0, 100.0)],
        rr=_beats(0.0, 45.0, [850, 860]) + _beats(50.0, 100.0, [780, 840]),
    )
    r = rep.build_report(data)
    assert r["changes"] == ["first hold against last (2 holds): breathing slowed from 14 to 9 per minute; "
                            "heart rate rose from 70 to 74 per minute; HRV rose from 10 to 60 ms"]
    assert r["holds"][0]["rmssd_ms"] == pytest.approx(10.0)


def test_too_little_data_in_a_short_hold() -> None:
    data = SessionData(
        meta={"file": "x", "t_start": 0.0, "t_end": 60.0},
        breaths=_breaths(0.0, 4.0, 2) + _breaths(20.0, 4.0, 10),
        holds=[_hold(0.0, 8.0), _hold(20.0, 60.0)],
    )
    r = rep.build_report(data)
    assert r["changes"] == ["first hold against last (2 holds): breathing: too little data"]
    assert r["holds"][0]["hr_bpm"] is None


async def test_summary_screen_shows_the_change_lines(replayed: tuple[SessionData, dict]) -> None:
    from textual.app import App
    from textual.widgets import Static

    from psoas_sense.ui.screens.summary import SummaryScreen

    _, r = replayed

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(SummaryScreen(r))

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown = str(app.screen.query_one("#summary-changes", Static).content)
        heart = str(app.screen.query_one("#summary-heart", Static).content)
    assert shown.splitlines() == r["changes"]
    assert "RMSSD" in heart


def test_breath_depth_relative_to_the_session() -> None:
    """Where the signal has an amplitude, each hold says how deep its breaths were against the
    session's usual breath (deeper breathing is one of the signs of letting go)."""
    import numpy as np

    from psoas_sense.events import BreathRecord, HoldEnded

    t = np.arange(0.0, 120.0, 0.1)
    amp = np.where(t < 60.0, 1.0, 2.0)  # breathing twice as deep in the second minute
    y = amp * np.sin(2 * np.pi * t / 6.0)
    breaths = []
    for k in range(20):
        t_in, t_ex = 6.0 * k - 1.5, 6.0 * k + 1.5  # the signal rises from -A (inhale) to +A (exhale)
        for kind, tt in (("inhale", t_in), ("exhale", t_ex)):
            if 0 <= tt < 120:
                breaths.append(BreathRecord(tt, kind, tt + 0.3, "resp", 10.0, 0.9, "detector", "static", "left"))

    def hold(t0: float, t1: float) -> HoldEnded:
        return HoldEnded(t1, "static", "left", 1, t0, t1 - t0, 8, 10.0, 8, "time", False)

    data = SessionData(meta={"file": "x", "t_start": 0.0, "t_end": 120.0}, breaths=breaths,
                       holds=[hold(5.0, 55.0), hold(65.0, 115.0)], waveform=(t, y))
    r = rep.build_report(data)
    first, last = r["holds"][0]["depth_rel"], r["holds"][1]["depth_rel"]
    assert first is not None and last is not None
    assert last / first == pytest.approx(2.0, rel=0.05)
    # no amplitude (the history): no depth
    r2 = rep.build_report(SessionData(meta={"file": "x"}, breaths=breaths, holds=[hold(5.0, 55.0)]))
    assert r2["holds"][0]["depth_rel"] is None
