"""Heart rate, RMSSD and the change lines in reports: holds cut from a replayed session."""

from __future__ import annotations

from pathlib import Path

import pytest

from psoas_sense import report as rep
from psoas_sense.events import HoldEnded, SessionEvent
from psoas_sense.insight import beat_figures
from psoas_sense.model import BreathEvent
from psoas_sense.recording.format import read_recording
from psoas_sense.report import Origin, Report
from psoas_sense.session.setup import CoachConfig, RunConfig

ROOT = Path(__file__).resolve().parents[1]
NK = ROOT / "recordings" / "neurokit2-resting-belt-rr.jsonl.gz"


@pytest.fixture(scope="module")
def replayed() -> tuple[list[tuple[float, float]], Report]:
    config = RunConfig("report", file=NK, coach=CoachConfig(protocol="manual", safety_confirmed=True,
                                                           save_history=False))
    _, items = read_recording(NK)
    beats = [(float(t), float(rr)) for it in items if getattr(it, "kind", "") == "rr"
             for t, rr in zip(it.t_s, it.rr_ms, strict=True)]  # type: ignore[attr-defined]
    return beats, rep.from_recording(NK, config=config)


def test_holds_cut_from_a_replayed_session_carry_heart_figures(
        replayed: tuple[list[tuple[float, float]], Report]) -> None:
    rr, r = replayed
    assert len(rr) > 300
    assert len(r.holds) >= 2
    for h in r.holds:
        f = h.figures
        assert h.t_start_s < h.t_end_s and f.exhale_share is not None
        beats = [(t, v) for t, v in rr if h.t_start_s - 1e-6 <= t <= h.t_end_s + 1e-6]
        fig = beat_figures(beats)
        # the coach's own figures, stated as the hold ended: a beat of the hold's last second may
        # come in the strap's next notification, after it
        assert f.rmssd_ms == pytest.approx(fig.rmssd_ms.value, rel=0.02)
        assert f.hr_bpm == pytest.approx(fig.hr_bpm.value, rel=0.01)
        assert f.hr_bpm is not None and f.rmssd_ms is not None
        assert 50 < f.hr_bpm < 120 and 5 < f.rmssd_ms < 150
    for s in r.sides:
        assert s.figures.hr_bpm is not None
    t0, t1 = r.session.t_start_s, r.session.t_end_s
    whole = beat_figures([(t, v) for t, v in rr if t0 - 1e-6 <= t <= t1 + 1e-6])
    assert r.totals.figures.rmssd_ms == pytest.approx(whole.rmssd_ms.value, abs=0.05)


def test_replayed_session_has_change_lines_in_text(replayed: tuple[list[tuple[float, float]], Report]) -> None:
    _, r = replayed
    labels = [line.split(":")[0] for line in r.changes]
    assert labels[0].startswith("first hold against last")
    assert "first minute against last" in labels
    assert any(" side against " in lab for lab in labels)
    text = rep.render_text(r)
    assert "Changes:" in text and "RMSSD" in text
    for line in r.changes:
        assert line in text


def _breaths(t0: float, period: float, n: int) -> list[BreathEvent]:
    out = []
    for i in range(n):
        p = period * (1.05 if i % 2 else 0.95)
        t = t0 + i * period
        for kind, at in (("inhale", t), ("exhale", t + 0.4 * p)):
            out.append(BreathEvent(kind, at, at + 0.3, "resp"))  # type: ignore[arg-type]
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


ORIGIN = Origin(file="x", t_start_s=0.0, t_end_s=100.0)


def test_clear_change_between_first_and_last_hold() -> None:
    events: list[SessionEvent] = [*_breaths(0.0, 60 / 14, 10), *_breaths(50.0, 60 / 9, 7),
                                  _hold(0.0, 45.0), _hold(50.0, 100.0)]
    r = rep.build_record(events, _beats(0.0, 45.0, [850, 860]) + _beats(50.0, 100.0, [780, 840]), ORIGIN)
    assert r.changes == ("first hold against last (2 holds): breathing slowed from 14 to 9 per minute; "
                         "heart rate rose from 70 to 74 per minute; HRV rose from 10 to 60 ms",)
    assert r.holds[0].figures.rmssd_ms == pytest.approx(10.0)  # an older hold without it: computed the same way


def test_too_little_data_in_a_short_hold() -> None:
    events: list[SessionEvent] = [*_breaths(0.0, 4.0, 2), *_breaths(20.0, 4.0, 10), _hold(0.0, 8.0),
                                  _hold(20.0, 60.0)]
    r = rep.build_record(events, None, ORIGIN)
    assert r.changes == ("first hold against last (2 holds): breathing: too little data",)
    assert r.holds[0].figures.hr_bpm is None


def test_a_hold_keeps_the_figures_the_coach_stated() -> None:
    """Where the session stated a hold's physiology, the record shows it (it never contradicts what
    the session said); where it did not (an older session), the same computation fills it in."""
    import dataclasses

    events: list[SessionEvent] = [*_breaths(0.0, 60 / 14, 10), dataclasses.replace(
        _hold(0.0, 45.0), hr_bpm=61.5, rmssd_ms=22.0, exhale_share=0.5)]
    r = rep.build_record(events, _beats(0.0, 45.0, [850, 860]), ORIGIN)
    f = r.holds[0].figures
    assert (f.hr_bpm, f.rmssd_ms, f.exhale_share) == (61.5, 22.0, 0.5)
    assert f.beats is not None and f.beats > 40


async def test_summary_screen_shows_the_change_lines(replayed: tuple[list[tuple[float, float]], Report]) -> None:
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
    assert tuple(shown.splitlines()) == r.changes
    assert "RMSSD" in heart


def test_breath_depth_relative_to_the_session() -> None:
    """Where the signal has an amplitude, each hold says how deep its breaths were against the
    session's usual breath (deeper breathing is one of the signs of letting go): each exhale's depth
    is the detector's."""
    events: list[SessionEvent] = []
    for k in range(20):
        t_in, t_ex = 6.0 * k - 1.5, 6.0 * k + 1.5
        depth = 2.0 if t_ex < 60.0 else 4.0  # breathing twice as deep in the second minute
        if t_in >= 0:
            events.append(BreathEvent("inhale", t_in, t_in + 0.3, "resp", rate_bpm=10.0, quality=0.9))
        events.append(BreathEvent("exhale", t_ex, t_ex + 0.3, "resp", rate_bpm=10.0, quality=0.9, depth=depth))

    def hold(t0: float, t1: float) -> HoldEnded:
        return HoldEnded(t1, "static", "left", 1, t0, t1 - t0, 8, 10.0, 8, "time", False)

    r = rep.build_record([*events, hold(5.0, 55.0), hold(65.0, 115.0)], None, Origin(file="x", t_start_s=0.0,
                                                                              t_end_s=120.0))
    first, last = r.holds[0].figures.depth_rel, r.holds[1].figures.depth_rel
    assert first is not None and last is not None
    assert last / first == pytest.approx(2.0, rel=0.05)
    # no amplitude (an RR-only breath, or a history saved before breaths had a depth): no depth
    flat = [BreathEvent(e.kind, e.t_s, e.detected_at_s, "resp") if isinstance(e, BreathEvent) else e for e in events]
    r2 = rep.build_record([*flat, hold(5.0, 55.0)], None, Origin(file="x"))
    assert r2.holds[0].figures.depth_rel is None
