"""The session core: commands that never wait for data, one loop, one set of figures, the view.

Everything here runs on data time (the emulated strap's virtual clock, or a replay as fast as
possible) except the one subprocess test at real pace, which measures what a person would see.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import threading
import typing
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from clirun import cli
from conftest import RECORDINGS
from psoas_sense import report as rep
from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck
from psoas_sense.events import (
    Cue,
    HoldEnded,
    HoldStarted,
    PainStopped,
    SessionEnded,
    SessionEvent,
    SideEnded,
    StageEntered,
)
from psoas_sense.model import BreathEvent, Marker, Status
from psoas_sense.recording.format import Header, Recording
from psoas_sense.session.commands import CommandInput, UserCommand, parse_command_line
from psoas_sense.session.history import HistorySink
from psoas_sense.session.loop import IDLE_TICK_S, run_session
from psoas_sense.session.sinks import CallbackSink, Collector, Recorder
from psoas_sense.sources.clock import VirtualClock
from psoas_sense.sources.devices import open_device_source
from psoas_sense.sources.replay import ReplaySource
from psoas_sense.view import view_of
from psoas_sense.vocab import Command

BELT_RR = RECORDINGS / "neurokit2-resting-belt-rr.jsonl.gz"


async def lines(*items: str) -> AsyncIterator[CommandInput]:
    """Command lines, read as the command line reads them (the loop takes typed commands)."""
    for item in items:
        parsed = parse_command_line(item)
        if parsed is not None:
            yield parsed


def manual_coach(signal: str = "") -> CoachEngine:
    return CoachEngine(CoachSettings(), SafetyCheck.answered([]), signal=signal)


# --------------------------------------------------------------------------- pain while no data flows


async def test_pain_during_a_link_drop_acts_at_once_on_data_time(tmp_path: Path) -> None:
    src = open_device_source("emulated:h10?drop_at=20&drop_for=30", speed=None)
    col = Collector()
    rec = tmp_path / "drop.jsonl"
    result = await run_session(src, sinks=[col, Recorder(rec)], coach=manual_coach("acc"),
                               commands=lines("@25 pain"))
    states = [(e.state, e.t_s) for e in col.of(Status)]
    assert any(s in ("reconnecting", "lost") and 19.0 <= t <= 21.0 for s, t in states)  # the link went down
    (pain,) = col.of(PainStopped)
    assert 25.0 <= pain.t_s <= 25.0 + IDLE_TICK_S + 1e-6  # stamped when asked, not when data came back
    (end,) = col.of(SessionEnded)
    assert end.ended_by == "pain" and end.t_s == pain.t_s
    assert result.stopped_by == "coach"
    assert result.last_t_s < 30.0  # it never waited for the strap to come back
    # saved at once: the recording holds the pain stop at the time it was asked
    marks = [(it.marker, it.t_s) for _, it in Recording(rec).timed_items() if isinstance(it, Marker)]
    assert ("pain_stop", pain.t_s) in marks and ("session_end", pain.t_s) in marks


class StallingSource:
    """A replay paced on a virtual clock that stops sending (but does not end) after ``stall_at_s``."""

    def __init__(self, path: Path, stall_at_s: float) -> None:
        self.clock = VirtualClock(None)
        self._replay = ReplaySource(path)
        self.header: Header = self._replay.header
        self.stall_at_s = stall_at_s

    async def __aenter__(self) -> StallingSource:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.clock.aclose()

    async def __aiter__(self) -> AsyncIterator[tuple[float, typing.Any]]:
        async for t, item in self._replay:
            if t >= self.stall_at_s:
                await self.clock.sleep(1e9)  # stalled: nothing more, ever
            await self.clock.sleep(max(0.0, t - self.clock.now()))
            yield t, item


async def test_pain_during_a_stalled_stream() -> None:
    col = Collector()
    result = await run_session(StallingSource(BELT_RR, 30.0), sinks=[col], coach=manual_coach(),
                               commands=lines("@75 pain"))
    (pain,) = col.of(PainStopped)
    assert 75.0 <= pain.t_s <= 75.0 + IDLE_TICK_S + 1e-6
    assert result.stopped_by == "coach" and result.last_t_s < 30.0
    # while stalled, the idle ticks kept the coach going on its own clock: after the silence
    # limit it says it cannot follow and the pacer takes over, with cues on the pacer's time
    cues = [e for e in col.events if isinstance(e, Cue) and 30.0 < e.t_s < 75.0]
    assert any(c.kind == "fallback_pacer" for c in cues)
    assert any(c.source == "pacer" for c in cues)


async def test_pain_from_a_silent_phone() -> None:
    from psoas_sense.sources.phone import open_phone_source

    src = open_phone_source("udp:0")
    assert src is not None
    col = Collector()
    ready = asyncio.Event()

    def on_event(ev: SessionEvent) -> None:
        if isinstance(ev, Status):
            ready.set()

    async def after_first_status() -> AsyncIterator[UserCommand]:
        await ready.wait()  # the phone source is listening; no datagram will ever come
        yield UserCommand(Command.PAIN)

    result = await asyncio.wait_for(
        run_session(src, sinks=[col, CallbackSink(on_event)], coach=manual_coach(), commands=after_first_status()),
        timeout=10.0,
    )
    (pain,) = col.of(PainStopped)
    assert result.items >= 1 and result.stopped_by == "coach"
    assert [e.ended_by for e in col.of(SessionEnded)] == ["pain"]
    assert pain.text and "professional" in pain.text.lower()


def test_pain_on_stdin_during_a_link_drop_at_real_pace() -> None:
    """What a person sees: `pain` typed while the strap is away stops the session at once, without
    waiting for the strap. A real process and pipe (the standard-input reader thread beside the
    event loop is the point); judged on the session's own clock, so a loaded machine cannot fail it:
    the pain stop comes long before the strap could return (away from 2 s to 62 s)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "psoas_sense", "session", "--device", "emulated:h10?drop_at=2&drop_for=60",
           "--protocol", "manual", "--confirm-safety", "--headless", "--no-history"]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, env=env) as proc:
        _answer_pain_during_the_drop(proc)


