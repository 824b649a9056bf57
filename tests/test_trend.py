"""``psoas-sense history --trend``: day by day, local time, with a CSV export."""

from __future__ import annotations

import asyncio
import csv
import functools
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from conftest import RECORDINGS
from psoas_sense.cli import main
from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck
from psoas_sense.events import SessionEvent
from psoas_sense.model import SampleFrame
from psoas_sense.recording.format import Header
from psoas_sense.session.history import HistorySink
from psoas_sense.session.loop import run_session
from psoas_sense.session.sinks import Sink
from psoas_sense.sources.replay import ReplaySource
from ui_states import until_true

BELT_RR = RECORDINGS / "neurokit2-resting-belt-rr.jsonl.gz"


@functools.cache
def coached_session() -> tuple[tuple[str, Any], ...]:
    """Everything one whole coached session on the demo recording gave its sinks, in order (run
    once per test process: the trend is about days, not about the run)."""
    calls: list[tuple[str, Any]] = []

    class Tape(Sink):
        def open(self, header: Header) -> None:
            calls.append(("open", header))

        def frame(self, frame: SampleFrame) -> None:
            calls.append(("frame", frame))

        def event(self, event: SessionEvent) -> None:
            calls.append(("event", event))

        def advance(self, t_s: float) -> None:
            calls.append(("advance", t_s))

    coach = CoachEngine(CoachSettings(), SafetyCheck.answered([]))
    asyncio.run(run_session(ReplaySource(BELT_RR, loop=True), sinks=[Tape()], coach=coach))
    return tuple(calls)


def save_session(started_at: str) -> None:
    """That session saved in the history as if it had started at ``started_at``."""
    sink = HistorySink(CoachSettings(), source={"kind": "replay"}, started_at=started_at)
    for name, arg in coached_session():
        getattr(sink, name)(arg)
    sink.close()


def test_trend_by_local_day_with_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "UTC")
    save_session("2026-11-01T08:00:00+00:00")
    save_session("2026-11-03T21:30:00+00:00")
    out = tmp_path / "trend.csv"
    assert main(["history", "--trend", "--csv", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2026-11-01" in text and "2026-11-03" in text and "RMSSD" in text
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["day"] for r in rows] == ["2026-11-01", "2026-11-03"]
    for r in rows:
        assert r["sessions"] == "1" and float(r["rate_bpm"]) > 5 and float(r["rmssd_ms"]) > 5
        assert float(r["holds_per_side"]) >= 2
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    # never over an existing file without --force
    assert main(["history", "--trend", "--csv", str(out)]) == 2
    assert main(["history", "--trend", "--csv", str(out), "--force"]) == 0


def test_trend_of_an_empty_history(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--trend"]) == 0
    assert "No sessions saved yet" in capsys.readouterr().out


async def test_the_history_screen_plots_the_trend(monkeypatch: pytest.MonkeyPatch) -> None:
    from textual.app import App

    from psoas_sense.ui.screens.history import HistoryScreen

    monkeypatch.setenv("TZ", "UTC")
    await asyncio.to_thread(save_session, "2026-11-01T08:00:00+00:00")
    await asyncio.to_thread(save_session, "2026-11-02T08:00:00+00:00")

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(HistoryScreen())

    app = Host()
    async with app.run_test(size=(100, 40)) as pilot:
        await until_true(pilot, lambda: app.screen.query_one("#trend").display, "the trend shown")
