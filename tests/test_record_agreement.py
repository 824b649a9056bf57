"""One session, one record: the summary screen's, ``report last`` and ``report FILE`` agree field for field.

A coached session on the emulated Polar H10 with a link drop (the pacer leads through it, so the
record has paced breaths, and the strap's RR intervals give heart rate and RMSSD) is run once,
as the terminal UI runs it (the record sink beside the recorder and the history); its record is
then built three ways: from the session's own events (the summary screen), from the history
(``report last``) and from the recording (``report FILE``). Only where each comes from may differ
(its id, its file, what it ran on, when it started).
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest

from psoas_sense.report import Report, from_history, from_recording, to_json
from psoas_sense.report.fold import RecordSink
from psoas_sense.session.loop import run_session
from psoas_sense.session.setup import CoachConfig, RunConfig, make_coach, make_sinks, open_source
from psoas_sense.session.sinks import Collector
from psoas_sense.ui.ending import build_summary, ended_by
from psoas_sense.view import view_of

SPEC = "emulated:h10?drop_at=120&drop_for=20"
"""The brief's session: an emulated H10 whose link drops at 120 s for 20 s."""


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON values differ (every path, for a readable failure)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in differences(a.get(k, "<none>"), b.get(k, "<none>"),
                                                                         f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        out = [f"{path}: {len(a)} against {len(b)} items"] if len(a) != len(b) else []
        return out + [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} against {b!r}"]


def figures_only(r: Report) -> Report:
    """The record without what says where it comes from."""
    return dataclasses.replace(r, session=dataclasses.replace(r.session, id=None, file=None, source={},
                                                              started_at=None))


@pytest.fixture(scope="module")
def three_records(tmp_path_factory: pytest.TempPathFactory) -> tuple[Report, Report, Report]:
    tmp = tmp_path_factory.mktemp("agreement")
    mp = pytest.MonkeyPatch()
    mp.setenv("PSOAS_SENSE_DATA_DIR", str(tmp / "data"))
    mp.setenv("PSOAS_SENSE_CONFIG_DIR", str(tmp / "config"))
    try:
        rec = tmp / "session.jsonl"
        config = RunConfig(command="session", device=SPEC, speed=None, duration_s=400.0, headless=True,
                           record_path=rec, acc_rate_hz=50,
                           coach=CoachConfig(protocol="manual", safety_confirmed=True))
        source = open_source(config)
        coach = make_coach(config, source.header)
        record, col = RecordSink(), Collector()
        sinks = [col, record, *make_sinks(config, coach, source.header)]
        result = asyncio.run(run_session(source, sinks=sinks, coach=coach, duration_s=config.duration_s))
        screen = build_summary(record, config, ended_by(view_of(col.events), None, result.stopped_by, config))
        return screen, from_history(None), from_recording(rec)
    finally:
        mp.undo()


def test_the_session_is_one_worth_comparing(three_records: tuple[Report, Report, Report]) -> None:
    screen, _, _ = three_records
    tot = screen.totals
    assert screen.session.ended_by == "duration" and len(screen.holds) >= 6 and len(screen.sides) == 2
    assert tot.figures.paced_breaths > 0  # the pacer led through the link drop
    assert tot.figures.hr_bpm is not None and tot.figures.rmssd_ms is not None
    assert all(h.figures.hr_bpm is not None for h in screen.holds)
    assert sum(len(h.breath_rows) for h in screen.holds) > 40 and tot.figures.depth_rel is not None


@pytest.mark.parametrize("which", ["history", "recording"])
def test_the_summary_screen_report_last_and_report_file_agree_field_for_field(
        three_records: tuple[Report, Report, Report], which: str) -> None:
    screen, last, file = three_records
    other = last if which == "history" else file
    assert differences(to_json(figures_only(screen)), to_json(figures_only(other))) == []
    assert figures_only(screen) == figures_only(other)


def test_each_says_where_it_comes_from(three_records: tuple[Report, Report, Report]) -> None:
    screen, last, file = three_records
    assert screen.session.id is None and last.session.id == 1 and file.session.id is None
    assert file.session.file is not None and file.session.file.endswith("session.jsonl")
    assert last.session.source["kind"] == "session"
