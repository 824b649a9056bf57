"""Snapshots of the session flow's screens at 80x24 and 120x40, animations off, on data time.

The replay is held at a chosen data time (a gate on its clock), so every frame is the same on
every run. Review the report before `pytest --snapshot-update`.
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

BELT_RR = RECORDINGS / "neurokit2-resting-belt-rr.jsonl.gz"
SIZES = [(80, 24), (120, 40)]




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


async def quiet(pilot: Any, app: PsoasApp) -> None:
    """Wait until the held replay has nothing more in flight (the same frame every run)."""
    seen = (-1, -1.0)
    still = 0
    for _ in range(2000):
        await pilot.pause()
        now = (len(app.events), app.view.t_s)
        still = still + 1 if now == seen else 0
        seen = now
        if still >= 10:
            return
    raise AssertionError("never quiet")


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_safety(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    assert snap_compare(app_at(10.0, tmp_path, confirmed=False), terminal_size=size)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_session_mid_hold(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    app = app_at(120.0, tmp_path)

    async def mid_hold(pilot: Any) -> None:
        await until(pilot, lambda: app.view.t_s >= 119.9 and app.view.hold_kind is not None)
        await quiet(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=mid_hold)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_pain(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    app = app_at(60.0, tmp_path)

    async def pain(pilot: Any) -> None:
        await until(pilot, lambda: app.view.t_s >= 59.9)
        await pilot.press("p")
        await until(pilot, lambda: app.view.pain)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=pain)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_snapshot_summary(snap_compare: Any, size: tuple[int, int], tmp_path: Path) -> None:
    app = app_at(90.0, tmp_path)

    async def quit_then_summary(pilot: Any) -> None:
        await until(pilot, lambda: app.view.t_s >= 89.9)
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")
        await until(pilot, lambda: app.summary_report is not None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=quit_then_summary)
