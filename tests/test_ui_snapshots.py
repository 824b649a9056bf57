"""Snapshots of the session flow at 60x20, 80x24 and 120x40, animations off, on data time.

The session states (the breath followed, the clock pacer, a link lost, the wearer moving) come
from real runs fed to a real app (:mod:`ui_states`); the safety check, the pain stop and the
summary come from a replay held at a chosen data time (a gate on its clock). Every frame is the
same on every run. Review the report before `pytest --snapshot-update`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import RECORDINGS, Gate
from psoas_sense.session.setup import CoachConfig, RunConfig
from psoas_sense.sources.replay import ReplaySource
from psoas_sense.ui.app import PsoasApp, make_app
from psoas_sense.ui.audio import CuePlayer
from ui_states import STATES, fed_app, feed

BELT_RR = RECORDINGS / "neurokit2-resting-belt-rr.jsonl.gz"
SIZES = [(60, 20), (80, 24), (120, 40)]
SIZE_IDS = ["60x20", "80x24", "120x40"]


def app_at(hold_at: float, tmp_path: Path, *, confirmed: bool = True, speed: float | None = 1.0) -> PsoasApp:
    gate = Gate(hold_at)
    config = RunConfig("replay", file=BELT_RR, speed=speed, loop=True, subtitle="replay: snapshot",
                       coach=CoachConfig(protocol="manual", safety_confirmed=confirmed, save_history=False))
    audio = CuePlayer(player=["fake-player"], speaker=None, run=lambda cmd: None, cache_dir=tmp_path)
    app = make_app(config, audio=audio,
                   make_source=lambda: ReplaySource(BELT_RR, speed=1.0, loop=True, sleep=gate.sleep, clock=gate.clock))
    app.animation_level = "none"
    return app


async def until(pilot: Any, cond: Any, steps: int = 2000) -> None:
    for _ in range(steps):
        await pilot.pause()
        if cond():
            return
    raise AssertionError("not reached")


@pytest.mark.parametrize("state", list(STATES))
@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_snapshot_session(snap_compare: Any, size: tuple[int, int], state: str, tmp_path: Path) -> None:
    app = fed_app(tmp_path)

    async def run_before(pilot: Any) -> None:
        await feed(pilot, app, state)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_snapshot_help_over_the_session(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    app = fed_app(tmp_path)

    async def run_before(pilot: Any) -> None:
        await feed(pilot, app, "following")
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_snapshot_quit_question_over_the_session(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    app = fed_app(tmp_path)

    async def run_before(pilot: Any) -> None:
        await feed(pilot, app, "following")
        await pilot.press("q")
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_snapshot_safety(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    assert snap_compare(app_at(10.0, tmp_path, confirmed=False), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_snapshot_pain(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    app = app_at(60.0, tmp_path)

    async def pain(pilot: Any) -> None:
        await until(pilot, lambda: app.view.t_s >= 59.9)
        await pilot.press("p")
        await until(pilot, lambda: app.view.pain)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=pain)


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
def test_snapshot_summary(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    # as fast as possible on data time (no clock, so nothing depends on the event loop's timing)
    config = RunConfig("replay", file=BELT_RR, speed=None, loop=True, duration_s=200.0, subtitle="replay: snapshot",
                       coach=CoachConfig(protocol="manual", simulated_safety=True, save_history=False))
    app = make_app(config, audio=CuePlayer(player=["fake-player"], speaker=None, run=lambda cmd: None,
                                           cache_dir=tmp_path))
    app.animation_level = "none"

    async def summary(pilot: Any) -> None:
        await until(pilot, lambda: app.summary_report is not None, steps=20000)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=summary)
