"""What a report is built from, as typed records: from the history, or from a recording.

From a recording the breaths are detected again by the same session loop as a live session;
the holds and sides come from the coach markers in the file, or from running the coach over
it. Either way the hold, side and session figures are the coach's own (computed once, in
:mod:`psoas_sense.coach.state`), so a report always agrees with what the session said.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from psoas_sense.events import (
    BreathRecord,
    Cue,
    HoldEnded,
    HoldStarted,
    PacingScored,
    PainRecord,
    PainStopped,
    SessionEnded,
    SessionEvent,
    SessionSummary,
    SideEnded,
)
from psoas_sense.model import AccFrame, BreathEvent, Marker, RespFrame, RRFrame, SampleFrame, item_time


@dataclass
class SessionData:
    """Everything a report needs, whatever it came from."""

    meta: dict[str, Any]
    """``id`` or ``file``, ``protocol``, ``practised``, ``started_at``, ``ended_by``, ``t_start``, ``t_end``..."""
    breaths: list[BreathRecord] = field(default_factory=list)
    """Breath phases, detected or paced."""
    holds: list[HoldEnded] = field(default_factory=list)
    """Completed holds, with the coach's figures."""
    sides: list[SideEnded] = field(default_factory=list)
    """Completed sides, with the coach's figures."""
    cues: list[Cue] = field(default_factory=list)
    """Coach cues, when known."""
    pain_stops: list[PainRecord] = field(default_factory=list)
    """Pain stops."""
    pacing: list[PacingScored] = field(default_factory=list)
    """Paced breathing: each detected exhale against the pacer."""
    summary: SessionSummary | None = None
    """The session's own summary (None: interrupted, or a recording without a coach)."""
    waveform: tuple[np.ndarray, np.ndarray] | None = None
    """Breathing signal (times, values) for the plot, when the source has one."""
    rr: list[tuple[float, float]] | None = None
    """Heart beats as ``(t_s, rr_ms)``, from the strap's RR frames (None: no RR, e.g. the history)."""


def from_history(session_id: int | None, path: Path | None = None) -> SessionData:
    """A session from the history (``None``: the newest one)."""
    from psoas_sense.store import HistoryStore, StoreError, default_path

    db = path or default_path()
    if not db.exists():
        raise StoreError("no sessions saved yet (the history is empty)")
    with HistoryStore(db, create=False) as store:
        if session_id is None:
            session_id = store.latest_id()
            if session_id is None:
                raise StoreError("no sessions saved yet (the history is empty)")
        s = store.load(session_id)
    meta: dict[str, Any] = {
        "id": s.id, "started_at": s.started_at, "protocol": s.protocol, "practised": s.practised,
        "safety": s.safety, "ended_by": s.ended_by, "source": s.source, "interrupted": s.ended_by is None,
        "t_start": s.t_start_s, "t_end": s.t_end_s,
    }
    return SessionData(
        meta=meta, breaths=s.breaths, holds=s.holds, sides=s.sides, pain_stops=s.pain_stops, summary=s.summary,
        cues=[e for e in s.lines if isinstance(e, Cue)], pacing=[e for e in s.lines if isinstance(e, PacingScored)],
        rr=list(s.beats) or None,
    )


