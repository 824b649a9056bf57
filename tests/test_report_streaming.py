"""``report FILE`` streams the recording: the same report as from the whole file held as a list,
and memory that does not grow with the length of the recording (issue 10, point 4)."""

from __future__ import annotations

import asyncio
import gc
import json
import math
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from psoas_sense import report as rep
from psoas_sense.dsp.pipeline import Pipeline
from psoas_sense.errors import InputError
from psoas_sense.events import HoldEnded, PainStopped, SessionEvent, SideEnded
from psoas_sense.model import AccFrame, BreathEvent, Marker, RRFrame, SampleFrame, item_time
from psoas_sense.recording import bounded
from psoas_sense.recording.format import Header, RecordingWriter, read_recording
from psoas_sense.records import PainRecord
from psoas_sense.report import data as rdata
from psoas_sense.report.data import SessionData
from psoas_sense.serialize import WireError, marker_to_event
from psoas_sense.session.loop import run_session
from psoas_sense.session.setup import CoachConfig, RunConfig, make_coach
from psoas_sense.session.sinks import Collector, Sink
from psoas_sense.sources.memory import MemorySource

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = sorted((ROOT / "recordings").glob("*.jsonl.gz"))


def old_waveform(frames: list[SampleFrame], kind: str | None, streams: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """The breathing signal as it was extracted before, from every frame at the end."""
    from psoas_sense.dsp.extract import AccExtractor, RespExtractor, RRExtractor

    if kind is None:
        return None
    rate = streams.get(kind, {}).get("rate_hz")
    ext: Any = {"resp": RespExtractor, "acc": AccExtractor}.get(kind, lambda _: RRExtractor())(rate and float(rate))
    ts: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for fr in frames:
        values = {"resp": "resp", "acc": "acc_mg", "rr": "rr_ms"}[kind]
        if fr.kind != kind:
            continue
        ex = ext.process(fr.t_s, getattr(fr, values))
        if ex.t.shape[0]:
            ts.append(np.asarray(ex.t, float))
            ys.append(np.asarray(ex.y, float))
    return (np.concatenate(ts), np.concatenate(ys)) if ts else None


def list_based(path: Path, config: Any = None) -> SessionData:
    """The report's data as it was built before streaming: every item read into a list, every
    decoded frame kept, and the breathing signal extracted from those frames at the end."""
    header, items = read_recording(path)
    pairs = [(item_time(it), it) for it in items]
    pairs = [(t if math.isfinite(t) else 0.0, it) for t, it in pairs]
    coach = make_coach(config, header) if config is not None else None
    frames: list[SampleFrame] = []
    rr: list[tuple[float, float]] = []

    class Keeper(Sink):
        def frame(self, frame: SampleFrame) -> None:
            if isinstance(frame, RRFrame):
                rr.extend(zip(frame.t_s.tolist(), frame.rr_ms.tolist(), strict=True))
            frames.append(frame)

    collector = Collector()
    pipe = Pipeline(streams=header.streams)
    result = asyncio.run(run_session(MemorySource(header, pairs), sinks=[collector, Keeper()], coach=coach,
                                     pipeline=pipe))
    meta = {"file": str(path), "started_at": header.recorded_at, "t_start": pairs[0][0] if pairs else 0.0,
            "t_end": result.last_t_s}
    data = SessionData(meta=meta, breaths=[rdata.breath_record(e) for e in collector.events
                                           if isinstance(e, BreathEvent)])
    if coach is not None:
        data.breaths = list(coach.breaths) or data.breaths
        data.holds, data.sides, data.pain_stops = list(coach.holds), list(coach.sides), list(coach.pain_stops)
        rdata._take_events(data, collector.events)
        data.meta.update(protocol=coach.requested_protocol, practised=coach.protocol, safety=coach.safety.status)
    else:
        events: list[SessionEvent] = []
        for m in (it for it in items if isinstance(it, Marker)):
            try:
                events.append(marker_to_event(m.marker, float(m.t_s), m.data))
            except WireError:
                continue
        data.holds = [e for e in events if isinstance(e, HoldEnded)]
        rdata._fix_hold_starts(data, events)
        data.sides = [e for e in events if isinstance(e, SideEnded)]
        data.pain_stops = [PainRecord(e.t_s, e.stage, e.side, e.hold) for e in events if isinstance(e, PainStopped)]
        rdata._take_events(data, events)
    data.rr = rr or None
    data.waveform = old_waveform(frames, pipe.active_signal, header.streams)
    return data


def _same(streamed: SessionData, listed: SessionData) -> None:
    assert json.dumps(rep.build_report(streamed)) == json.dumps(rep.build_report(listed))
    assert rep.render_text(rep.build_report(streamed)) == rep.render_text(rep.build_report(listed))
    if listed.waveform is None:
        assert streamed.waveform is None
    else:
        assert streamed.waveform is not None
        np.testing.assert_array_equal(streamed.waveform[0], listed.waveform[0])
        np.testing.assert_array_equal(streamed.waveform[1], listed.waveform[1])


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.name)
def test_streamed_report_is_the_list_based_one(path: Path) -> None:
    _same(rep.from_recording(path), list_based(path))


