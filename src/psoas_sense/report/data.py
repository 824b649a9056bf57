"""What a report is built from, as typed records: from the history, or from a recording.

From a recording the breaths are detected again by the same session loop as a live session;
the holds and sides come from the coach markers in the file, or from running the coach over
it. Either way the hold, side and session figures are the coach's own (computed once, in
:mod:`psoas_sense.coach.state`), so a report always agrees with what the session said.

A recording is streamed through the session loop (one block of lines at a time), and the plot's
breathing signal is extracted frame by frame as it runs (:class:`WaveformBuilder`): memory grows
with the report's content (breaths, events, the 25 Hz signal), not with the raw frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
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
from psoas_sense.model import AccFrame, BreathEvent, Item, Marker, RespFrame, RRFrame, SampleFrame, item_time

MARKER_EVENTS = (HoldStarted, HoldEnded, SideEnded, PainStopped, Cue, PacingScored, SessionEnded)
"""The events of a recording's markers that a report uses (the other markers are not kept)."""


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


MERGE_PIECES = 256
"""Pieces of extracted signal (one per frame) joined into one array at a time."""


class WaveformBuilder:
    """The breathing signal of each stream kind, extracted frame by frame as the session runs.

    Each kind gets the extractor the detector uses (fed every frame of that kind, in order), and
    only its output is kept: the signal on the extractor's low grid (25 Hz for waveforms and
    accelerometers), never the raw frames. ``kinds`` limits the kinds extracted (a fixed
    ``--signal``); the plot's kind is only known at the end (the pipeline's active signal).
    """

    def __init__(self, streams: Mapping[str, Any], kinds: tuple[str, ...] = ("resp", "acc", "rr")) -> None:
        self.streams = streams
        self.kinds = kinds
        self._ext: dict[str, Any] = {}
        self._parts: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {}
        self._joined: dict[str, int] = {}

    def _extractor(self, kind: str) -> Any:
        from psoas_sense.dsp.extract import AccExtractor, RespExtractor, RRExtractor

        ext = self._ext.get(kind)
        if ext is None:
            spec = self.streams.get(kind)
            rate = spec.get("rate_hz") if isinstance(spec, Mapping) else None
            if kind == "resp":
                ext = RespExtractor(float(rate) if rate else None)
            elif kind == "acc":
                ext = AccExtractor(float(rate) if rate else None)
            else:
                ext = RRExtractor()
            self._ext[kind] = ext
            self._parts[kind] = ([], [])
        return ext

    def feed(self, frame: Any) -> None:
        """One decoded sample frame (any kind; those not extracted are ignored)."""
        if isinstance(frame, RespFrame):
            kind, values = "resp", frame.resp
        elif isinstance(frame, AccFrame):
            kind, values = "acc", frame.acc_mg
        elif isinstance(frame, RRFrame):
            kind, values = "rr", frame.rr_ms
        else:
            return
        if kind not in self.kinds:
            return
        ex = self._extractor(kind).process(frame.t_s, values)
        if ex.t.shape[0]:
            ts, ys = self._parts[kind]
            ts.append(np.asarray(ex.t, float))
            ys.append(np.asarray(ex.y, float))
            joined = self._joined.get(kind, 0)
            if len(ts) - joined >= MERGE_PIECES:  # the newest pieces as one array (not one per frame)
                ts[joined:] = [np.concatenate(ts[joined:])]
                ys[joined:] = [np.concatenate(ys[joined:])]
                self._joined[kind] = joined + 1

    def result(self, kind: str | None) -> tuple[np.ndarray, np.ndarray] | None:
        """The signal of ``kind`` as ``(times, values)`` (None: no kind, or no signal of it)."""
        ts, ys = self._parts.get(kind, ([], [])) if kind is not None else ([], [])
        if not ts:
            return None
        return np.concatenate(ts), np.concatenate(ys)


def waveform(
    frames: Iterable[Any], kind: str | None, streams: Mapping[str, Any]
) -> tuple[np.ndarray, np.ndarray] | None:
    """The breathing signal the detector saw, for the plot, from the frames of a session."""
    if kind is None:
        return None
    builder = WaveformBuilder(streams, (kind,))
    for fr in frames:
        builder.feed(fr)
    return builder.result(kind)


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

    from psoas_sense.dsp.pipeline import SIGNALS, Pipeline
    from psoas_sense.recording.format import Recording
    from psoas_sense.session.loop import run_session
    from psoas_sense.session.setup import make_coach
    from psoas_sense.session.sinks import Collector, Sink
    from psoas_sense.sources.memory import MemorySource

    rec = Recording(path)
    header = rec.header
    coach = make_coach(config, header) if config is not None else None
    first_t: list[float] = []
    marker_events: list[SessionEvent] = []

    def pairs() -> Iterator[tuple[float, Item]]:
        """The items as the session loop takes them, read one block of lines at a time; the
        markers' events are kept on the way (the only items the report needs afterwards)."""
        for it in rec.items():
            t = item_time(it)
            t = t if math.isfinite(t) else 0.0
            if not first_t:
                first_t.append(t)
            if isinstance(it, Marker) and coach is None:
                ev = _marker_event(it)
                if isinstance(ev, MARKER_EVENTS):
                    marker_events.append(ev)
            yield t, it

    rr: list[tuple[float, float]] = []
    saw_rr = False
    kinds = SIGNALS if signal == "auto" else (signal,)
    builder = WaveformBuilder(header.streams, kinds) if with_waveform else None

    class FrameKeeper(Sink):
        def frame(self, frame: SampleFrame) -> None:
            nonlocal saw_rr
            if isinstance(frame, RRFrame):
                saw_rr = True
                rr.extend(zip(frame.t_s.tolist(), frame.rr_ms.tolist(), strict=True))
            if builder is not None:
                builder.feed(frame)

    collector = Collector()
    stream = pairs()
    source = MemorySource(header, stream)
    pipe = Pipeline(signal=signal, streams=header.streams)
    result = asyncio.run(run_session(source, signal=signal, sinks=[collector, FrameKeeper()], coach=coach,
                                     pipeline=pipe))
    for _ in stream:
        pass  # a coach that finished early: the rest of the file is still checked (one-line error)
    meta: dict[str, Any] = {"file": str(path), "started_at": header.recorded_at,
                            "t_start": first_t[0] if first_t else 0.0, "t_end": result.last_t_s}
    data = SessionData(meta=meta, breaths=[breath_record(e) for e in collector.events if isinstance(e, BreathEvent)])
    if coach is not None:
        data.breaths = list(coach.breaths) or data.breaths
        data.holds, data.sides, data.pain_stops = list(coach.holds), list(coach.sides), list(coach.pain_stops)
        _take_events(data, collector.events)
        data.meta.update(protocol=coach.requested_protocol, practised=coach.protocol, safety=coach.safety.status)
    else:
        events = marker_events
        data.holds = [e for e in events if isinstance(e, HoldEnded)]
        _fix_hold_starts(data, events)
        data.sides = [e for e in events if isinstance(e, SideEnded)]
        data.pain_stops = [PainRecord(e.t_s, e.stage, e.side, e.hold) for e in events if isinstance(e, PainStopped)]
        _take_events(data, events)
    data.rr = rr if saw_rr else None
    if builder is not None:
        data.waveform = builder.result(pipe.active_signal)
    return data


def _marker_event(m: Marker) -> SessionEvent | None:
    from psoas_sense.serialize import WireError, marker_to_event

    try:
        return marker_to_event(m.marker, float(m.t_s), m.data)
    except WireError:
        return None  # a marker of another kind (a note, a calibration) or from another version


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
