"""The history as a session sink: the session's events are written to SQLite as they come.

The session's row is written when the coach starts (its first events say the safety check and
the protocol practised); every completed hold, side and pain stop, and otherwise every
:data:`PROGRESS_EVERY_S` seconds of session (whatever the protocol, breathing practice
included), is committed with the events and the strap's beats since the previous commit, so a
crash loses at most those few seconds. The sink reads the event stream and nothing else (never
the coach's insides): what it saves is what a record is built from. The commits are made by a
writer thread (:mod:`psoas_sense.session.history_writer`): this sink only builds the rows and
queues them, so a locked history or a slow disk never holds up the session. If the history
cannot be written the session goes on, and one error event says so.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from psoas_sense.events import (
    COMMIT_EVENTS,
    BreathingTrace,
    ErrorReported,
    HeartRate,
    ProtocolChanged,
    SafetyChecked,
    SessionEnded,
    SessionEvent,
)
from psoas_sense.history_schema import begin_record, progress_of
from psoas_sense.model import RRFrame, SampleFrame, SignalNotice
from psoas_sense.session.history_writer import HistoryWriter
from psoas_sense.session.sinks import Sink

PROGRESS_EVERY_S = 8.0
"""Progress is committed once this much session time has passed since the last commit (so at
least every 10 s, even with data arriving a second or two apart)."""
CLOSE_WAIT_S = 2.0
"""At the end, how long closing waits for the last commit (the writer thread finishes it anyway)."""

NOT_SAVED = (BreathingTrace, HeartRate, SignalNotice)
"""Events a record is not made of (the beats are saved from the strap's RR frames instead)."""


class HistorySink(Sink):
    """Writes a coached session into the history as it goes.

    Args:
        settings: the coach's settings (a :class:`~psoas_sense.coach.CoachSettings` or their
            mapping), saved with the session; their ``protocol`` is the protocol asked for.
        source: what the session runs on (device, file, streams), saved with it.
        store_path: the database (default: the user's history).
        started_at: the session's start, ISO 8601 with time zone (default: now, local time).
    """

    def __init__(
        self,
        settings: Any = None,
        *,
        source: dict[str, Any] | None = None,
        store_path: str | Path | None = None,
        started_at: str | None = None,
    ) -> None:
        if dataclasses.is_dataclass(settings) and not isinstance(settings, type):
            settings = dataclasses.asdict(settings)
        if settings is not None and not isinstance(settings, Mapping):
            raise TypeError(f"settings must be the coach's settings, not {type(settings).__name__}")
        self.settings: dict[str, Any] = dict(settings or {})
        self.source = source or {}
        self.store_path = store_path
        self.started_at = started_at
        self.errors: list[ErrorReported] = []
        """What went wrong writing the history (the session went on)."""
        self.writer: HistoryWriter | None = None
        """The thread saving this session (None before the coach starts)."""
        self._begin: dict[str, Any] | None = None
        """The session's row, from the coach's first events, until the writer has it."""
        self._disabled = False
        self._pending: list[SessionEvent] = []
        self._beats: list[tuple[float, float]] = []
        self._t_commit = 0.0
        self._t_s = 0.0
        self._ended = False

    def event(self, event: SessionEvent) -> None:
        if self._disabled or self._ended:
            return
        if self.writer is None:
            if not self._beginning(event):
                return
        if isinstance(event, NOT_SAVED):
            return
        self._pending.append(event)
        self._t_s = max(self._t_s, float(event.t_s))
        due = isinstance(event, COMMIT_EVENTS) or self._t_s - self._t_commit >= PROGRESS_EVERY_S
        if self.writer is not None and due:
            self._commit(event)

    def _beginning(self, event: SessionEvent) -> bool:
        """The coach's first events (the safety check, a change of protocol) make the session's
        row; the writer starts at the next one. True when ``event`` is to be saved."""
        if isinstance(event, SafetyChecked) and self._begin is None:
            protocol = str(self.settings.get("protocol") or "")
            self._begin = {"protocol": protocol, "practised": protocol, "safety": event.status, "t_start": event.t_s}
            self._t_commit = self._t_s = float(event.t_s)
            return True
        if self._begin is None:
            return False  # before the coach starts: nothing of the session yet
        if isinstance(event, ProtocolChanged):
            self._begin.update(protocol=event.requested, practised=event.protocol)
            return True
        self._open()
        return not self._disabled

    def advance(self, t_s: float) -> None:
        if self.writer is None and self._begin is not None and not self._disabled:
            self._open()
        if self.writer is not None and not self._ended:
            self._t_s = max(self._t_s, float(t_s))
            if self._t_s - self._t_commit >= PROGRESS_EVERY_S:
                self._commit(None)

    @property
    def session_id(self) -> int | None:
        """The session's row in the history (None until the writer has committed it)."""
        return self.writer.session_id if self.writer is not None else None

    def frame(self, frame: SampleFrame) -> None:
        if isinstance(frame, RRFrame) and self._begin is not None and not self._ended and not self._disabled:
            self._beats.extend(zip(frame.t_s.tolist(), frame.rr_ms.tolist(), strict=True))

    def take_errors(self) -> list[ErrorReported]:
        if self.writer is not None:
            self.errors.extend(ErrorReported(round(self._t_s, 3), m) for m in self.writer.take_problems())
        out, self.errors = self.errors, []
        return out

    def close(self) -> None:
        """Commit what is left and let the writer finish (waits at most :data:`CLOSE_WAIT_S`;
        the thread completes its work even after that)."""
        if self.writer is None and self._begin is not None and not self._disabled:
            self._open()
        if self.writer is not None and not self._ended:
            self._commit(None)
            self._ended = True
        if self.writer is not None:
            self.writer.close(CLOSE_WAIT_S)

    def _open(self) -> None:
        b = self._begin
        assert b is not None
        started = self.started_at or _dt.datetime.now().astimezone().isoformat(timespec="seconds")
        try:
            begin = begin_record(started_at=started, protocol=b["protocol"] or b["practised"], practised=b["practised"],
                                 safety=b["safety"], settings=self.settings, source=self.source,
                                 t_start=float(b["t_start"]))
            self.writer = HistoryWriter(self.store_path, begin)
        except Exception as exc:  # noqa: BLE001 - history must never stop a session
            self._disabled = True
            self.errors.append(ErrorReported(round(float(b["t_start"]), 3), f"history not saved: {exc}"))

    def _commit(self, event: SessionEvent | None) -> None:
        end = event if isinstance(event, SessionEnded) else None
        t_last = self._t_s if end is None else float(end.t_s)
        assert self.writer is not None
        try:
            rows = progress_of(t_last=t_last, events=self._pending, end=end, beats=self._beats)
        except Exception as exc:  # noqa: BLE001
            self.errors.append(ErrorReported(round(t_last, 3), f"history not saved: {exc}"))
            self._disabled, self._ended = True, True
            self.writer.close(0)
            return
        self.writer.put(rows)
        self._t_commit = t_last
        self._pending = []
        self._beats = []
        if end is not None:
            self._ended = True  # the writer finishes when the loop closes the sinks, off the loop
