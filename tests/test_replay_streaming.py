"""``replay`` streams its file (issue 10, point 4): the same events as a whole read, a loop that
reads the file again for each pass (each pass after the previous pass's last sample, as before),
memory that does not grow with the length of the file, and a bad value deep in the file that
ends the session on what came before it, then a one-line ``FILE:LINE`` error (exit status 2).
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import RECORDINGS, write_resp_csv
from psoas_sense.cli import main
from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck
from psoas_sense.errors import InputError
from psoas_sense.events import SessionEnded
from psoas_sense.model import AccFrame, Item, Marker, RespFrame, RRFrame, Status
from psoas_sense.recording.format import Header, Recording, RecordingWriter
from psoas_sense.recording.importers import load_input
from psoas_sense.serialize import to_json
from psoas_sense.session.history import HistorySink
from psoas_sense.session.loop import SessionResult, run_session
from psoas_sense.session.sinks import Collector, Recorder
from psoas_sense.sources import replay
from psoas_sense.sources.memory import MemorySource
from psoas_sense.sources.replay import LOOP_GAP_S, ReplaySource
from psoas_sense.store import HistoryStore

BELT = RECORDINGS / "biosppy-belt-60s.jsonl.gz"
H10_RR = RECORDINGS / "h10-rr-10min.jsonl.gz"


def manual_coach() -> CoachEngine:
    return CoachEngine(CoachSettings(), SafetyCheck.answered([]), signal="")


def run(source: Any, *, coach: bool, **kw: Any) -> tuple[list[dict[str, Any]], SessionResult]:
    col = Collector()
    result = asyncio.run(run_session(source, sinks=[col], coach=manual_coach() if coach else None, **kw))
    return [to_json(e) for e in col.events], result


# --------------------------------------------------------------------------- the same events


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("coach", [False, True], ids=["detect", "coached"])
@pytest.mark.parametrize("which", ["belt", "h10-rr", "csv"])
def test_a_streamed_replay_gives_the_events_of_a_whole_read(tmp_path, which, coach):
    if which == "csv":
        path = tmp_path / "long.csv"
        write_resp_csv(path, 30_000)  # 600 s, 3.7 read-ahead lengths, about 15 blocks
    else:
        path = {"belt": BELT, "h10-rr": H10_RR}[which]
    header, items = load_input(path)
    whole, whole_result = run(MemorySource(header, items), coach=coach)
    streamed, streamed_result = run(ReplaySource(path), coach=coach)
    assert streamed == whole
    assert sum(e["event"] == "exhale" for e in streamed) > 10
    assert streamed_result.items == whole_result.items
    assert streamed_result.stopped_by == whole_result.stopped_by
    if coach:
        assert streamed[-1]["event"] == "session_end"
    else:
        assert streamed_result.items == len(items)


# --------------------------------------------------------------------------- loop


def _old_span(items: list[tuple[float, Item]]) -> float:
    """A pass's span as the list-based replay computed it (kept here as the reference)."""
    samples = [it for _, it in items if isinstance(it, (RespFrame, AccFrame, RRFrame)) and it.t_s.size]
    oldest = float(samples[0].t_s[0]) if samples else items[0][0]
    newest = float(samples[-1].t_s[-1]) if samples else items[-1][0]
    return max(items[-1][0], newest) - min(items[0][0], oldest)


def _passes(source: ReplaySource, n: int) -> list[list[tuple[float, Item]]]:
    """The items of the first ``n`` passes of a loop replay."""

    async def take() -> list[list[tuple[float, Item]]]:
        out: list[list[tuple[float, Item]]] = []
        async for t, item in source:
            if source.passes > n:
                break
            if source.passes > len(out):
                out.append([])
            out[-1].append((t, item))
        return out

    return asyncio.run(take())


def _first_time(item: Item) -> float:
    t = item.t_s
    return float(t[0]) if isinstance(t, np.ndarray) else float(t)


def _with_status_lines(path: Path) -> Path:
    """A recording that starts with statuses (no samples) and whose first frame's samples
    precede its line's time."""
    header = Header(streams={"resp": {"unit": "au", "rate_hz": 10.0}})
    with RecordingWriter(path, header) as w:
        w.write(Status(t_s=0.0, state="connecting", detail="emulated"))
        w.write(Status(t_s=0.2, state="streaming"))
        for k in range(30):
            t = 0.5 + k + np.arange(10) / 10.0
            w.write(RespFrame(t_s=t, resp=np.sin(2 * np.pi * 0.2 * t)), t_s=float(t[-1]))
        w.write(Marker(t_s=31.0, marker="note", data={"text": "end"}))
    return path


