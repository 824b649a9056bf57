"""A session's record from the history, or from a recording: the same fold either way.

From the history, the session's saved events and beats go through
:class:`~psoas_sense.report.fold.RecordFold`. From a recording, the breaths are detected again by
the same session loop as a live session, and the coach's events come from the markers in the file
(or, with a protocol, from the coach run over it); the strap's beats from its RR frames. Either
way the hold, side and session figures are the coach's own (computed once, in
:mod:`psoas_sense.coach.state`), so a record always agrees with what the session said.

A recording is streamed through the session loop (one block of lines at a time); the plot's
breathing signal is the one the pipeline extracted (kept whole only when a plot is asked for):
memory grows with the record's content, not with the raw frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from psoas_sense.model import Item, Marker, item_time
from psoas_sense.report.fold import Origin, RecordSink, build_record
from psoas_sense.report.record import Report

if TYPE_CHECKING:
    from psoas_sense.store import StoredSession

Waveform = tuple[np.ndarray, np.ndarray]
"""A breathing signal: (times, values)."""


def from_history(session_id: int | None, path: Path | None = None) -> Report:
    """A session from the history (``None``: the newest one).

    Raises:
        StoreError: no history, no such session, or the history cannot be read.
    """
    from psoas_sense.store import HistoryStore, StoreError, default_path

    db = path or default_path()
    if not db.exists():
        raise StoreError("no sessions saved yet (the history is empty)")
    with HistoryStore(db, create=False) as store:
        if session_id is None:
            session_id = store.latest_id()
            if session_id is None:
                raise StoreError("no sessions saved yet (the history is empty)")
        return record_of(store.load(session_id))


def record_of(saved: StoredSession) -> Report:
    """The record of a saved session (its events and beats through the fold)."""
    row = saved.row
    origin = Origin(id=row.id, started_at=row.started_at, source=row.source, protocol=row.protocol,
                    practised=row.practised, safety=row.safety, ended_by=row.ended_by, t_start_s=row.t_start_s,
                    t_end_s=row.t_stop_s)
    return build_record(saved.events, saved.beats or None, origin)


def from_recording(path: Path, *, signal: str = "auto", config: Any = None) -> Report:
    """A session from a recording: breaths detected again by the session loop; the coach's events
    from its markers, or from the coach run over it when ``config`` (a
    :class:`~psoas_sense.session.setup.RunConfig`) names a protocol."""
    return read_recording(path, signal=signal, config=config)[0]


def read_recording(path: Path, *, signal: str = "auto", config: Any = None,
                   with_waveform: bool = False) -> tuple[Report, Waveform | None]:
    """:func:`from_recording`, and the breathing signal the detector read (for a plot) when asked."""
    import asyncio

    from psoas_sense.dsp.pipeline import Pipeline
    from psoas_sense.recording.format import Recording
    from psoas_sense.serialize import WireError, marker_to_event
    from psoas_sense.session.loop import run_session
    from psoas_sense.session.setup import make_coach
    from psoas_sense.sources.memory import MemorySource

    rec = Recording(path)
    header = rec.header
    coach = make_coach(config, header) if config is not None else None
    sink = RecordSink()

    def pairs() -> Iterator[tuple[float, Item]]:
        """The items as the session loop takes them, read one block of lines at a time; without a
        coach run over them, the coach's markers go to the record on the way."""
        for it in rec.items():
            t = item_time(it)
            t = t if math.isfinite(t) else 0.0
            if isinstance(it, Marker) and coach is None:
                try:
                    sink.event(marker_to_event(it.marker, float(it.t_s), it.data))
                except WireError:
                    pass  # a marker of another kind (a note, a calibration) or from another version
            yield t, it

    stream = pairs()
    pipe = Pipeline(signal=signal, streams=header.streams, keep_s=math.inf if with_waveform else 0.0)
    asyncio.run(run_session(MemorySource(header, stream), signal=signal, sinks=[sink], coach=coach, pipeline=pipe))
    for _ in stream:
        pass  # a coach that finished early: the rest of the file is still checked (one-line error)
    origin = Origin(file=str(path), started_at=header.recorded_at or None,
                    protocol=coach.requested_protocol if coach is not None else None)
    wave = None
    if with_waveform:
        t, y = pipe.trace(math.inf)
        wave = (t, y) if t.size else None
    return sink.report(origin), wave
