"""Where a session's output goes: the JSON-lines printer, the recorder, a collector, callbacks.

A sink sees the source's header once, every raw item (only the recorder keeps them), every
typed event in order, the data time as it advances, and a close. The history is a sink too
(:mod:`psoas_sense.session.history`), and so is the terminal UI. Sinks never change what the
session does; one that fails is reported and the session goes on.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from psoas_sense.events import MARKED_EVENTS, BreathingTrace, ErrorReported, HeartRate, SessionEvent
from psoas_sense.model import BreathEvent, Item, Marker, SampleFrame
from psoas_sense.recording.format import Header, RecordingWriter
from psoas_sense.serialize import to_json, to_marker


class Sink:
    """A session output. Every method does nothing by default."""

    def open(self, header: Header) -> None:
        """The source is open; ``header`` describes it."""

    def item(self, t_s: float, item: Item) -> None:
        """A raw item arrived at session time ``t_s`` (before the events it gives)."""

    def frame(self, frame: SampleFrame) -> None:
        """A decoded sample frame (after the item it came in)."""

    def event(self, event: SessionEvent) -> None:
        """One typed event, in order."""

    def advance(self, t_s: float) -> None:
        """Session time moved on to ``t_s`` (after the events of that moment)."""

    def close(self) -> None:
        """The session is over (also on cancellation); flush and release what is held."""

    def take_errors(self) -> list[ErrorReported]:
        """Errors this sink survived since the last call; the loop passes them to every sink."""
        return []


class JsonPrinter(Sink):
    """Prints events as JSON lines (the headless contract), flushed per line.

    Args:
        stream: where to print (default standard output).
        phases_only: only exhale/inhale events (the ``detect`` contract).
        heart_rate: also print ``heart_rate`` lines (off: not part of the session contract).
    """

    def __init__(self, stream: IO[str] | None = None, *, phases_only: bool = False, heart_rate: bool = False) -> None:
        self.stream = stream
        self.phases_only = phases_only
        self.heart_rate = heart_rate
        self.lines = 0

    def event(self, event: SessionEvent) -> None:
        if self.phases_only and not isinstance(event, BreathEvent):
            return
        if isinstance(event, HeartRate) and not self.heart_rate:
            return
        if isinstance(event, BreathingTrace):
            return
        out = self.stream or sys.stdout
        out.write(json.dumps(to_json(event), separators=(", ", ": ")) + "\n")
        out.flush()
        self.lines += 1


Scheduler = Callable[[float, Callable[[], None]], object]
"""``schedule(delay_s, callback)``: run ``callback`` once after ``delay_s`` seconds (a timer
thread by default; a fake in tests). What it returns may have a ``cancel()`` method."""


def _thread_scheduler(delay_s: float, callback: Callable[[], None]) -> threading.Timer:
    """A daemon timer thread: it fsyncs on the host's time whatever the event loop does (a
    session on an emulated strap's virtual clock must not wait for real timers of ours)."""
    timer = threading.Timer(delay_s, callback)
    timer.daemon = True
    timer.start()
    return timer


class Recorder(Sink):
    """Writes every raw item, and the coach's markers, into a format-v1 recording.

    The file is created owner-only and never overwrites (unless ``force``); a pain stop or the
    session's end is forced to disk at once, and any other line within
    :data:`~psoas_sense.recording.writer.FSYNC_INTERVAL_S` of being written, even when no
    further line comes (a daemon timer thread, or the injected ``schedule``).

    Args:
        path: the new recording.
        force: replace an existing regular file (``--force``).
        schedule: runs a callback after a delay (default: a daemon :class:`threading.Timer`).
    """

    def __init__(self, path: str | Path, *, force: bool = False, schedule: Scheduler | None = None) -> None:
        self.path = Path(path)
        self.writer: RecordingWriter | None = None
        self._t_s = 0.0
        self._force = force
        self._schedule = schedule
        self._timer: object | None = None
        self._armed = False
        self._errors: list[ErrorReported] = []
        self._lock = threading.Lock()
        """Writes and the timer's sync never overlap."""

    def open(self, header: Header) -> None:
        self.writer = RecordingWriter(self.path, header, force=self._force)
        self._arm()

    def item(self, t_s: float, item: Item) -> None:
        self._t_s = max(self._t_s, t_s)
        if self.writer is not None:
            with self._lock:
                self.writer.write(item, t_s=t_s)
            self._arm()

    def event(self, event: SessionEvent) -> None:
        if self.writer is None or not isinstance(event, MARKED_EVENTS):
            return
        t = max(self._t_s, float(event.t_s))
        name, data = to_marker(event)
        if t > event.t_s:  # the line keeps time order; the event's own time travels with it
            data["at"] = round(float(event.t_s), 3)
        with self._lock:
            self.writer.write(Marker(t_s=float(event.t_s), marker=name, data=data), t_s=t)
            if name in ("pain_stop", "session_end"):
                self.writer.sync()
        self._arm()

    def _arm(self) -> None:
        """Make sure a sync is due within the interval of the oldest unsynced line."""
        from psoas_sense.recording.writer import FSYNC_INTERVAL_S

        if self._armed or self.writer is None or not self.writer.dirty:
            return
        schedule = self._schedule or _thread_scheduler
        self._armed = True
        self._timer = schedule(FSYNC_INTERVAL_S, self._due)

    def _due(self) -> None:
        """The timer: force what is written to disk (an error is reported, never raised)."""
        self._timer = None
        self._armed = False
        if self.writer is None:
            return
        try:
            with self._lock:
                self.writer.sync_if_dirty()
        except (OSError, ValueError) as exc:
            self._errors.append(ErrorReported(round(self._t_s, 3), f"recording not synced to disk: {exc}"))

    def take_errors(self) -> list[ErrorReported]:
        out, self._errors = self._errors, []
        return out

    def close(self) -> None:
        timer, self._timer = self._timer, None
        self._armed = False
        cancel = getattr(timer, "cancel", None)
        if callable(cancel):
            cancel()
        if self.writer is not None:
            with self._lock:
                self.writer.close()


class Collector(Sink):
    """Keeps every event in a list (tests, reports)."""

    def __init__(self) -> None:
        self.events: list[SessionEvent] = []
        self.t_s = 0.0

    def event(self, event: SessionEvent) -> None:
        self.events.append(event)

    def advance(self, t_s: float) -> None:
        self.t_s = t_s

    def of(self, kind: type) -> list[SessionEvent]:
        """The events of one type."""
        return [e for e in self.events if isinstance(e, kind)]


class CallbackSink(Sink):
    """Calls ``on_event`` for every event and ``on_time`` as time advances (front ends)."""

    def __init__(
        self,
        on_event: Callable[[SessionEvent], None],
        on_time: Callable[[float], None] | None = None,
    ) -> None:
        self._on_event = on_event
        self._on_time = on_time

    def event(self, event: SessionEvent) -> None:
        self._on_event(event)

    def advance(self, t_s: float) -> None:
        if self._on_time is not None:
            self._on_time(t_s)


def close_all(sinks: Sequence[Sink]) -> None:
    """Close every sink, even when one fails (the first failure is raised after)."""
    first: BaseException | None = None
    for sink in sinks:
        try:
            sink.close()
        except Exception as exc:  # noqa: BLE001 - the others must still be closed
            first = first or exc
    if first is not None:
        raise first