@pytest.mark.parametrize("which", ["belt", "status-lines", "csv"])
def test_each_pass_of_a_loop_is_the_file_again_after_the_previous_pass(tmp_path, monkeypatch, which):
    if which == "belt":
        path = BELT
    elif which == "status-lines":
        path = _with_status_lines(tmp_path / "s.jsonl")
    else:
        path = tmp_path / "short.csv"
        write_resp_csv(path, 3000)
    _, items = load_input(path)
    opened: list[Path] = []
    real_open = replay.open_input

    def counting_open(p: Any, **kw: Any) -> Any:
        opened.append(Path(p))
        return real_open(p, **kw)

    monkeypatch.setattr(replay, "open_input", counting_open)
    src = ReplaySource(path, loop=True)
    passes = _passes(src, 3)
    assert len(opened) == 4  # read again for each pass, never kept (the 4th: its first item)
    shift = _old_span(items) + LOOP_GAP_S
    for k, got in enumerate(passes):
        assert len(got) == len(items)
        for (t, item), (t0, item0) in zip(got, items, strict=True):
            assert t == pytest.approx(t0 + k * shift, abs=1e-9)
            assert type(item) is type(item0)
            assert _first_time(item) == pytest.approx(_first_time(item0) + k * shift, abs=1e-9)
    # the second pass starts (its first line or sample) LOOP_GAP_S after the first pass ends (its
    # last sample, or line if later)
    def ends(p: list[tuple[float, Item]]) -> tuple[float, float]:
        frames = [it for _, it in p if isinstance(it, (RespFrame, AccFrame, RRFrame)) and it.t_s.size]
        return min(p[0][0], float(frames[0].t_s[0])), max(p[-1][0], float(frames[-1].t_s[-1]))

    assert ends(passes[1])[0] == pytest.approx(ends(passes[0])[1] + LOOP_GAP_S, abs=1e-9)
    assert ends(passes[2])[0] == pytest.approx(ends(passes[1])[1] + LOOP_GAP_S, abs=1e-9)


def test_a_loop_session_runs_on_past_the_file(tmp_path):
    events, result = run(ReplaySource(BELT, loop=True), coach=False, duration_s=150.0)
    assert result.stopped_by == "duration"
    times = [e["t"] for e in events if e["event"] in ("exhale", "inhale")]
    assert times == sorted(times) and times[-1] > 130.0


# --------------------------------------------------------------------------- memory


def _peak_bytes(path: Path, *, loop: bool = False, passes: int = 1) -> int:
    """Peak traced memory while a replay of ``path`` opens and gives out ``passes`` passes (the
    pipeline aside)."""

    async def drain() -> int:
        source = ReplaySource(path, loop=loop)
        n = 0
        async for _, item in source:
            if source.passes > passes:
                break
            n += getattr(item, "t_s", np.zeros(0)).size
        return n

    tracemalloc.start()
    try:
        assert asyncio.run(drain()) > 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.usefixtures("small_blocks")
def test_memory_does_not_grow_with_the_length_of_the_file(tmp_path):
    small_p, large_p = tmp_path / "n.csv", tmp_path / "4n.csv"
    write_resp_csv(small_p, 20_000)  # 260 kB: four 64 KiB blocks
    write_resp_csv(large_p, 80_000)
    small = _peak_bytes(small_p)
    large = _peak_bytes(large_p)
    # 4x the rows; a whole read would hold 4x the frames (1.3 MB of floats for the large one)
    assert large < 1.3 * small + (64 << 10), (small, large)
    # nor with the number of passes of a loop
    looped = _peak_bytes(small_p, loop=True, passes=4)
    assert looped < 1.3 * small + (64 << 10), (small, looped)


# --------------------------------------------------------------------------- a bad value late in the file


@pytest.mark.usefixtures("small_blocks")
def test_iterated_alone_a_late_bad_value_is_raised_after_the_items_before_it(tmp_path):
    p = tmp_path / "bad.csv"
    write_resp_csv(p, 20_000, bad_line=15_001)
    src = ReplaySource(p)  # the header and the read-ahead are fine
    seen: list[float] = []

    async def drain() -> None:
        async for t, _ in src:
            seen.append(t)

    with pytest.raises(InputError) as info:
        asyncio.run(drain())
    assert str(info.value) == f"{p}:15001: column 'resp' is not a finite number: 'nan'"
    assert 100.0 < seen[-1] < 300.0  # streamed: what came before it was given out


