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
from psoas_sense.model import AccFrame, Marker, SampleFrame, item_time
from psoas_sense.recording import bounded
from psoas_sense.recording.format import Header, RecordingWriter, read_recording
from psoas_sense.report import Origin, RecordSink, Report
from psoas_sense.report.data import Waveform
from psoas_sense.serialize import WireError, marker_to_event
from psoas_sense.session.loop import run_session
from psoas_sense.session.setup import CoachConfig, RunConfig, make_coach
from psoas_sense.session.sinks import Sink
from psoas_sense.sources.memory import MemorySource

ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = sorted((ROOT / "recordings").glob("*.jsonl.gz"))


def whole_waveform(frames: list[SampleFrame], kind: str | None, streams: Any) -> Waveform | None:
    """The breathing signal extracted from every frame of one kind at the end."""
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


def list_based(path: Path, config: Any = None) -> tuple[Report, Waveform | None]:
    """The record as if the file were held whole: every item read into a list first, every decoded
    frame kept, the markers' events gathered, and the breathing signal extracted at the end."""
    header, items = read_recording(path)
    pairs = [(item_time(it), it) for it in items]
    pairs = [(t if math.isfinite(t) else 0.0, it) for t, it in pairs]
    coach = make_coach(config, header) if config is not None else None
    frames: list[SampleFrame] = []

    class Keeper(Sink):
        def frame(self, frame: SampleFrame) -> None:
            frames.append(frame)

    record = RecordSink()
    if coach is None:
        for m in (it for it in items if isinstance(it, Marker)):
            try:
                record.event(marker_to_event(m.marker, float(m.t_s), m.data))
            except WireError:
                continue
    pipe = Pipeline(streams=header.streams)
    asyncio.run(run_session(MemorySource(header, pairs), sinks=[record, Keeper()], coach=coach, pipeline=pipe))
    origin = Origin(file=str(path), started_at=header.recorded_at or None,
                    protocol=coach.requested_protocol if coach is not None else None)
    return record.report(origin), whole_waveform(frames, pipe.active_signal, header.streams)


def _same(path: Path, config: Any = None) -> Report:
    streamed, wave = rep.read_recording(path, config=config, with_waveform=True)
    listed, listed_wave = list_based(path, config)
    assert streamed == listed
    assert json.dumps(rep.to_json(streamed)) == json.dumps(rep.to_json(listed))
    assert rep.render_text(streamed) == rep.render_text(listed)
    if listed_wave is None:
        assert wave is None
    else:
        assert wave is not None
        np.testing.assert_array_equal(wave[0], listed_wave[0])
        np.testing.assert_array_equal(wave[1], listed_wave[1])
    return streamed


@pytest.mark.parametrize("path", [  # the longest recording in the slow tier
    pytest.param(p, id=p.name, marks=[pytest.mark.slow] if p.name.startswith("neurokit2") else []) for p in RECORDINGS])
def test_streamed_report_is_the_list_based_one(path: Path) -> None:
    _same(path)


def test_streamed_report_with_the_coach_is_the_list_based_one() -> None:
    path = ROOT / "recordings" / "h10-rr-10min.jsonl.gz"
    config = RunConfig("report", file=path, coach=CoachConfig(protocol="manual", safety_confirmed=True,
                                                             save_history=False))
    assert _same(path, config).holds


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
    streamed = _same(path)
    assert len(streamed.breath_rows) > 10


def _peak(path: Path) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        r, wave = rep.read_recording(path, with_waveform=True)
        assert len(r.breath_rows) > 5 and wave is not None
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
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
