"""The history as a session sink: the session is written to SQLite as it goes.

A session row is written when the coach starts; every completed hold, side and pain stop is
committed at once with the breaths and coach output since the previous commit, so a crash
keeps everything up to the last completed hold. If the history cannot be written the session
goes on, and one error event says so.
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
from psoas_sense.model import BreathEvent, RRFrame, SampleFrame, SignalNotice, Status
from psoas_sense.session.sinks import Sink
from psoas_sense.store import HistoryStore

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
        self.session_id: int | None = None
        self.errors: list[ErrorReported] = []
        """What went wrong writing the history (the session went on)."""
        self._store: HistoryStore | None = None
        self._disabled = False
        self._n = {"pain_stops": 0, "breaths": 0}
        self._pending: list[SessionEvent] = []
        self._beats: list[tuple[float, float]] = []
        self._holds: list[HoldEnded] = []
        self._sides: list[SideEnded] = []
        """Holds and sides as the session said them (with their physiology), since the last commit."""

    def event(self, event: SessionEvent) -> None:
        e = self.engine
        if self.session_id is None and not self._disabled and e.t_start_s is not None:
            self._open(e.t_start_s)
        if self._store is None:
            return
        if not isinstance(event, _NOT_SAVED_AS_LINES) and not isinstance(event, SessionEnded):
            self._pending.append(event)
        if isinstance(event, HoldEnded):
            self._holds.append(event)
        elif isinstance(event, SideEnded):
            self._sides.append(event)
        if isinstance(event, COMMIT_EVENTS):
            self._commit(event)

    def frame(self, frame: SampleFrame) -> None:
        if isinstance(frame, RRFrame) and self._store is not None:
            self._beats.extend(zip(frame.t_s.tolist(), frame.rr_ms.tolist(), strict=True))

    def take_errors(self) -> list[ErrorReported]:
        out, self.errors = self.errors, []
        return out

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def _open(self, t_s: float) -> None:
        e = self.engine
        started = self.started_at or _dt.datetime.now().astimezone().isoformat(timespec="seconds")
        try:
            self._store = HistoryStore(self.store_path)
            self.session_id = self._store.begin_session(
                started_at=started,
                protocol=e.requested_protocol,
                practised=e.protocol,
                safety=e.safety.status,
                settings=dataclasses.asdict(e.settings),
                source=self.source,
                t_start=float(t_s),
            )
            side = getattr(self._store, "side_file", None)
            if side is not None:
                self.errors.append(ErrorReported(round(float(t_s), 3), f"history locked: this session is kept in "
                                                 f"{side.path} and merged at the next start"))
        except Exception as exc:  # noqa: BLE001 - history must never stop a session
            self._fail(t_s, exc)

    def _fail(self, t_s: float, exc: BaseException) -> None:
        self._disabled = True
        if self._store is not None:
            try:
                self._store.close()
            except Exception:  # noqa: BLE001
                pass
        self._store = None
        self.errors.append(ErrorReported(round(float(t_s), 3), f"history not saved: {exc}"))

    def _commit(self, event: SessionEvent) -> None:
        e = self.engine
        n = self._n
        end = event if isinstance(event, SessionEnded) else None
        t_last = float(getattr(event, "t_s", 0.0))
        assert self._store is not None and self.session_id is not None
        try:
            self._store.commit_progress(
                self.session_id,
                t_last=t_last,
                holds=self._holds,
                sides=self._sides,
                pain_stops=e.pain_stops[n["pain_stops"]:],
                breaths=e.breaths[n["breaths"]:],
                lines=self._pending,
                end=end,
                beats=self._beats,
            )
        except Exception as exc:  # noqa: BLE001
            self._fail(t_last, exc)
            return
        n.update(pain_stops=len(e.pain_stops), breaths=len(e.breaths))
        self._pending = []
        self._beats = []
        self._holds = []
        self._sides = []
        if end is not None:
            self.close()