@pytest.mark.usefixtures("small_blocks")
@pytest.mark.parametrize("loop", [False, True])
def test_a_late_bad_value_ends_the_session_cleanly_then_raises(tmp_path, loop):
    p = tmp_path / "bad.csv"
    write_resp_csv(p, 20_000, bad_line=12_001)  # 240 s in: mid-session
    rec = tmp_path / "session.jsonl"
    coach = manual_coach()
    col = Collector()
    sinks = [col, Recorder(rec), HistorySink(coach.settings, source={"file": str(p)})]
    with pytest.raises(InputError) as info:
        asyncio.run(run_session(ReplaySource(p, loop=loop), sinks=sinks, coach=coach))
    assert str(info.value) == f"{p}:12001: column 'resp' is not a finite number: 'nan'"
    # the session closed on the data before the bad block, and says why it ended
    (end,) = col.of(SessionEnded)
    assert isinstance(end, SessionEnded) and end.ended_by == "input_error"
    assert 100.0 < end.t_s < 240.0
    # the recording is whole and ends with the session's end
    marks = [it.marker for _, it in Recording(rec).timed_items() if isinstance(it, Marker)]
    assert marks[-1] == "session_end"
    # the history holds the finished session
    with HistoryStore() as store:
        (row,) = store.sessions()
    assert row.ended_by == "input_error" and not row.interrupted
    assert row.breaths > 20


@pytest.mark.usefixtures("small_blocks")
def test_replay_of_a_file_with_a_late_bad_value_exits_2_with_one_line(tmp_path, capsys):
    p = tmp_path / "bad.csv"
    write_resp_csv(p, 20_000, bad_line=15_001)
    assert main(["replay", str(p), "--speed", "max", "--headless"]) == 2
    out, err = capsys.readouterr()
    assert err.splitlines() == [f"psoas-sense: error: {p}:15001: column 'resp' is not a finite number: 'nan'"]
    assert sum('"event": "exhale"' in line for line in out.splitlines()) > 20


@pytest.mark.usefixtures("small_blocks")
def test_a_bad_value_in_the_read_ahead_is_raised_at_once(tmp_path):
    p = tmp_path / "bad.csv"
    write_resp_csv(p, 20_000, bad_line=101)
    with pytest.raises(InputError, match=r":101: column 'resp' is not a finite number"):
        ReplaySource(p)


def test_the_file_is_closed_when_left_unplayed_or_played_in_part(monkeypatch):
    closed: list[int] = []
    real_open = replay.open_input

    class Tracked:
        def __init__(self, stream: Iterator[tuple[float, Item]]) -> None:
            self.stream = stream

        def __iter__(self) -> Tracked:
            return self

        def __next__(self) -> tuple[float, Item]:
            return next(self.stream)

        def close(self) -> None:
            closed.append(1)

    def tracked_open(p: Any, **kw: Any) -> Any:
        header, stream = real_open(p, **kw)
        return header, Tracked(stream)

    monkeypatch.setattr(replay, "open_input", tracked_open)

    async def leave_at_once() -> None:
        async with ReplaySource(BELT):
            pass

    async def leave_midway() -> None:
        async with ReplaySource(BELT, loop=True) as src:
            async for _ in src:
                if src.passes == 2:
                    break

    asyncio.run(leave_at_once())
    asyncio.run(leave_midway())
    assert closed == [1, 1, 1]  # the unplayed one, and both passes of the loop


def _recording_going_back_at(path: Path, bad_line: int) -> Path:
    """A recording of 1 s frames whose line ``bad_line`` goes back in time."""
    header = Header(streams={"resp": {"unit": "au", "rate_hz": 10.0}})
    with RecordingWriter(path, header) as w:
        for k in range(300):
            t = k + np.arange(1, 11) / 10.0
            w.write(RespFrame(t_s=t, resp=np.sin(2 * np.pi * 0.2 * t)), t_s=float(t[-1]))
    lines = path.read_text().splitlines(keepends=True)
    lines.insert(bad_line - 1, '{"t": 0.5, "kind": "status", "state": "lost"}\n')
    path.write_text("".join(lines))
    return path


@pytest.mark.parametrize("bad_line", [3, 200])
def test_a_recording_broken_early_is_refused_at_once_and_late_after_its_items(tmp_path, bad_line):
    p = _recording_going_back_at(tmp_path / "back.jsonl", bad_line)
    reason = f"{p}:{bad_line}: time goes backwards"
    if bad_line <= replay.READ_AHEAD_ITEMS:  # refused before a session starts on it: nothing played
        with pytest.raises(InputError, match=reason):
            ReplaySource(p)
        return
    col = Collector()
    with pytest.raises(InputError, match=reason):
        asyncio.run(run_session(ReplaySource(p), sinks=[col]))
    assert 150 < max(e.t_s for e in col.events) < bad_line  # played up to the bad line
