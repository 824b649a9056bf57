"""The headless session loop: a source feeds the core; events, status and cues become JSON lines.

This is edge code (it awaits a source and reads commands), but it holds no clock of its own:
every time it reports is data time carried by the items. The same loop serves ``replay``,
``session`` and ``record``, so live and replayed sessions run the same code.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from psoas_sense.dsp.pipeline import Pipeline
from psoas_sense.model import (
    BreathEvent,
    CoreEvent,
    Marker,
    SignalNotice,
    Status,
)
from psoas_sense.recording.format import RecordingWriter
from psoas_sense.sources.base import Source

MARKER_EVENTS = frozenset(
    {"hold_start", "hold_end", "side_start", "side_end", "pain_stop", "stage", "session_end", "cue", "safety"}
)
"""Coach output lines that are also written into the recording as markers (cues too, so a
report of the recording can show how each cue lined up with the exhale)."""
COMMANDS = frozenset({"soften", "next", "pain", "quit"})
"""Headless commands read from standard input, one per line (``@T name`` applies at data time T)."""


class Coach(Protocol):
    """What the runner needs of a coach (implemented in :mod:`psoas_sense.coach`)."""

    finished: bool

    def start(self, t_s: float) -> list[dict[str, Any]]: ...

    def on_events(self, events: Sequence[CoreEvent], t_s: float) -> list[dict[str, Any]]: ...

    def on_status(self, status: Status) -> list[dict[str, Any]]: ...

    def tick(self, t_s: float) -> list[dict[str, Any]]: ...

    def command(self, name: str, t_s: float) -> list[dict[str, Any]]: ...

    def finish(self, t_s: float) -> list[dict[str, Any]]: ...


def _r(x: float) -> float:
    return round(float(x), 3)


def event_to_json(ev: CoreEvent) -> dict[str, Any]:
    """The JSON line of a core event (the ``detect`` output contract)."""
    if isinstance(ev, BreathEvent):
        out: dict[str, Any] = {"event": ev.kind, "t": _r(ev.t_s), "detected_at": _r(ev.detected_at_s)}
        if ev.signal:
            out["signal"] = ev.signal
        if ev.approximate:
            out["approximate"] = True
        for name in ev.__dataclass_fields__:
            if name in ("kind", "t_s", "detected_at_s", "signal", "approximate"):
                continue
            value = getattr(ev, name)
            if value is None:
                continue
            key = name
            if isinstance(value, float):
                value = round(value, 3) if math.isfinite(value) else None
                if value is None:
                    continue
            out[key] = value
        return out
    if isinstance(ev, SignalNotice):
        return {"event": ev.kind, "t": _r(ev.t_s), **dict(ev.detail)}
    raise TypeError(type(ev).__name__)


def status_to_json(st: Status) -> dict[str, Any]:
    out: dict[str, Any] = {"event": "status", "state": st.state, "t": _r(st.t_s)}
    if st.detail:
        out["detail"] = st.detail
    return out


@dataclass
class SessionResult:
    """What a run produced, for callers and tests."""

    events: list[CoreEvent] = field(default_factory=list)
    lines: int = 0
    items: int = 0
    last_t_s: float = 0.0
    decode_errors: int = 0
    stopped_by: str = "end"
    """``end`` (source exhausted), ``duration``, ``coach`` (session over), ``quit``, ``cancelled``."""


class _Commands:
    """Commands waiting to be applied: immediate ones, and ``@T`` ones in data-time order."""

    def __init__(self) -> None:
        self.now: list[str] = []
        self.timed: list[tuple[float, int, str]] = []
        self._n = 0
        self.eof = False

    def add_line(self, line: str) -> str | None:
        """Parse one input line; returns an error text for a bad line."""
        text = line.strip()
        if not text or text.startswith("#"):
            return None
        at: float | None = None
        if text.startswith("@"):
            head, _, rest = text.partition(" ")
            try:
                at = float(head[1:])
            except ValueError:
                return f"bad time in command line {text!r}"
            text = rest.strip()
        if text not in COMMANDS:
            return f"unknown command {text!r} (use {', '.join(sorted(COMMANDS))})"
        if at is None:
            self.now.append(text)
        else:
            self.timed.append((at, self._n, text))
            self._n += 1
            self.timed.sort()
        return None

    def due(self, t_s: float) -> list[str]:
        out = self.now
        self.now = []
        while self.timed and self.timed[0][0] <= t_s:
            out.append(self.timed.pop(0)[2])
        return out


async def run_session(
    source: Source,
    *,
    signal: str = "auto",
    emit: Callable[[dict[str, Any]], None],
    record_path: str | Path | None = None,
    coach: Coach | None = None,
    commands: AsyncIterator[str] | None = None,
    duration_s: float | None = None,
    pipeline: Pipeline | None = None,
    progress: Callable[[float], None] | None = None,
) -> SessionResult:
    """Run one session: consume ``source`` until it ends, the duration passes or the coach is done.

    Args:
        source: any :class:`~psoas_sense.sources.base.Source` (not yet entered).
        signal: detector signal (``auto``, ``resp``, ``acc``, ``rr``).
        emit: receives every output line as a dict (events, status, coach lines).
        record_path: when given, every item is written there (format v1) as it arrives, with
            the coach's markers; the file is closed cleanly even when the run is cancelled.
        coach: a coach to drive, or None for detection only.
        commands: lines of headless commands (``soften``, ``next``, ``pain``, ``quit``,
            optionally prefixed ``@T``); read concurrently.
        duration_s: stop once data time passes this many seconds after the first item.
        pipeline: the core pipeline to use (default: a new one from the source header).
        progress: called with the data time after every item (a front end's timers).
    """
    result = SessionResult()
    cmds = _Commands()
    reader_task: asyncio.Task[None] | None = None

    def out(line: dict[str, Any]) -> None:
        result.lines += 1
        emit(line)

    async def read_commands() -> None:
        assert commands is not None
        async for line in commands:
            err = cmds.add_line(line)
            if err:
                out({"event": "error", "t": _r(result.last_t_s), "detail": err})
        cmds.eof = True

    writer: RecordingWriter | None = None
    pipe: Pipeline | None = None
    started = False

    def coach_lines(lines: list[dict[str, Any]], t_s: float) -> None:
        for line in lines:
            out(line)
            if writer is not None and line.get("event") in MARKER_EVENTS:
                data = {k: v for k, v in line.items() if k not in ("event", "t")}
                writer.write(Marker(t_s=float(line.get("t", t_s)), marker=line["event"], data=data), t_s=t_s)

    try:
        async with source:
            pipe = pipeline or Pipeline(signal=signal, streams=source.header.streams)
            if record_path is not None:
                writer = RecordingWriter(record_path, source.header)
            if commands is not None:
                reader_task = asyncio.ensure_future(read_commands())
            t_first: float | None = None

            async for t_s, item in source:
                result.items += 1
                if t_first is None:
                    t_first = t_s
                result.last_t_s = max(result.last_t_s, t_s)
                if writer is not None:
                    writer.write(item, t_s=t_s)
                if coach is not None and not started:
                    started = True
                    coach_lines(coach.start(t_s), t_s)
                if isinstance(item, Status):
                    out(status_to_json(item))
                    if coach is not None:
                        coach_lines(coach.on_status(item), t_s)
                events = pipe.feed(item)
                for ev in events:
                    out(event_to_json(ev))
                result.events.extend(events)
                if coach is not None:
                    if events:
                        coach_lines(coach.on_events(events, t_s), t_s)
                    await asyncio.sleep(0)  # let the command reader run
                    for name in cmds.due(t_s):
                        if name == "quit" and coach is None:
                            result.stopped_by = "quit"
                            break
                        coach_lines(coach.command(name, t_s), t_s)
                    coach_lines(coach.tick(t_s), t_s)
                    if coach.finished:
                        result.stopped_by = "coach"
                        break
                else:
                    for name in cmds.due(t_s):
                        if name == "quit":
                            result.stopped_by = "quit"
                if progress is not None:
                    progress(t_s)
                if result.stopped_by == "quit":
                    break
                if duration_s is not None and t_s - t_first >= duration_s:
                    result.stopped_by = "duration"
                    break
            if coach is not None and started:
                coach_lines(coach.finish(result.last_t_s), result.last_t_s)
    except asyncio.CancelledError:
        result.stopped_by = "cancelled"
        if coach is not None and started:
            try:
                # close the open hold and side, save the summary, mark the end in the recording
                coach_lines(coach.finish(result.last_t_s), result.last_t_s)
            except Exception:  # pragma: no cover - never lose the recording over a summary
                pass
        raise
    finally:
        if reader_task is not None:
            reader_task.cancel()
        # what the source queued while closing (its final 'stopped' status) is shown and kept
        pending = getattr(source, "pending", None)
        for item in pending() if callable(pending) else []:
            if isinstance(item, Status):
                out(status_to_json(item))
            if writer is not None:
                writer.write(item)
        if writer is not None:
            writer.close()
        result.decode_errors = pipe.decoder.errors if pipe is not None else 0
    return result
