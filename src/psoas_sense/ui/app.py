"""The Textual front end: one screen for someone lying down with their eyes mostly closed.

It renders the session view (:mod:`psoas_sense.view`) and nothing else: the instruction of the
moment, the detected phase apart from it, the hold and side timers, heart and breathing rate,
signal quality and the source's state in words. Sounds mark every cue (see
:mod:`psoas_sense.ui.audio`). Keys: space = the spot softened, n = next, p = PAIN (stops
everything at once), m = mute, q = quit.

No signal logic and no session state of its own: a worker runs the one session loop
(:func:`psoas_sense.session.loop.run_session`) with a sink that posts each typed event as a
message; the view is folded from them. :func:`make_app` builds it from a
:class:`~psoas_sense.session.setup.RunConfig`, for the command line and the tests alike.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Footer, Header, Label, RichLog, Sparkline, Static

from psoas_sense.events import (
    Command,
    HoldEnded,
    PainStopped,
    SessionEnded,
    SessionEvent,
    SideEnded,
    SideStarted,
    StageEntered,
)
from psoas_sense.model import Status
from psoas_sense.session.setup import RunConfig
from psoas_sense.sources.base import Source
from psoas_sense.ui.audio import CuePlayer
from psoas_sense.ui.messages import DataTimeAdvanced, EventEmitted, SessionFinished
from psoas_sense.ui.screens import PainScreen, SafetyAnswer, SafetyScreen
from psoas_sense.view import SessionView, at, step

LOGGED = (StageEntered, SideStarted, SideEnded, HoldEnded, Status, PainStopped, SessionEnded)
"""Events written to the log panel."""


def mmss(seconds: float | None) -> str:
    """``MM:SS``, or ``--:--`` for nothing."""
    if seconds is None:
        return "--:--"
    s = max(0, int(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


class PsoasApp(App[int]):
    """The psoas-sense terminal UI.

    Args:
        config: the run: source, coach, recording, sound.
        make_source: builds the source (default: the one the configuration names).
        audio: the cue player (default: from the configuration's sound options).
    """

    CSS_PATH = "app.tcss"
    TITLE = "psoas-sense"
    BINDINGS = [
        Binding("space", "soften", "Softened"),
        Binding("n", "next", "Next"),
        Binding("p", "pain", "PAIN: stop now", priority=True),
        Binding("m", "mute", "Mute"),
        Binding("q", "quit_session", "Quit"),
    ]

    def __init__(
        self,
        config: RunConfig,
        *,
        make_source: Callable[[], Source] | None = None,
        audio: CuePlayer | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self._make_source = make_source
        self.audio = audio or CuePlayer(enabled=not config.mute, speak=config.speak, bell=self.bell)
        self.sub_title = config.subtitle
        self._commands: asyncio.Queue[str | None] = asyncio.Queue()
        self.coached = config.coach.protocol is not None
        self.view = SessionView()
        """What the screen shows: folded from the session's events, nothing else."""
        self.events: list[SessionEvent] = []
        """Every event of the session, in order (what headless mode would print)."""
        self.ended = False
        self.result: object = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Vertical(id="main"):
            yield Static("", id="status")
            yield Static("", id="stage")
            yield Label("…", id="instruction")
            yield Static("", id="phase")
            with Horizontal(id="timers"):
                with Vertical(classes="timer"):
                    yield Label("hold", id="hold-label")
                    yield Digits("--:--", id="hold")
                with Vertical(classes="timer"):
                    yield Label("side", id="side-label")
                    yield Digits("--:--", id="side")
            yield Label("breathing rate, breaths/min", id="rate-label")
            yield Sparkline([], id="rates")
            yield RichLog(id="log", max_lines=200, wrap=True, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self._render_view()
        if self.config.coach.needs_safety_screen:
            self.push_screen(SafetyScreen(), self._safety_answered)
        else:
            self._begin(self.config)

    def _safety_answered(self, answer: SafetyAnswer | None) -> None:
        answer = answer if answer is not None else SafetyAnswer(breathing_only=True)
        config = self.config.with_safety(answer.conditions, confirmed=not answer.breathing_only)
        if answer.breathing_only:
            config = dataclasses.replace(config, coach=dataclasses.replace(config.coach, protocol="breathing"))
        self._begin(config)

    def _begin(self, config: RunConfig) -> None:
        self.config = config
        self.run_session_worker(config)

    # ------------------------------------------------------------------ worker
    async def _command_lines(self) -> AsyncIterator[str]:
        while True:
            cmd = await self._commands.get()
            if cmd is None:
                return
            yield cmd

    @work(exclusive=True, group="source")
    async def run_session_worker(self, config: RunConfig) -> None:
        from psoas_sense.session.loop import run_session
        from psoas_sense.session.setup import make_coach, make_sinks, open_source
        from psoas_sense.session.sinks import CallbackSink

        try:
            source = self._make_source() if self._make_source is not None else open_source(config)
            header = getattr(source, "header", None)
            coach = make_coach(config, header)
            def on_event(ev: SessionEvent) -> None:
                self.post_message(EventEmitted(ev))

            def on_time(t_s: float) -> None:
                self.post_message(DataTimeAdvanced(t_s))

            ui = CallbackSink(on_event, on_time)
            self.result = await run_session(
                source, signal=config.signal, sinks=[ui, *make_sinks(config, coach, header)], coach=coach,
                commands=self._command_lines(), duration_s=config.duration_s,
            )
        finally:
            self.post_message(SessionFinished())

    # ------------------------------------------------------------------ messages
    @on(EventEmitted)
    def _on_event(self, message: EventEmitted) -> None:
        ev = message.event
        self.events.append(ev)
        self.view = step(self.view, ev)
        self.audio.on_event(ev, coached=self.coached)
        if isinstance(ev, PainStopped):
            self.push_screen(PainScreen(ev.text))
        if isinstance(ev, LOGGED):
            self._write_log(ev)
        self._render_view()

    @on(DataTimeAdvanced)
    def _on_time(self, message: DataTimeAdvanced) -> None:
        new_second = int(message.t_s) != int(self.view.t_s)
        self.view = at(self.view, message.t_s)
        if new_second:  # timers and the status line show whole seconds
            self._render_view()

    @on(SessionFinished)
    def _on_end(self) -> None:
        self.ended = True
        if self.view.ended_by is None:
            self.view = dataclasses.replace(self.view, source_state="ended",
                                            instruction="Session over. Rest and breathe.")
        self._render_view()

    # ------------------------------------------------------------------ rendering
    def _write_log(self, ev: SessionEvent) -> None:
        t = mmss(ev.t_s)
        if isinstance(ev, Status):
            text = f"{t}  link: {ev.state} {ev.detail}".rstrip()
        elif isinstance(ev, StageEntered):
            text = f"{t}  {ev.stage}: {ev.text}"
        elif isinstance(ev, HoldEnded):
            text = f"{t}  hold ended ({ev.kind}, {ev.side}), {ev.duration_s:.0f} s, {ev.breaths} breaths"
        elif isinstance(ev, SideStarted):
            text = f"{t}  {ev.side} side: {mmss(ev.target_s)}"
        elif isinstance(ev, SideEnded):
            text = f"{t}  {ev.side} side done: {mmss(ev.duration_s)}, {ev.holds} holds"
        elif isinstance(ev, PainStopped):
            text = f"{t}  PAIN STOP"
        else:
            text = f"{t}  session over"
        self.query_one("#log", RichLog).write(text)

    def _render_view(self) -> None:
        v = self.view
        self.query_one("#instruction", Label).update(v.instruction)
        self.query_one("#stage", Static).update(v.stage_text if v.stage_text != v.instruction else "")
        phase = self.query_one("#phase", Static)
        phase.update(f"you: {v.phase_words}" if v.phase_words else "")
        phase.set_class(v.phase == "exhale", "exhale")
        phase.set_class(v.phase == "inhale", "inhale")
        self.query_one("#hold", Digits).update(mmss(v.hold_elapsed_s))
        target = f" of {mmss(v.hold_target_s)}" if v.hold_target_s else ""
        self.query_one("#hold-label", Label).update(
            f"{v.hold_kind} hold{target}, {v.hold_breaths} exhales" if v.hold_kind else "hold")
        self.query_one("#side", Digits).update(mmss(v.side_elapsed_s))
        side_target = f" of {mmss(v.side_target_s)}" if v.side_target_s else ""
        self.query_one("#side-label", Label).update(f"{v.side} side{side_target}" if v.side else "side")
        if v.rate_history:
            self.query_one("#rates", Sparkline).data = list(v.rate_history)
        rate = f"{v.rate_bpm:.1f} breaths/min" if v.rate_bpm else "rate —"
        hr = f"{v.hr_bpm:.0f} bpm" if v.hr_bpm else "heart —"
        sound = "sound on" if self.audio.enabled else "muted"
        self.query_one("#status", Static).update(
            f"{v.source_words}  ·  {mmss(v.t_s)}  ·  {rate}  ·  {hr}  ·  signal {v.quality_words}  ·  {sound}")

    # ------------------------------------------------------------------ actions
    def _send(self, command: Command) -> None:
        self._commands.put_nowait(command.value)

    def action_soften(self) -> None:
        self._send(Command.SOFTEN)

    def action_next(self) -> None:
        self._send(Command.NEXT)

    def action_pain(self) -> None:
        self._send(Command.PAIN)
        if not self.coached:
            self.push_screen(PainScreen(""))

    def action_mute(self) -> None:
        self.audio.enabled = not self.audio.enabled
        self._render_view()

    def action_quit_session(self) -> None:
        if not self.ended:
            self._send(Command.QUIT)
        self._commands.put_nowait(None)
        self.workers.cancel_group(self, "source")
        self.audio.close()
        self.exit(0)


def make_app(
    config: RunConfig,
    *,
    make_source: Callable[[], Source] | None = None,
    audio: CuePlayer | None = None,
) -> PsoasApp:
    """The terminal UI for a run: the command line and the tests both build it here."""
    return PsoasApp(config, make_source=make_source, audio=audio)
