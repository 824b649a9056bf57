"""The history as a session sink: the session is written to SQLite as it goes.

A session row is written when the coach starts; every completed hold, side and pain stop, and
otherwise every :data:`PROGRESS_EVERY_S` seconds of session (whatever the protocol, breathing
practice included), is committed with the breaths and coach output since the previous commit,
so a crash loses at most those few seconds. The commits are made by a writer thread
(:mod:`psoas_sense.session.history_writer`): this sink only builds the rows and queues them, so
a locked history or a slow disk never holds up the session. If the history cannot be written
the session goes on, and one error event says so.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from pathlib import Path
from typing import Any

from psoas_sense.coach import CoachEngine
from psoas_sense.events import (
    COMMIT_EVENTS,
    ErrorReported,
    HeartRate,
    HoldEnded,
    SessionEnded,
    SessionEvent,
    SideEnded,
)
from psoas_sense.history_schema import begin_record, progress_of
from psoas_sense.model import BreathEvent, RRFrame, SampleFrame, SignalNotice, Status
from psoas_sense.session.history_writer import HistoryWriter
from psoas_sense.session.sinks import Sink

PROGRESS_EVERY_S = 8.0
"""Progress is committed once this much session time has passed since the last commit (so at
least every 10 s, even with data arriving a second or two apart)."""
CLOSE_WAIT_S = 2.0
"""At the end, how long closing waits for the last commit (the writer thread finishes it anyway)."""

_NOT_SAVED_AS_LINES = (BreathEvent, SignalNotice, Status, HeartRate)
"""Detector and source events: the breaths are saved as the coach saw them instead."""


class HistorySink(Sink):
    """Writes a coached session into the history as it goes.

    Args:
        engine: the coach whose state (holds, sides, breaths, pain stops) is saved.
        source: what the session runs on (device, file, streams), saved with it.
        store_path: the database (default: the user's history).
        started_at: the session's start, ISO 8601 with time zone (default: now, local time).
    """

    def __init__(
        self,
        engine: CoachEngine,
        *,
        source: dict[str, Any] | None = None,
        store_path: str | Path | None = None,
        started_at: str | None = None,
    ) -> None:
        self.engine = engine
        self.source = source or {}
        self.store_path = store_path
        self.started_at = started_at
        self.errors: list[ErrorReported] = []
        """What went wrong writing the history (the session went on)."""
        self.writer: HistoryWriter | None = None
        """The thread saving this session (None before the coach starts)."""
        self._disabled = False
        self._n = {"pain_stops": 0, "breaths": 0}
        self._pending: list[SessionEvent] = []
        self._beats: list[tuple[float, float]] = []
        self._holds: list[HoldEnded] = []
        self._sides: list[SideEnded] = []
        """Holds and sides as the session said them (with their physiology), since the last commit."""
        self._t_commit = 0.0
        self._t_s = 0.0
        self._ended = False

    def event(self, event: SessionEvent) -> None:
        e = self.engine
        if self.writer is None and not self._disabled and e.t_start_s is not None:
            self._open(e.t_start_s)
        if self.writer is None or self._ended:
            return
        if not isinstance(event, _NOT_SAVED_AS_LINES) and not isinstance(event, SessionEnded):
            self._pending.append(event)
        if isinstance(event, HoldEnded):
            self._holds.append(event)
        elif isinstance(event, SideEnded):
            self._sides.append(event)
        t = getattr(event, "t_s", None)
        if isinstance(t, (int, float)):
            self._t_s = max(self._t_s, float(t))
        if isinstance(event, COMMIT_EVENTS) or self._t_s - self._t_commit >= PROGRESS_EVERY_S:
            self._commit(event)

    def advance(self, t_s: float) -> None:
        if self.writer is not None and not self._ended:
            self._t_s = max(self._t_s, float(t_s))
            if self._t_s - self._t_commit >= PROGRESS_EVERY_S:
                self._commit(None)

    @property
    def session_id(self) -> int | None:
        """The session's row in the history (None until the writer has committed it)."""
        return self.writer.session_id if self.writer is not None else None

    def frame(self, frame: SampleFrame) -> None:
        if isinstance(frame, RRFrame) and self.writer is not None and not self._ended:
            self._beats.extend(zip(frame.t_s.tolist(), frame.rr_ms.tolist(), strict=True))

    def take_errors(self) -> list[ErrorReported]:
        if self.writer is not None:
            self.errors.extend(ErrorReported(round(self._t_s, 3), m) for m in self.writer.take_problems())
        out, self.errors = self.errors, []
        return out

    def close(self) -> None:
        """Commit what is left and let the writer finish (waits at most :data:`CLOSE_WAIT_S`;
        the thread completes its work even after that)."""
        if self.writer is not None and not self._ended:
            self._commit(None)
            self._ended = True
        if self.writer is not None:
            self.writer.close(CLOSE_WAIT_S)

    def _open(self, t_s: float) -> None:
        e = self.engine
        started = self.started_at or _dt.datetime.now().astimezone().isoformat(timespec="seconds")
        try:
            begin = begin_record(started_at=started, protocol=e.requested_protocol, practised=e.protocol,
                                 safety=e.safety.status, settings=dataclasses.asdict(e.settings),
                                 source=self.source, t_start=float(t_s))
            self.writer = HistoryWriter(self.store_path, begin)
        except Exception as exc:  # noqa: BLE001 - history must never stop a session
            self._disabled = True
            self.errors.append(ErrorReported(round(float(t_s), 3), f"history not saved: {exc}"))
        self._t_commit = self._t_s = float(t_s)

    def _commit(self, event: SessionEvent | None) -> None:
        e = self.engine
        n = self._n
        end = event if isinstance(event, SessionEnded) else None
        t_last = self._t_s if end is None else float(end.t_s)
        assert self.writer is not None
        try:
            rows = progress_of(t_last=t_last, holds=self._holds, sides=self._sides,
                               pain_stops=e.pain_stops[n["pain_stops"]:], breaths=e.breaths[n["breaths"]:],
                               lines=self._pending, end=end, beats=self._beats)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(ErrorReported(round(t_last, 3), f"history not saved: {exc}"))
            self._disabled, self._ended = True, True
            self.writer.close(0)
            return
        self.writer.put(rows)
        self._t_commit = t_last
        n.update(pain_stops=len(e.pain_stops), breaths=len(e.breaths))
        self._pending = []
        self._beats = []
        self._holds = []
        self._sides = []
        if end is not None:
            self._ended = True  # the writer finishes when the loop closes the sinks, off the loop
