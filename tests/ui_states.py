"""Session states for the screen tests, from real runs: the bundled demo recording and the
emulated strap (a link drop, the wearer moving), each run once on data time and fed to a real
app whose own source never sends anything, so every frame is the same on every run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

from conftest import RECORDINGS
from psoas_sense.events import SessionEvent
from psoas_sense.model import Item
from psoas_sense.recording.format import Header
from psoas_sense.session.loop import run_session
from psoas_sense.session.setup import CoachConfig, RunConfig, make_coach
from psoas_sense.session.sinks import CallbackSink
from psoas_sense.sources.devices import open_device_source
from psoas_sense.sources.replay import ReplaySource
from psoas_sense.ui.app import PsoasApp, make_app
from psoas_sense.ui.audio import CuePlayer
from psoas_sense.ui.messages import DataTimeAdvanced, EventEmitted

DEMO = RECORDINGS / "neurokit2-resting-belt-rr.jsonl.gz"
Step = tuple[str, Any]
"""("e", an event) or ("t", a session time), in the order the session loop gave them."""

STATES: dict[str, tuple[str, float]] = {
    "following": ("demo", 118.0),  # the first hold, the breath followed
    # an RR-only strap: the clock pacer leads by design, with how the heart follows it (the demo no
    # longer hands its half minute of unsure breaths to the pacer: issue 16)
    "pacer": ("emulated:hrs?rate_bpm=6", 130.0),
    "link_lost": ("emulated:h10?drop_at=60&drop_for=20", 70.0),  # 10 s into a 20 s link drop
    "moving": ("emulated:h10?move_at=100&move_for=20", 103.0),  # 3 s into a movement, mid-hold
}
"""Each state: the run it comes from and the session time it is shown at."""


def coach_config(protocol: str | None = "manual") -> CoachConfig:
    return CoachConfig(protocol=protocol, simulated_safety=True, safety_confirmed=True, save_history=False)


@cache
def steps(spec: str, until_s: float, protocol: str | None = "manual") -> tuple[Step, ...]:
    """Everything a session on ``spec`` (``demo`` or an emulated strap) gave, up to ``until_s``."""
    out: list[Step] = []
    config = RunConfig("replay", file=DEMO, coach=coach_config(protocol))

    async def go() -> None:
        source: Any = ReplaySource(DEMO, speed=None, loop=True) if spec == "demo" else open_device_source(
            spec, speed=None)
        await run_session(source, sinks=[CallbackSink(lambda e: out.append(("e", e)), lambda t: out.append(("t", t)))],
                          coach=make_coach(config, None), duration_s=until_s, trace_every_s=0.25)

    with ThreadPoolExecutor(1) as pool:  # its own event loop, also when called from a running one
        pool.submit(asyncio.run, go()).result()
    return tuple(s for s in out if _t(s) <= until_s)


def _t(step: Step) -> float:
    kind, x = step
    if kind == "t":
        return float(x)
    return float(getattr(x, "detected_at_s", None) or x.t_s)


class SilentSource:
    """A source that never sends anything (the test feeds the app instead)."""

    header = Header(streams={"resp": {"unit": "au", "rate_hz": 100.0}}, device={"name": "test"})

    async def __aenter__(self) -> SilentSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def __aiter__(self) -> AsyncIterator[tuple[float, Item]]:
        await asyncio.Event().wait()
        yield 0.0, None  # type: ignore[misc]  # never reached


def fed_app(tmp_path: Path, protocol: str | None = "manual") -> PsoasApp:
    """A real app on a silent source, for :func:`feed`."""
    config = RunConfig("replay", file=DEMO, speed=1.0, subtitle="test", coach=coach_config(protocol))
    audio = CuePlayer(player=["fake-player"], speaker=None, run=lambda cmd: None, cache_dir=tmp_path)
    app = make_app(config, audio=audio, make_source=SilentSource)
    app.animation_level = "none"
    return app


async def feed(pilot: Any, app: PsoasApp, state: str, protocol: str | None = "manual") -> None:
    """Play the run of ``state`` into the app up to its time, then let the screen settle."""
    spec, until = STATES[state]
    await pilot.pause()
    for kind, x in steps(spec, until, protocol):
        app.post_message(EventEmitted(x) if kind == "e" else DataTimeAdvanced(x))
    app.post_message(DataTimeAdvanced(until))
    # each pause waits until every message posted before it is handled (and at least 20 ms of
    # the host's clock): the run's messages, then what handling them asked for (a redraw)
    for _ in range(200):
        await pilot.pause()
        if app.view.t_s >= until - 1e-6:
            break
    for _ in range(3):
        await pilot.pause()
    events: list[SessionEvent] = app.events
    assert events and app.view.t_s >= until - 1e-6, (len(events), app.view.t_s)


async def until_true(pilot: Any, cond: Any, what: str = "condition", timeout_s: float = 60.0) -> None:
    """Let the app run until ``cond()`` holds: for what a real thread or the host's clock does
    (a file tree's loader, a scan). The wall clock only bounds a broken run: it decides nothing,
    so a loaded machine is slower, never failed."""
    import time

    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout_s:g} s")
        await pilot.pause(0.01)
    await pilot.pause()