def waveform(frames: list[Any], kind: str | None, streams: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """The breathing signal the detector saw, for the plot."""
    from psoas_sense.dsp.extract import AccExtractor, RespExtractor, RRExtractor

    if kind is None:
        return None
    spec = streams.get(kind)
    rate = spec.get("rate_hz") if isinstance(spec, Mapping) else None
    ext: Any
    if kind == "resp":
        ext = RespExtractor(float(rate) if rate else None)
    elif kind == "acc":
        ext = AccExtractor(float(rate) if rate else None)
    else:
        ext = RRExtractor()
    ts: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for fr in frames:
        if isinstance(fr, RespFrame) and kind == "resp":
            ex = ext.process(fr.t_s, fr.resp)
        elif isinstance(fr, AccFrame) and kind == "acc":
            ex = ext.process(fr.t_s, fr.acc_mg)
        elif isinstance(fr, RRFrame) and kind == "rr":
            ex = ext.process(fr.t_s, fr.rr_ms)
        else:
            continue
        if ex.t.shape[0]:
            ts.append(np.asarray(ex.t, float))
            ys.append(np.asarray(ex.y, float))
    if not ts:
        return None
    return np.concatenate(ts), np.concatenate(ys)


def breath_record(ev: BreathEvent) -> BreathRecord:
    """A detected phase change as a report's breath."""
    return BreathRecord(
        t_s=round(ev.t_s, 3), kind=ev.kind, detected_at_s=round(ev.detected_at_s, 3), signal=ev.signal,
        rate_bpm=None if ev.rate_bpm is None else round(ev.rate_bpm, 3),
        quality=None if ev.quality is None else round(ev.quality, 3), source="detector", stage=None, side=None,
    )


def from_recording(path: Path, *, signal: str = "auto", config: Any = None, with_waveform: bool = True) -> SessionData:
    """A session from a recording: breaths detected again by the session loop; holds from its
    markers, or from the coach run over it when ``config`` (a
    :class:`~psoas_sense.session.setup.RunConfig`) names a protocol."""
    import asyncio

    from psoas_sense.recording.format import read_recording
    from psoas_sense.serialize import WireError, marker_to_event
    from psoas_sense.session.loop import run_session
    from psoas_sense.session.setup import make_coach
    from psoas_sense.session.sinks import Collector, Sink
    from psoas_sense.sources.memory import MemorySource

    header, items = read_recording(path)
    pairs = [(item_time(it), it) for it in items]
    pairs = [(t if math.isfinite(t) else 0.0, it) for t, it in pairs]
    coach = make_coach(config, header) if config is not None else None
    frames: list[Any] = []
    markers: list[Marker] = [it for it in items if isinstance(it, Marker)]

    rr: list[tuple[float, float]] = []
    saw_rr = False

    class FrameKeeper(Sink):
        def frame(self, frame: SampleFrame) -> None:
            nonlocal saw_rr
            if isinstance(frame, RRFrame):
                saw_rr = True
                rr.extend(zip(frame.t_s.tolist(), frame.rr_ms.tolist(), strict=True))
            if with_waveform:
                frames.append(frame)

    collector = Collector()
    source = MemorySource(header, pairs)
    from psoas_sense.dsp.pipeline import Pipeline

    pipe = Pipeline(signal=signal, streams=header.streams)
    result = asyncio.run(run_session(source, signal=signal, sinks=[collector, FrameKeeper()], coach=coach,
                                     pipeline=pipe))
    t_first = pairs[0][0] if pairs else 0.0
    meta: dict[str, Any] = {"file": str(path), "started_at": header.recorded_at, "t_start": t_first,
                            "t_end": result.last_t_s}
    data = SessionData(meta=meta, breaths=[breath_record(e) for e in collector.events if isinstance(e, BreathEvent)])
    if coach is not None:
        data.breaths = list(coach.breaths) or data.breaths
        data.holds, data.sides, data.pain_stops = list(coach.holds), list(coach.sides), list(coach.pain_stops)
        _take_events(data, collector.events)
        data.meta.update(protocol=coach.requested_protocol, practised=coach.protocol, safety=coach.safety.status)
    else:
        events: list[SessionEvent] = []
        for m in markers:
            try:
                events.append(marker_to_event(m.marker, float(m.t_s), m.data))
            except WireError:
                continue  # a marker of another kind (a note, a calibration) or from another version
        data.holds = [e for e in events if isinstance(e, HoldEnded)]
        _fix_hold_starts(data, events)
        data.sides = [e for e in events if isinstance(e, SideEnded)]
        data.pain_stops = [PainRecord(e.t_s, e.stage, e.side, e.hold) for e in events if isinstance(e, PainStopped)]
        _take_events(data, events)
    data.rr = rr if saw_rr else None
    if with_waveform:
        data.waveform = waveform(frames, pipe.active_signal, header.streams)
    return data


def _take_events(data: SessionData, events: list[SessionEvent]) -> None:
    data.cues = [e for e in events if isinstance(e, Cue)]
    data.pacing = [e for e in events if isinstance(e, PacingScored)]
    end = next((e for e in events if isinstance(e, SessionEnded)), None)
    if end is not None:
        data.summary = end.summary
        data.meta.update(ended_by=end.ended_by)
        data.meta.setdefault("protocol", end.summary.protocol)
        data.meta.setdefault("practised", end.summary.practised)


def _fix_hold_starts(data: SessionData, events: list[SessionEvent]) -> None:
    """A hold's start from its ``hold_start`` marker (the ``hold_end`` line only has its length)."""
    import dataclasses

    starts = [e for e in events if isinstance(e, HoldStarted)]
    fixed = []
    for h in data.holds:
        match = next((s for s in starts if s.kind == h.kind and s.side == h.side and s.t_s <= h.t_s), None)
        if match is not None:
            starts.remove(match)
            h = dataclasses.replace(h, t_start_s=match.t_s)
        fixed.append(h)
    data.holds = fixed