def test_streamed_report_with_the_coach_is_the_list_based_one() -> None:
    path = ROOT / "recordings" / "h10-rr-10min.jsonl.gz"
    config = RunConfig("report", file=path, coach=CoachConfig(protocol="manual", safety_confirmed=True,
                                                             save_history=False))
    streamed = rep.from_recording(path, config=config)
    assert streamed.holds
    _same(streamed, list_based(path, config))


def _acc_recording(path: Path, minutes: float, *, rate_hz: int = 50, markers: bool = True) -> None:
    """``minutes`` of accelerometer breathing at 12/min in 1 s frames, a hold every minute."""
    rng = np.random.default_rng(7)
    header = Header(streams={"acc": {"unit": "mG", "rate_hz": float(rate_hz)}}, device={"name": "synthetic"})
    with RecordingWriter(path, header) as w:
        for k in range(int(minutes * 60)):
            t = (k * rate_hz + np.arange(rate_hz)) / rate_hz
            z = 1000 + 8 * np.sin(2 * np.pi * 0.2 * t) + rng.normal(0, 0.5, rate_hz)
            acc = np.stack([rng.normal(0, 0.5, rate_hz), rng.normal(0, 0.5, rate_hz), z], axis=1).round()
            w.write(AccFrame(t_s=t, acc_mg=acc), t_s=float(t[-1]))
            if markers and k % 60 == 50:
                w.write(Marker(t_s=float(t[-1]), marker="hold_start", data={"side": "left", "kind": "static"}),
                        t_s=float(t[-1]))
                w.write(Marker(t_s=float(t[-1]) + 0.5, marker="note", data={"text": "x"}), t_s=float(t[-1]) + 0.5)


def test_synthetic_accelerometer_report_is_the_list_based_one(tmp_path: Path) -> None:
    path = tmp_path / "acc.jsonl"
    _acc_recording(path, 3)
    streamed = rep.from_recording(path)
    assert streamed.waveform is not None and len(streamed.breaths) > 20
    _same(streamed, list_based(path))


def _peak(path: Path) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        data = rep.from_recording(path)
        assert len(data.breaths) > 10
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the reader holds one block of the file at a time (4 MiB, bounded): smaller here, so that
    # these small files are not each read in one block and what is measured is the report's own
    monkeypatch.setattr(bounded, "READ_BLOCK_BYTES", 1 << 16)
    warm, short, long = tmp_path / "warm.jsonl", tmp_path / "short.jsonl", tmp_path / "long.jsonl"
    _acc_recording(warm, 0.25, rate_hz=200, markers=False)
    _acc_recording(short, 1, rate_hz=200, markers=False)
    _acc_recording(long, 4, rate_hz=200, markers=False)
    rep.from_recording(warm)  # imports and first-use caches out of the way
    small, big = _peak(short), _peak(long)
    # what still grows is the report's content (breaths, and the 25 Hz breathing signal for the
    # plot); the list-based reading held every raw frame: about 3x from 1 to 4 minutes
    assert big < 1.6 * small, (small, big)


def test_a_bad_line_after_the_coach_has_finished_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "acc.jsonl"
    _acc_recording(path, 3, markers=False)
    with path.open("a") as f:
        f.write('{"t": 1e9, "kind": "acc", "ts": [1e9], "v": [[1, 2]]}\n')
    lines = len(path.read_text().splitlines())
    coach = CoachConfig(protocol="breathing", overrides={"breathing_minutes": 1.0}, save_history=False)
    config = RunConfig("report", file=path, coach=coach)
    with pytest.raises(InputError) as exc:
        rep.from_recording(path, config=config)
    assert f":{lines}:" in str(exc.value)
