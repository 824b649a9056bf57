"""Where a session's output goes: the JSON-lines printer, the recorder, a collector, callbacks.

A sink sees the source's header once, every raw item (only the recorder keeps them), every
typed event in order, the data time as it advances, and a close. The history is a sink too
(:mod:`psoas_sense.session.history`), and so is the terminal UI. Sinks never change what the
session does; one that fails is reported and the session goes on. A recording that cannot be
written (disk full, file too large, its folder removed) is said once and stops; the session
goes on to its end. The printer whose reader went away raises :class:`OutputClosed`, which
ends the session truthfully (``output_closed``).
"""

from __future__ import annotations

import errno
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from psoas_sense.events import MARKED_EVENTS, BreathingTrace, ErrorReported, HeartRate, SessionEvent
from psoas_sense.model import BreathEvent, Item, Marker, SampleFrame
from psoas_sense.recording.format import Header, RecordingWriter
from psoas_sense.serialize import to_json, to_marker


class OutputClosed(Exception):  # noqa: N818 - a condition, not an error of the program
    """Nobody reads the printed lines any more (standard output closed, its pipe broken)."""


GONE_ERRNOS = (errno.EPIPE, errno.EBADF, errno.ECONNRESET, errno.EIO)
"""Write errors meaning the reader is gone (not a full disk)."""


def reason_of(exc: BaseException) -> str:
    """An output error in plain words."""
    code = getattr(exc, "errno", None)
    words = {errno.ENOSPC: "the disk is full", errno.EFBIG: "the file is too large for this system",
             errno.EDQUOT: "over the disk quota", errno.EROFS: "the disk is read-only"}
    if code in words:
        return words[code]
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


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
        self.closed = False
        """The reader went away (standard output closed): nothing more is printed."""
        self._failed = False

    def event(self, event: SessionEvent) -> None:
        if self.phases_only and not isinstance(event, BreathEvent):
            return
        if isinstance(event, HeartRate) and not self.heart_rate:
            return
        if isinstance(event, BreathingTrace):
            return
        if self.closed or self._failed:
            return
        out = self.stream or sys.stdout
        try:
            if out is None:
                raise ValueError("no standard output")
            out.write(json.dumps(to_json(event), separators=(", ", ": ")) + "\n")
            out.flush()
        except ValueError:  # closed
            self.closed = True
        except OSError as exc:
            if exc.errno in GONE_ERRNOS or isinstance(exc, (BrokenPipeError, ConnectionError)):
                self.closed = True
            else:  # a full disk under a redirected output: the session goes on, unprinted
                self._failed = True
                print(f"psoas-sense: warning: output not written: {reason_of(exc)}; the session goes on",
                      file=sys.stderr, flush=True)
                return
        if self.closed:
            _silence(out)
            raise OutputClosed
        self.lines += 1


def _silence(out: object) -> None:
    """Point a dead standard output at /dev/null, so the exit's flush says nothing."""
    if out is not sys.stdout:
        return
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.close(fd)
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the dead stream for good
    except OSError:
        pass


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
    further line comes (a daemon timer thread, or the injected ``schedule``). A recording that
    cannot be written any more (disk full, file too large, the file or its folder removed) is
    said once, as an error event, and stops; the session goes on.

    Args:
        path: the new recording.
        force: replace an existing regular file (``--force``).
        schedule: runs a callback after a delay (default: a daemon :class:`threading.Timer`).
    """

    def __init__(self, path: str | Path, *, force: bool = False, schedule: Scheduler | None = None) -> None:
        self.path = Path(path)
        self.writer: RecordingWriter | None = None
        self.failed: str | None = None
        """Why the recording stopped (None: it is whole)."""
        self._t_s = 0.0
        self._force = force
        self._schedule = schedule
        self._timer: object | None = None
        self._armed = False
        self._errors: list[ErrorReported] = []
        self._lock = threading.Lock()
        """Writes and the timer's sync never overlap."""

    def open(self, header: Header) -> None:
        try:
            self.writer = RecordingWriter(self.path, header, force=self._force)
        except OSError as exc:  # created, but the header could not be written (disk full)
            self._fail(exc)
            return
        self._arm()

    def _fail(self, exc: BaseException | str) -> None:
        """Stop recording, and say so once (the caller holds the lock or is the only writer)."""
        if self.failed is not None:
            return
        self.failed = exc if isinstance(exc, str) else reason_of(exc)
        self._errors.append(ErrorReported(round(self._t_s, 3), f"recording stopped: {self.failed} ({self.path}); "
                                                               "the recording is incomplete, the session goes on"))
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.abandon()

    def _write(self, line: Item, t_s: float, sync: bool = False) -> None:
        with self._lock:
            if self.writer is None:
                return
            try:
                self.writer.write(line, t_s=t_s)
                if sync:
                    self.writer.sync()
            except OSError as exc:
                self._fail(exc)

    def item(self, t_s: float, item: Item) -> None:
        self._t_s = max(self._t_s, t_s)
        if self.writer is not None:
            self._write(item, t_s)
            self._arm()

    def event(self, event: SessionEvent) -> None:
        if self.writer is None or not isinstance(event, MARKED_EVENTS):
            return
        t = max(self._t_s, float(event.t_s))
        name, data = to_marker(event)
        if t > event.t_s:  # the line keeps time order; the event's own time travels with it
            data["at"] = round(float(event.t_s), 3)
        self._write(Marker(t_s=float(event.t_s), marker=name, data=data), t, sync=name in ("pain_stop", "session_end"))
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
        """The timer: force what is written to disk, and check the file is still there (an
        error is reported, never raised)."""
        self._timer = None
        self._armed = False
        with self._lock:
            if self.writer is None:
                return
            try:
                if not self.writer.still_there():
                    self._fail("the file or its folder was removed")
                    return
                self.writer.sync_if_dirty()
            except OSError as exc:
                self._fail(exc)

    def take_errors(self) -> list[ErrorReported]:
        with self._lock:
            out, self._errors = self._errors, []
        return out

    def close(self) -> None:
        timer, self._timer = self._timer, None
        self._armed = False
        cancel = getattr(timer, "cancel", None)
        if callable(cancel):
            cancel()
        with self._lock:
            writer, self.writer = self.writer, None
            if writer is None:
                return
            try:
                if not writer.still_there():
                    self.writer = writer
                    self._fail("the file or its folder was removed")
                    return
                writer.close()
            except OSError as exc:
                self.writer = writer
                self._fail(exc)


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
