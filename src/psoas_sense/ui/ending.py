"""How a session on the terminal UI ends: its record, how it ended in truth, its log lines.

A coached session says how it ended (:class:`~psoas_sense.events.SessionEnded`); a session
without a coach does not, so the app tells it from what it saw: the pain key, a quit, the
recording running out, the time asked for, the sensor lost.
"""

from __future__ import annotations

from psoas_sense.events import (
    HoldEnded,
    PainStopped,
    SessionEnded,
    SessionEvent,
    SideEnded,
    SideStarted,
    StageEntered,
)
from psoas_sense.model import Status
from psoas_sense.report.fold import Origin, RecordSink
from psoas_sense.report.record import Report
from psoas_sense.session.result import Stopped
from psoas_sense.session.setup import RunConfig
from psoas_sense.view import SessionView
from psoas_sense.vocab import Command, Ending, LinkState


def mmss(seconds: float | None) -> str:
    """``MM:SS``, or ``--:--`` for nothing."""
    if seconds is None:
        return "--:--"
    s = max(0, int(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


def ended_by(
    view: SessionView, asked: Command | None, stopped_by: Stopped | None, config: RunConfig | None
) -> Ending | None:
    """How the session ended, in the history's words (``done``, ``quit``, ``pain``,
    ``end_of_input``, ``duration``, ``link_lost``, ``signal``), or None when not known.

    Args:
        view: the session view at the end (its ``ended_by`` comes from the coach).
        asked: what the person asked for (``pain`` or ``quit``), if anything.
        stopped_by: why the session loop stopped (``end``, ``duration``, ``quit``, ``cancelled``...).
        config: the run.
    """
    if view.pain or asked is Command.PAIN:
        return Ending.PAIN
    if stopped_by is Stopped.DURATION and view.ended_by in (None, Ending.END_OF_INPUT):
        return Ending.DURATION  # the coach calls it the end of the input; it was the time asked for
    if view.ended_by is not None:
        return view.ended_by
    if asked is Command.QUIT:
        return Ending.QUIT
    if stopped_by is Stopped.END:
        replay = config is not None and config.file is not None
        return Ending.END_OF_INPUT if replay or view.source_state != LinkState.LOST else Ending.LINK_LOST
    if stopped_by is Stopped.LINK_LOST:
        return Ending.LINK_LOST
    if stopped_by is Stopped.CANCELLED:
        return Ending.SIGNAL
    return None


def build_summary(record: RecordSink, config: RunConfig | None, ending: str | None) -> Report:
    """The record of the session just run, from its events (the fold every report uses); how it
    ended is the coach's word, or ``ending`` for a session without a coach."""
    return record.report(Origin(file=str(config.file) if config and config.file else None,
                                protocol=config.coach.protocol if config else None, ended_by=ending))


def error_status(t_s: float, exc: BaseException) -> Status:
    """A failure of the source (strap not found, file unreadable) as a status the screen shows."""
    return Status(t_s, LinkState.STOPPED, f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))


LOGGED = (StageEntered, SideStarted, SideEnded, HoldEnded, Status, PainStopped, SessionEnded)
"""Events written to the session log."""


def log_line(ev: SessionEvent) -> str:
    """One event of :data:`LOGGED` as a line of the session log."""
    t = mmss(ev.t_s)
    if isinstance(ev, Status):
        return f"{t}  link: {ev.state} {ev.detail}".rstrip()
    if isinstance(ev, StageEntered):
        return f"{t}  {ev.stage}: {ev.text}"
    if isinstance(ev, HoldEnded):
        return f"{t}  hold ended ({ev.kind}, {ev.side}), {ev.duration_s:.0f} s, {ev.breaths} breaths"
    if isinstance(ev, SideStarted):
        return f"{t}  {ev.side} side: {mmss(ev.target_s)}"
    if isinstance(ev, SideEnded):
        return f"{t}  {ev.side} side done: {mmss(ev.duration_s)}, {ev.holds} holds"
    if isinstance(ev, PainStopped):
        return f"{t}  PAIN STOP"
    return f"{t}  session over"
