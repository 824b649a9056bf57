"""The one session loop: a source feeds the core; commands are heard at any moment; sinks receive.

``detect``, ``replay``, ``session``, ``record``, ``report FILE`` and the terminal UI all run
:func:`run_session`. Three things run concurrently:

- the **source**: every item goes to the sinks (the recorder keeps it), then through the
  pipeline; its events go to the coach, and everything that comes out goes to the sinks;
- the **commands** (``pain``, ``quit``, ``soften``, ``next``): each is applied the moment it is
  read, stamped with the session time at that moment (the source's clock), whether or not data
  is flowing, so a pain stop during a link drop takes effect, is shown and is saved at once;
  ``@T`` commands apply when session time reaches ``T``;
- while no data arrives, the **idle ticker** moves the coach on by the source's clock, so the
  pacer keeps guiding through a link drop.

Processing is synchronous between awaits, so the three never interleave inside a step. The
loop holds no clock of its own: session time comes from the items and the source's clock.

Nothing a sink does stops the session: a sink that fails is reported once and left out from then
on, except the printer whose reader went away (a closed standard output), which ends the session
as ``output_closed``. Every ending is truthful: a cancellation carries its reason (``signal`` for
SIGTERM, SIGHUP or the terminal closing, ``interrupt`` for Ctrl-C). The sinks are closed off the
event loop (the recording's trailer, the history's last commit), and what they report while
closing is still handed to the others.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol

from psoas_sense.dsp.pipeline import Pipeline
from psoas_sense.events import (
    BreathingTrace,
    CoachEvent,
    Command,
    CommandRejected,
    ErrorReported,
    HeartRate,
    SessionEvent,
)
from psoas_sense.model import CoreEvent, HRFrame, Item, Marker, RRFrame, Status
from psoas_sense.session.commands import CommandInput, RejectedLine, TimedCommands
from psoas_sense.session.result import SessionResult, Stopped
from psoas_sense.session.sinks import OutputClosed, Sink, close_all
from psoas_sense.sources.base import Source
from psoas_sense.sources.clock import Clock
from psoas_sense.vocab import Ending, LinkState

IDLE_TICK_S = 0.1
"""How often the coach is moved on by the clock while no data arrives, session seconds."""
IDLE_AFTER_S = 0.25
"""No item for this long counts as idle (between items, data time drives the coach)."""
TRACE_SPAN_S = 20.0
"""Seconds of breathing signal in a trace event (a few breaths)."""
HEART_RATE_EVERY_S = 1.0
MAX_BEATS_PER_EVENT = 64
"""RR intervals carried by one heart-rate event at most (bounded memory after a long silence)."""
CANCEL_REASONS = (Ending.SIGNAL, Ending.INTERRUPT)
"""How a cancelled session says it ended (``task.cancel(reason)``); anything else is ``signal``."""


class Coach(Protocol):
    """What the loop needs of a coach (:class:`psoas_sense.coach.CoachEngine`)."""

    @property
    def finished(self) -> bool: ...

    def start(self, t_s: float) -> list[CoachEvent]: ...

    def on_events(self, events: Sequence[CoreEvent], t_s: float) -> list[CoachEvent]: ...

    def on_status(self, status: Status) -> list[CoachEvent]: ...

    def on_beats(self, times_s: Sequence[float], rr_ms: Sequence[float]) -> list[CoachEvent]: ...

    def on_streams(self, streams: Mapping[str, object]) -> None: ...

    def tick(self, t_s: float) -> list[CoachEvent]: ...

    def command(self, command: Command, t_s: float) -> list[CoachEvent]: ...

    def finish(self, t_s: float, ended_by: Ending = Ending.END_OF_INPUT) -> list[CoachEvent]: ...


def source_clock(source: Source) -> Clock | None:
    """The source's session clock, if it has one (live and paced sources; not a max-speed replay)."""
    clock = getattr(source, "clock", None)
    return clock if clock is not None and callable(getattr(clock, "now", None)) else None


