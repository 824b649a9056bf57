"""Emulated straps end to end through ``BleakClient``: the real client code against the emulator.

Everything runs on the emulator's virtual clock (speed max): no real waiting, same result each run.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clirun import cli
from conftest import lines_sink
from psoas_sense.decode import pmd
from psoas_sense.errors import PsoasError
from psoas_sense.model import Notification, Status
from psoas_sense.recording.format import Recording
from psoas_sense.session.loop import run_session
from psoas_sense.session.sinks import Recorder
from psoas_sense.sources.devices import open_device_source
from psoas_sense.sources.replay import ReplaySource


async def consume(spec: str, until_s: float, **kwargs) -> tuple[object, list[tuple[float, object]]]:
    """Raw items of an emulated session up to ``until_s`` of data time."""
    src = open_device_source(spec, **kwargs)
    items: list[tuple[float, object]] = []
    async with src:
        async for t, item in src:
            items.append((t, item))
            if t >= until_s:
                break
    return src, items


def statuses(items) -> list[tuple[float, str]]:
    return [(round(t, 3), it.state) for t, it in items if isinstance(it, Status)]


async def session_lines(
    spec: str, duration_s: float, record: Path | None = None, **kwargs
) -> tuple[object, list[dict], object]:
    """Run a session; the lines returned stop before the final ``stopped`` status, which every
    clean shutdown must end with (checked here)."""
    src = open_device_source(spec, **kwargs)
    lines: list[dict] = []
    sinks = [lines_sink(lines.append)] + ([Recorder(record)] if record is not None else [])
    result = await run_session(src, sinks=sinks, duration_s=duration_s)
    last = lines[-1]
    assert last["event"] == "status" and last["state"] == "stopped", last
    return src, lines[:-1], result


async def test_hr_only_strap() -> None:
    src, lines, result = await session_lines("emulated:hrs", 120.0)
    states = [line["state"] for line in lines if line["event"] == "status"]
    assert states == ["connecting", "connected", "streaming"]
    assert "acc" not in src.header.streams and "rr" in src.header.streams
    assert src.header.device["source"] == "emulated"
    exhales = [line for line in lines if line["event"] == "exhale"]
    assert len(exhales) >= 10 and all(e["signal"] == "rr" for e in exhales)
    assert result.decode_errors == 0
    # the strap advertised contact (flags 0x16) and delivered every HR notification
    assert all(delivered for _, delivered in src.strap.hr_sent)


async def test_h10_with_start_delay_rr_carries_the_wait() -> None:
    src, lines, _ = await session_lines("emulated:h10?start_delay=25", 90.0)
    st = [(line["state"], line["t"]) for line in lines if line["event"] == "status"]
    assert [s for s, _ in st] == ["connecting", "connected", "waiting_for_acc", "streaming"]
    t_stream = st[-1][1]
    assert 25.0 <= t_stream < 26.0
    exhales = [line for line in lines if line["event"] == "exhale"]
    early = [e for e in exhales if e["t"] < t_stream]
    late = [e for e in exhales if e["t"] > t_stream + 15]
    assert early and all(e["signal"] == "rr" for e in early)
    assert late and all(e["signal"] == "acc" for e in late)
    # the handshake: settings query, then a start with every offered setting at 200 Hz
    requests = [req for _, req, _ in src.strap.cp_log]
    assert requests[0] == pmd.get_settings_request(pmd.ACC)
    start = pmd.parse_cp_request(requests[1])
    assert start.settings == {"sample_rate": (200,), "resolution": (16,), "range": (8,)}


async def test_acc_rate_is_configurable() -> None:
    src, items = await consume("emulated:h10", 5.0, acc_rate_hz=60)
    start = pmd.parse_cp_request(src.strap.cp_log[1][1])
    assert start.settings["sample_rate"] == (50,)
    assert src.header.streams["acc"]["rate_hz"] == 50.0


async def test_drop_and_reconnect_loses_no_frame_outside_the_gap(tmp_path: Path) -> None:
    rec = tmp_path / "drop.jsonl"
    src, lines, result = await session_lines("emulated:h10?drop_at=60&drop_for=4", 150.0, record=rec)
    st = [(line["state"], line["t"]) for line in lines if line["event"] == "status"]
    names = [s for s, _ in st]
    assert names == [
        "connecting",
        "connected",
        "waiting_for_acc",
        "streaming",
        "reconnecting",
        "reconnected",
        "waiting_for_acc",
        "streaming",
    ]
    t_drop, t_back = dict(st)["reconnecting"], dict(st)["reconnected"]
    assert t_drop == pytest.approx(60.0) and t_back == pytest.approx(64.0)
    # every frame the strap sent while linked arrived; the lost ones all fall in the gap
    received = set()
    for _, item in Recording(rec).timed_items():
        if isinstance(item, Notification) and item.char_uuid == pmd.PMD_DATA_UUID:
            received.add(int.from_bytes(item.data[1:9], "little"))
    sent = src.strap.sent
    delivered = {f.timestamp_ns for f in sent if f.delivered}
    assert delivered <= received
    lost = [f for f in sent if not f.delivered]
    latency = 0.05  # a frame sent just before the drop may be in flight when the link goes
    assert lost and all(60.0 - latency <= f.t_s <= 64.0 for f in lost)
    assert all(f.delivered for f in sent if f.t_s < 60.0 - latency or 64.5 < f.t_s <= 149.0)
    # a real H10 keeps streaming after a lost link: the client stopped and restarted it
    after = [pmd.parse_cp_request(req).op_code for t, req, _ in src.strap.cp_log if t >= 64.0]
    assert after == [pmd.OP_GET_SETTINGS, pmd.OP_START, pmd.OP_STOP, pmd.OP_START, pmd.OP_STOP]
    # exhales keep coming from the accelerometer after the gap
    late = [line for line in lines if line["event"] == "exhale" and line["t"] > 80]
    assert len(late) >= 10 and all(e["signal"] == "acc" for e in late)
    assert result.decode_errors == 0


@pytest.mark.slow
async def test_done_when_drop_at_60_with_start_delay_replays_to_the_same_events(tmp_path: Path) -> None:
    rec = tmp_path / "session.jsonl.gz"
    src, lines, _ = await session_lines("emulated:h10?drop_at=60&start_delay=25", 180.0, record=rec)
    names = [line["state"] for line in lines if line["event"] == "status"]
    assert names == [
        "connecting",
        "connected",
        "waiting_for_acc",
        "streaming",
        "reconnecting",
        "reconnected",
        "waiting_for_acc",
        "streaming",
    ]
    assert any(line["event"] == "exhale" and line["t"] > 120 and line["signal"] == "acc" for line in lines)
    replayed: list[dict] = []
    await run_session(ReplaySource(rec), sinks=[lines_sink(replayed.append)])
    assert replayed[-1]["state"] == "stopped"  # the recorded end of the live session
    assert replayed[:-1] == lines
    # and the same spec gives the same session again (data time, deterministic)
    _, again, _ = await session_lines("emulated:h10?drop_at=60&start_delay=25", 180.0)
    assert again == lines


async def test_malformed_frame_is_skipped_and_counted() -> None:
    src, lines, result = await session_lines("emulated:h10?malformed_at=10,30", 60.0)
    assert result.decode_errors == 2
    bad = [f for f in src.strap.sent if f.malformed]
    assert len(bad) == 2 and all(f.delivered for f in bad)
    assert [line["state"] for line in lines if line["event"] == "status"][-1] == "streaming"
    assert len([line for line in lines if line["event"] == "exhale" and line["signal"] == "acc"]) >= 5


async def test_malformed_hr_notification_on_a_standard_strap() -> None:
    _, _, result = await session_lines("emulated:hrs?malformed_at=5", 20.0)
    assert result.decode_errors == 1


async def test_stalled_stream_is_reported_and_restarted() -> None:
    src, items = await consume("emulated:h10?stall_at=20&stall_for=60", 60.0)
    st = [(t, it.state, it.detail) for t, it in items if isinstance(it, Status)]
    waits = [(t, d) for t, s, d in st if s == "waiting_for_acc"]
    assert len(waits) == 2 and "silent" in waits[1][1] and 26.0 <= waits[1][0] <= 30.0
    assert st[-1][1] == "streaming" and st[-1][0] < 30.0
    acc_times = [t for t, it in items if isinstance(it, Notification) and it.char_uuid == pmd.PMD_DATA_UUID]
    assert max(acc_times) > 55.0


async def test_gives_up_after_the_reconnect_timeout() -> None:
    src, lines, result = await session_lines("emulated:h10?drop_at=10&drop_for=1000", 500.0, reconnect_timeout_s=30.0)
    st = [(line["state"], line["t"], line.get("detail", "")) for line in lines if line["event"] == "status"]
    # gives up on time: the drop at 10 s plus the 30 s timeout, within a second
    assert st[-1][0] == "lost" and 39.0 <= st[-1][1] <= 41.0 and "gave up" in st[-1][2]
    assert result.stopped_by == "link_lost"


async def test_cancel_stops_the_stream_then_disconnects(tmp_path: Path) -> None:
    """What SIGTERM and Ctrl-C do: the session task is cancelled while streaming."""
    src = open_device_source("emulated:h10")
    task: asyncio.Task | None = None

    def emit(line: dict) -> None:
        if line.get("t", 0) > 20 and task is not None:
            task.cancel()

    rec = tmp_path / "cancelled.jsonl"
    task = asyncio.ensure_future(run_session(src, sinks=[lines_sink(emit), Recorder(rec)]))
    with pytest.raises(asyncio.CancelledError):
        await task
    strap = src.strap
    assert pmd.parse_cp_request(strap.cp_log[-1][1]).op_code == pmd.OP_STOP
    assert strap.cp_log[-1][2] == pmd.cp_response_bytes(pmd.OP_STOP, pmd.ACC, 0)
    assert strap.client is None and strap._acc is None
    # the final status is recorded even though the session was cancelled
    assert [it.state for _, it in Recording(rec).timed_items() if isinstance(it, Status)][-1] == "stopped"
    assert Recording(rec).header.device["model"] == "Polar H10"


async def test_bad_specs_are_plain_errors() -> None:
    for spec in ("emulated:h11", "emulated:h10?drop_at=soon", "emulated:h10?nope=1", "emulated:hrs?start_delay=5", ""):
        with pytest.raises(PsoasError):
            open_device_source(spec)
    with pytest.raises(PsoasError, match="not found"):
        open_device_source("emulated:h10?recording=/nonexistent.jsonl")


async def test_driven_by_a_recording(tmp_path: Path) -> None:
    rec = tmp_path / "source.jsonl"
    await session_lines("emulated:h10?seed=4", 60.0, record=rec)
    src, lines, _ = await session_lines(f"emulated:h10?recording={rec}", 60.0)
    assert len([line for line in lines if line["event"] == "exhale"]) >= 8


@pytest.mark.slow
def test_sigterm_stops_streams_and_disconnects_cleanly(tmp_path: Path) -> None:
    """A real process at real pace: SIGTERM once streaming; exit 0 with a closed recording."""
    rec = tmp_path / "sigterm.jsonl"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "psoas_sense", "record", "--device", "emulated:h10", "--out", str(rec), "--speed", "1"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if "streaming" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, "".join(seen) + err
    assert "stopped by SIGTERM" in err
    recording = Recording(rec)
    assert any(isinstance(it, Status) and it.state == "streaming" for _, it in recording.timed_items())


def test_cli_session_headless_emulated(tmp_path: Path) -> None:
    out = cli("record", "--device", "emulated:hrs?drop_at=5", "--out", str(tmp_path / "r.jsonl"), "--speed", "max",
              "--duration", "30")
    assert out.returncode == 0, out.stderr
    assert "reconnecting" in out.stderr and "reconnected" in out.stderr


def test_no_numpy_warning_in_emulator_signal() -> None:
    from psoas_sense.sources.clock import VirtualClock
    from psoas_sense.sources.emulator import EmulatedStrap, parse_emulator_spec

    strap = EmulatedStrap(parse_emulator_spec("emulated:h10?seed=2"), VirtualClock())
    acc = strap.signal.acc(0, 2000, 200)
    assert acc.shape == (2000, 3) and np.all(np.abs(np.linalg.norm(acc, axis=1) - 1000) < 50)
    beats, rr = strap.signal.beats(0.0, 10.0)
    assert beats.size >= 8 and np.all((rr > 600) & (rr < 1400))


async def test_device_restart_resets_the_clock_mapping(tmp_path: Path) -> None:
    rec = tmp_path / "restart.jsonl"
    src, lines, result = await session_lines("emulated:h10?restart_at=40&drop_for=5", 100.0, record=rec)
    assert src.strap.restarts == 1
    # the device clock jumped back 40 s; session times stay continuous and monotonic
    from psoas_sense.dsp.pipeline import Pipeline

    pipe = Pipeline()
    times = []
    for _, item in Recording(rec).timed_items():
        for f in pipe.frames_of(item):
            if f.kind == "acc":
                times.append(f.t_s)
    t = np.concatenate(times)
    assert np.all(np.diff(t) > 0) and t[-1] == pytest.approx(100.0, abs=0.5)
    assert pipe.decoder.clock.resets == 1
    # no ALREADY_IN_STATE after a restart: the streams died with the device
    assert all(resp[3] == 0 for _, _, resp in src.strap.cp_log)
    assert any(line["event"] == "exhale" and line["t"] > 70 and line["signal"] == "acc" for line in lines)


@pytest.mark.slow
async def test_rolling_over_mid_hold_is_said_and_the_breathing_is_followed_again() -> None:
    """``move_at``: body motion on the accelerometer. No cue is given on it; the coach says it cannot
    follow and guides by the pacer, and follows the breathing again a few breaths after it."""
    from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck

    src = open_device_source("emulated:h10?move_at=150&move_for=10", speed=None)
    lines: list[dict] = []
    coach = CoachEngine(CoachSettings(), SafetyCheck.answered([]), signal="acc")
    await run_session(src, sinks=[lines_sink(lines.append)], coach=coach, duration_s=240.0)
    (motion,) = [ln for ln in lines if ln["event"] == "motion"]
    (ended,) = [ln for ln in lines if ln["event"] == "motion_ended"]
    assert 150.0 <= motion["t"] < 151.0 and 160.0 <= ended["t"] < 165.0
    moving = [ln for ln in lines if ln["event"] in ("exhale", "inhale") and motion["t"] <= ln["t"] <= ended["t"]]
    assert not moving  # no breath is claimed while the body moves
    falls = [ln for ln in lines if ln["event"] == "cue" and ln["kind"] == "fallback_pacer"]
    assert [f["reason"] for f in falls] == ["motion"] and falls[0]["t"] == pytest.approx(motion["t"] + 5.0, abs=0.3)
    cued = [ln for ln in lines if ln["event"] == "cue" and ln.get("source") == "detector"]
    assert not [c for c in cued if motion["t"] <= c["t"] <= ended["t"]]
    (back,) = [ln for ln in lines if ln["event"] == "cue" and ln["kind"] == "signal_restored"]
    breaths_after = [ln for ln in lines if ln["event"] == "exhale" and ended["t"] < ln["t"] <= back["t"]]
    assert len(breaths_after) <= 3  # followed again within a few breaths of stillness


async def test_the_view_says_moving_while_the_body_moves() -> None:
    """The screen's "you:" line must not keep showing the last breath phase through a movement."""
    from psoas_sense.session.sinks import Collector
    from psoas_sense.view import view_of

    src = open_device_source("emulated:h10?move_at=60&move_for=10", speed=None)
    col = Collector()
    await run_session(src, sinks=[col], duration_s=100.0)
    events = col.events

    def at(t: float):  # the view from the events known by then
        return view_of([e for e in events if (getattr(e, "detected_at_s", None) or e.t_s) <= t], t)

    assert at(55.0).phase_words in ("breathing in", "breathing out")
    assert at(65.0).phase_words == "moving"
    assert at(95.0).phase_words in ("breathing in", "breathing out")
