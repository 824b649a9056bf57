"""Replay source and the headless runner: determinism, pacing on an injected clock, looping."""

from __future__ import annotations

import asyncio
import json

import pytest

from conftest import RECORDINGS, lines_sink
from psoas_sense.model import RespFrame, Status
from psoas_sense.recording.format import Header, RecordingWriter, read_recording
from psoas_sense.session.loop import run_session
from psoas_sense.session.sinks import Recorder
from psoas_sense.sources.replay import ReplaySource

BELT = RECORDINGS / "biosppy-belt-60s.jsonl.gz"


class FakeTime:
    """A clock that advances only when the replay sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


async def collect(source) -> list[dict]:
    lines: list[dict] = []
    await run_session(source, sinks=[lines_sink(lines.append)])
    return lines


def test_same_file_same_events_byte_for_byte():
    a = asyncio.run(collect(ReplaySource(BELT)))
    b = asyncio.run(collect(ReplaySource(BELT)))
    assert json.dumps(a) == json.dumps(b)
    assert sum(1 for x in a if x["event"] == "exhale") >= 10


@pytest.mark.parametrize("speed", [1.0, 4.0])
def test_pacing_follows_data_time(speed):
    ft = FakeTime()
    src = ReplaySource(BELT, speed=speed, sleep=ft.sleep, clock=ft.clock)
    lines = asyncio.run(collect(src))
    _, items = read_recording(BELT)
    span = items[-1].t_s[-1] - items[0].t_s[-1]  # type: ignore[union-attr]
    assert ft.now - 100.0 == pytest.approx(span / speed, abs=1e-6)
    assert len(ft.sleeps) == len(items) - 1  # one wait per line after the first
    # pacing does not change what is detected
    assert lines == asyncio.run(collect(ReplaySource(BELT)))


def test_max_speed_never_sleeps():
    ft = FakeTime()
    asyncio.run(collect(ReplaySource(BELT, speed=None, sleep=ft.sleep, clock=ft.clock)))
    assert ft.sleeps == []


def test_loop_repeats_with_time_moving_on():
    src = ReplaySource(BELT, loop=True)
    lines: list[dict] = []
    res = asyncio.run(run_session(src, sinks=[lines_sink(lines.append)], duration_s=150.0))
    assert res.stopped_by == "duration"
    assert src.passes == 3
    times = [x["t"] for x in lines if x["event"] in ("exhale", "inhale")]
    assert times == sorted(times)
    assert times[-1] > 130.0


def test_session_recording_replays_to_the_same_events(tmp_path):
    out = tmp_path / "again.jsonl"
    first: list[dict] = []
    asyncio.run(run_session(ReplaySource(BELT), sinks=[lines_sink(first.append), Recorder(out)]))
    second: list[dict] = []
    asyncio.run(run_session(ReplaySource(out), sinks=[lines_sink(second.append)]))
    assert first == second


def test_status_items_become_status_lines(tmp_path):
    path = tmp_path / "s.jsonl"
    header = Header(streams={"resp": {"unit": "au", "rate_hz": 10.0}})
    with RecordingWriter(path, header) as w:
        w.write(Status(t_s=0.0, state="connecting", detail="emulated"))
        w.write(RespFrame(t_s=[0.1, 0.2], resp=[0.0, 1.0]))
        w.write(Status(t_s=0.5, state="lost"))
    lines = asyncio.run(collect(ReplaySource(path)))
    assert lines == [
        {"event": "status", "state": "connecting", "t": 0.0, "detail": "emulated"},
        {"event": "status", "state": "lost", "t": 0.5},
    ]


def test_cancel_closes_the_recording_cleanly(tmp_path):
    out = tmp_path / "cut.jsonl"

    async def main() -> None:
        ft = FakeTime()
        gate = asyncio.Event()

        async def slow_sleep(s: float) -> None:
            await ft.sleep(s)
            if ft.now > 120:
                gate.set()
                await asyncio.Event().wait()  # hang until cancelled, like a live link

        src = ReplaySource(BELT, speed=1.0, sleep=slow_sleep, clock=ft.clock)
        task = asyncio.ensure_future(run_session(src, sinks=[Recorder(out)]))
        await gate.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    header, items = read_recording(out)  # whole lines only, readable after the cancel
    assert 5 <= len(items) < 60