class _Run:
    """The state shared by the source, command and idle tasks of one run."""

    def __init__(
        self, sinks: Sequence[Sink], coach: Coach | None, duration_s: float | None, trace_every_s: float | None = None
    ) -> None:
        self.sinks = sinks
        self.trace_every_s = trace_every_s
        self._trace_t = -float("inf")
        self.coach = coach
        self.duration_s = duration_s
        self.result = SessionResult()
        self.failed: set[int] = set()
        """Sinks left out after failing (by id)."""
        self.pipe: Pipeline | None = None
        self.clock: Clock | None = None
        self.started = False
        self.t_first: float | None = None
        self.timed = TimedCommands()
        self.done = asyncio.Event()
        self.last_item_clock_s = 0.0
        self.last_state = ""
        """The source's newest status (``lost`` at the end: it gave up on the link)."""
        self._hr_t = -float("inf")
        self._rr: list[float] = []

    # ------------------------------------------------------------------ output

    def emit(self, events: Sequence[SessionEvent]) -> None:
        queue = list(events)
        while queue:
            ev = queue.pop(0)
            self.result.lines += 1
            for sink in self.sinks:
                if id(sink) in self.failed:
                    continue
                try:
                    sink.event(ev)
                except OutputClosed:
                    self.failed.add(id(sink))
                    self.stop(Stopped.OUTPUT_CLOSED)
                except Exception as exc:  # noqa: BLE001 - a sink never stops the session
                    self.failed.add(id(sink))
                    queue.append(ErrorReported(round(float(getattr(ev, "t_s", 0.0)), 3),
                                               f"{type(sink).__name__} stopped: {type(exc).__name__}: {exc}"))
            for sink in self.sinks:
                queue.extend(sink.take_errors())

    def advance(self, t_s: float) -> None:
        for sink in self.sinks:
            sink.advance(t_s)

    def now(self) -> float:
        """Session time now: the source's clock when it has one, never before the newest item."""
        t = self.result.last_t_s
        if self.clock is not None:
            t = max(t, self.clock.now())
        return t

    def stop(self, why: Stopped) -> None:
        if not self.done.is_set():
            self.result.stopped_by = why
            self.done.set()

    # ------------------------------------------------------------------ steps

    def start_coach(self, t_s: float) -> None:
        if self.coach is not None and not self.started:
            self.started = True
            self.coach.on_streams(self.pipe.streams if self.pipe is not None else {})  # a strap's, once connected
            self.emit(self.coach.start(t_s))

    def on_item(self, t_s: float, item: Item) -> None:
        assert self.pipe is not None
        res = self.result
        res.items += 1
        if self.t_first is None:
            self.t_first = t_s
        res.last_t_s = max(res.last_t_s, t_s)
        if self.clock is not None:
            self.last_item_clock_s = self.clock.now()
        for sink in self.sinks:
            sink.item(t_s, item)
        self.start_coach(t_s)
        if isinstance(item, Status):
            self.last_state = item.state
            self.emit([item])
            if self.coach is not None:
                self.emit(self.coach.on_status(item))
        events: list[CoreEvent] = []
        if isinstance(item, Marker):
            events = self.pipe.feed(item)
        else:
            for frame in self.pipe.frames_of(item):
                for sink in self.sinks:
                    sink.frame(frame)
                self._heart_rate(frame)
                if self.coach is not None and self.started and isinstance(frame, RRFrame) and frame.rr_ms.size:
                    self.emit(self.coach.on_beats(frame.t_s.tolist(), frame.rr_ms.tolist()))  # following the pacer
                events.extend(self.pipe.feed(frame))
        self.emit(events)
        if self.trace_every_s is not None and t_s - self._trace_t >= self.trace_every_s:
            self._trace_t = t_s
            trace = getattr(self.pipe, "trace", None)  # the pipeline's recent extracted signal
            times, values = trace(TRACE_SPAN_S) if callable(trace) else ([], [])
            if len(times):
                self.emit([BreathingTrace(float(times[-1]), tuple(map(float, times)), tuple(map(float, values)))])
        if self.coach is not None and events:
            self.emit(self.coach.on_events(events, t_s))
        for at, cmd in self.timed.due(t_s):
            self.on_command(cmd, max(at, 0.0))
        self.tick(t_s)
        if self.duration_s is not None and t_s - self.t_first >= self.duration_s:
            self.stop(Stopped.DURATION)

    def _heart_rate(self, frame: object) -> None:
        hr: float | None = None
        t: float | None = None
        if isinstance(frame, HRFrame) and frame.hr_bpm > 0:
            hr, t = float(frame.hr_bpm), float(frame.t_s)
        elif isinstance(frame, RRFrame) and frame.rr_ms.size:
            rr = frame.rr_ms[frame.rr_ms > 0]
            if rr.size:
                hr, t = 60000.0 / float(rr.mean()), float(frame.t_s[-1])
                self._rr.extend(float(x) for x in rr)
        if hr is not None and t is not None and t - self._hr_t >= HEART_RATE_EVERY_S:
            self._hr_t = t
            beats, self._rr = tuple(self._rr[-MAX_BEATS_PER_EVENT:]), []
            self.emit([HeartRate(t, hr, beats)])

    def tick(self, t_s: float) -> None:
        if self.coach is not None and self.started:
            self.emit(self.coach.tick(t_s))
            if self.coach.finished:
                self.stop(Stopped.COACH)
        self.advance(t_s)

    def on_command(self, cmd: Command, t_s: float) -> None:
        if self.coach is None:
            if cmd in (Command.QUIT, Command.PAIN):
                self.stop(Stopped.QUIT)
            return
        self.start_coach(t_s)
        self.emit(self.coach.command(cmd, t_s))
        self.advance(t_s)
        if self.coach.finished:
            self.stop(Stopped.COACH)

    def on_command_input(self, asked: CommandInput) -> None:
        if isinstance(asked, RejectedLine):
            self.emit([CommandRejected(round(self.result.last_t_s, 3), asked.detail)])
            return
        if asked.at_s is None:
            self.on_command(asked.command, self.now())
        elif self.clock is not None and asked.at_s <= self.now():
            self.on_command(asked.command, asked.at_s)
        else:
            self.timed.add(asked.at_s, asked.command)

    def finish(self, ended_by: Ending | None = None) -> None:
        """Close the coach's session, saying truthfully how it ended."""
        if ended_by is None:
            ended_by = Ending.END_OF_INPUT
            if self.result.stopped_by is Stopped.END and self.last_state == LinkState.LOST:
                ended_by = Ending.LINK_LOST
                self.result.stopped_by = Stopped.LINK_LOST
            elif self.result.stopped_by is Stopped.DURATION:
                ended_by = Ending.DURATION  # the time asked for ran out (not the input)
            elif self.result.stopped_by is Stopped.OUTPUT_CLOSED:
                ended_by = Ending.OUTPUT_CLOSED
        if self.coach is not None and self.started:
            self.emit(self.coach.finish(self.now(), ended_by))