def _answer_pain_during_the_drop(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None and proc.stdout is not None
    out: queue.Queue[dict[str, typing.Any]] = queue.Queue()
    reader = threading.Thread(target=_read_lines, args=(proc, out), daemon=True)
    reader.start()
    try:
        while True:  # the link drops (the timeouts only end a broken run: they decide nothing)
            d = out.get(timeout=120.0)
            if d["event"] == "status" and d["state"] in ("reconnecting", "lost"):
                break
        dropped_at = d["t"]
        proc.stdin.write("pain\n")
        proc.stdin.flush()
        after: list[dict[str, typing.Any]] = []
        while not after or after[-1]["event"] != "pain_stop":
            after.append(out.get(timeout=120.0))
        assert proc.wait(timeout=120.0) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5.0)
    stop = after[-1]
    assert 2.0 <= dropped_at <= stop["t"] < 62.0, (dropped_at, stop)
    # nothing from the strap in between: the stop did not wait for data
    assert not [d for d in after if d["event"] in ("exhale", "inhale") or d.get("state") == "reconnected"]


def _read_lines(proc: subprocess.Popen[str], out: queue.Queue[dict[str, typing.Any]]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        out.put(json.loads(line))


# --------------------------------------------------------------------------- one set of figures


@pytest.mark.slow  # test_record_agreement compares the three records field for field, quicker
def test_report_figures_are_the_sessions_own(tmp_path: Path) -> None:
    coach = manual_coach()
    col = Collector()
    rec = tmp_path / "session.jsonl"
    src = ReplaySource(BELT_RR, loop=True)
    asyncio.run(run_session(src, sinks=[col, Recorder(rec), HistorySink(coach.settings, source={"file": str(BELT_RR)})],
                            coach=coach))
    holds = col.of(HoldEnded)
    sides = col.of(SideEnded)
    (end,) = col.of(SessionEnded)
    assert len(sides) == 2 and len(holds) >= 4
    reports = [rep.from_history(None), rep.from_recording(rec)]
    for r in reports:
        assert [(h.kind, h.breaths, h.mean_rate_bpm, h.duration_s) for h in r.holds] == [
            (h.kind, h.breaths, h.mean_rate_bpm, h.duration_s) for h in typing.cast(list[HoldEnded], holds)
        ]
        assert [(s.side, s.breaths, s.holds, s.duration_s, s.mean_rate_bpm) for s in r.sides] == [
            (s.side, s.breaths, s.holds, s.duration_s, s.mean_rate_bpm) for s in typing.cast(list[SideEnded], sides)
        ]
        end_ = typing.cast(SessionEnded, end)
        assert r.totals.breaths == end_.summary.breaths
        assert r.totals.mean_rate_bpm == end_.summary.mean_rate_bpm
        assert r.totals.duration_s == end_.summary.duration_s
    # the history keeps the strap's beats: heart rate and RMSSD per hold, as from the recording
    from_history, from_recording = reports
    assert [h.figures.rmssd_ms for h in from_history.holds] == [h.figures.rmssd_ms for h in from_recording.holds]
    assert all(h.figures.rmssd_ms is not None and h.figures.hr_bpm is not None for h in from_history.holds)
    # and the session's own hold_end lines carry the very same figures (computed once, by the coach)
    hold_lines = typing.cast(list[HoldEnded], holds)
    assert [(h.hr_bpm, h.rmssd_ms, h.exhale_share) for h in hold_lines] == [
        (h.figures.hr_bpm, h.figures.rmssd_ms, h.figures.exhale_share) for h in from_history.holds]
    assert all(h.exhale_share is not None for h in hold_lines)
    end_summary = typing.cast(SessionEnded, end).summary
    assert end_summary.rmssd_ms is not None and end_summary.hr_bpm is not None
    assert from_history.totals.figures.rmssd_ms == end_summary.rmssd_ms


# --------------------------------------------------------------------------- the session view


async def test_the_view_of_a_replayed_session_at_chosen_times() -> None:
    col = Collector()
    await run_session(ReplaySource(BELT_RR, loop=True), sinks=[col], coach=manual_coach())
    events = col.events

    def upto(t: float) -> list[SessionEvent]:
        return [e for e in events if (e.detected_at_s if isinstance(e, BreathEvent) else e.t_s) <= t]

    starts = typing.cast(list[HoldStarted], col.of(HoldStarted))
    ends = typing.cast(list[HoldEnded], col.of(HoldEnded))
    first = starts[0]
    t = first.t_s + 10.0
    v = view_of(upto(t), t)
    assert v.hold_kind == first.kind and v.hold_elapsed_s == pytest.approx(10.0)
    assert v.hold_target_s == first.target_s and v.side == first.side
    said = [e for e in upto(t) if isinstance(e, (Cue, StageEntered))]
    assert v.instruction == said[-1].text  # the instruction is the coach's latest word, never the phase
    phases = [e for e in upto(t) if isinstance(e, BreathEvent)]
    assert v.phase == phases[-1].kind and v.phase_words in ("breathing out", "breathing in")
    assert v.rate_bpm is not None and v.hr_bpm is not None and v.quality_words in ("good", "weak")
    # between two holds there is none under way, and the finished ones are counted
    lone = next(e for e in ends if not any(s.t_s == e.t_s for s in starts))
    gap = lone.t_s + 0.001
    v2 = view_of(upto(gap), gap)
    assert v2.hold_kind is None and v2.holds_done[-1] == lone
    # the exhales counted live match the hold's own figure when it ends
    v3 = view_of(upto(ends[0].t_s - 0.001), ends[0].t_s - 0.001)
    assert abs(v3.hold_breaths - ends[0].breaths) <= 1
    # live, beside the hold timer: the hold's rate so far (the coach's definition) and its RMSSD
    assert ends[0].mean_rate_bpm is not None and v3.hold_rate_bpm is not None
    assert v3.hold_rate_bpm == pytest.approx(ends[0].mean_rate_bpm, abs=1.5)
    assert v.hold_rmssd_ms is not None and 5.0 < v.hold_rmssd_ms < 200.0
    # at the end: how it ended, and the source state in words
    vend = view_of(events)
    assert vend.ended_by == "done" and vend.source_words == "session over" and vend.end is not None


# --------------------------------------------------------------------------- how a session ended


async def test_a_session_whose_strap_never_comes_back_ends_as_link_lost() -> None:
    src = open_device_source("emulated:h10?drop_at=20&drop_for=1000", speed=None, reconnect_timeout_s=15.0)
    col = Collector()
    result = await run_session(src, sinks=[col], coach=manual_coach("acc"))
    (end,) = typing.cast(list[SessionEnded], col.of(SessionEnded))
    assert result.stopped_by == "link_lost" and end.ended_by == "link_lost"
    lost = [e for e in col.of(Status) if typing.cast(Status, e).state == "lost"]
    assert lost and 34.0 <= lost[-1].t_s <= 36.0  # gave up on time: 20 s + 15 s, within a second


async def test_a_cancelled_session_ends_as_signal() -> None:
    col = Collector()
    task: asyncio.Task[typing.Any] | None = None

    def on_event(ev: SessionEvent) -> None:
        if ev.t_s > 20.0 and task is not None and not task.done():
            task.cancel()  # what SIGTERM and Ctrl-C do

    task = asyncio.ensure_future(run_session(ReplaySource(BELT_RR, loop=True), sinks=[col, CallbackSink(on_event)],
                                             coach=manual_coach()))
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [typing.cast(SessionEnded, e).ended_by for e in col.of(SessionEnded)] == ["signal"]


def test_headless_link_lost_is_one_line_and_a_non_zero_exit() -> None:
    r = cli("session", "--device", "emulated:h10?drop_at=5&drop_for=1000", "--speed", "max", "--reconnect-timeout", "5",
            "--headless", "--protocol", "manual", "--confirm-safety", "--no-history")
    assert r.returncode == 3
    assert r.stderr.strip().count("\n") == 0 and "lost the sensor" in r.stderr
    end = [json.loads(x) for x in r.stdout.splitlines() if '"session_end"' in x]
    assert end and end[-1]["ended_by"] == "link_lost"


def test_the_view_says_receiving_once_accelerometer_breaths_arrive() -> None:
    from psoas_sense.view import SessionView, step

    v = step(SessionView(), Status(1.0, "waiting_for_acc"))
    assert v.source_words.startswith("waiting for the accelerometer")
    v = step(v, BreathEvent("exhale", 30.0, 30.4, signal="acc"))
    assert v.source_words == "receiving"