async def run_session(
    source: Source,
    *,
    signal: str = "auto",
    sinks: Sequence[Sink] = (),
    coach: Coach | None = None,
    commands: AsyncIterator[CommandInput] | None = None,
    duration_s: float | None = None,
    pipeline: Pipeline | None = None,
    trace_every_s: float | None = None,
) -> SessionResult:
    """Run one session until the source ends, the duration passes, the coach is done or a quit.

    Args:
        source: any :class:`~psoas_sense.sources.base.Source` (not yet entered).
        signal: detector signal (``auto``, ``resp``, ``acc``, ``rr``).
        sinks: where the output goes (printer, recorder, history, UI); opened with the
            source's header and closed at the end, also when the run is cancelled.
        coach: a coach to drive, or None for detection only.
        commands: the person's commands (:mod:`psoas_sense.session.commands`), read concurrently.
        duration_s: stop once data time passes this many seconds after the first item.
        pipeline: the core pipeline to use (default: a new one from the source header).
        trace_every_s: hand the sinks a :class:`~psoas_sense.events.BreathingTrace` this often
            (session seconds; a screen's trace), or never (None).
    """
    run = _Run(sinks, coach, duration_s, trace_every_s)
    tasks: list[asyncio.Task[None]] = []

    async def consume() -> None:
        async for t_s, item in source:
            run.on_item(t_s, item)
            if run.done.is_set():
                return
        run.stop(Stopped.END)

    async def read_commands() -> None:
        assert commands is not None
        async for asked in commands:
            run.on_command_input(asked)

    async def clock_work() -> None:
        """Idle ticks and due ``@T`` commands on the source's clock while data is silent."""
        clock = run.clock
        assert clock is not None
        while True:
            await clock.sleep(IDLE_TICK_S)
            now = run.now()
            for at, cmd in run.timed.due(now):
                run.on_command(cmd, at)
            if clock.now() - run.last_item_clock_s >= IDLE_AFTER_S:
                run.tick(now)
            if run.duration_s is not None and run.t_first is not None and now - run.t_first >= run.duration_s:
                run.stop(Stopped.DURATION)  # a silent source still ends on time

    try:
        async with source:
            run.pipe = pipeline or Pipeline(signal=signal, streams=source.header.streams)
            run.clock = source_clock(source)
            for sink in sinks:
                sink.open(source.header)
            tasks.append(asyncio.ensure_future(consume()))
            if commands is not None:
                tasks.append(asyncio.ensure_future(read_commands()))
            if run.clock is not None:
                run.last_item_clock_s = run.clock.now()
                tasks.append(asyncio.ensure_future(clock_work()))
            waiter = asyncio.ensure_future(run.done.wait())
            try:
                await asyncio.wait([waiter, tasks[0]], return_when=asyncio.FIRST_COMPLETED)
            finally:
                waiter.cancel()
            if tasks[0].done() and not tasks[0].cancelled() and tasks[0].exception() is not None:
                raise tasks[0].exception()  # type: ignore[misc]
            await _cancel(tasks)
            # a replay whose file turns out bad part-way ends on what came before it, saying so;
            # the source raises the one-line error when it is left
            run.finish(Ending.INPUT_ERROR if getattr(source, "error", None) is not None else None)
    except asyncio.CancelledError as exc:
        run.result.stopped_by = Stopped.CANCELLED
        await _cancel(tasks)
        reason = Ending(exc.args[0]) if exc.args and exc.args[0] in CANCEL_REASONS else Ending.SIGNAL
        with contextlib.suppress(Exception):  # never lose the recording over a summary
            run.finish(reason)  # SIGTERM, SIGHUP, Ctrl-C, or the front end closing
        raise
    finally:
        await _cancel(tasks)
        # what the source queued while closing (its final 'stopped' status) is shown and kept
        pending = getattr(source, "pending", None)
        for item in pending() if callable(pending) else []:
            for sink in sinks:
                with contextlib.suppress(Exception):
                    sink.item(run.result.last_t_s, item)
            if isinstance(item, Status):
                run.emit([item])
        await _close_off_loop(sinks)
        late = [err for sink in sinks for err in sink.take_errors()]
        if late:  # said while closing (the history still held, the recording's last write failed)
            run.emit(late)
        run.result.decode_errors = run.pipe.decoder.errors if run.pipe is not None else 0
    return run.result


async def _close_off_loop(sinks: Sequence[Sink]) -> None:
    """Close the sinks in a thread (a trailer's fsync, the history's last commit), so the event
    loop (a front end's screen) stays live; a second cancellation does not cut the closing short."""
    closing = asyncio.ensure_future(asyncio.to_thread(close_all, sinks))
    cancelled = False
    while not closing.done():
        try:
            await asyncio.shield(closing)
        except asyncio.CancelledError:
            cancelled = True
        except Exception:  # noqa: BLE001 - raised below, once closing is over
            break
    if cancelled:
        raise asyncio.CancelledError
    closing.result()


async def _cancel(tasks: Sequence[asyncio.Task[None]]) -> None:
    for task in tasks:
        if not task.done():
            task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
