"""The Textual front end, for someone on the floor with their eyes mostly closed.

Screens: start (what to run) -> safety check (massage protocols) -> session -> summary; the
history and the help on demand. The session screen renders the session view
(:mod:`psoas_sense.view`) and nothing else; a worker runs the one session loop
(:func:`psoas_sense.session.loop.run_session`) with a sink that posts each typed event as a
message. :func:`make_app` builds the app from a :class:`~psoas_sense.session.setup.RunConfig`
(or none: the start screen asks), for the command line and the tests alike.

Keys: ``p`` or ``Escape`` = PAIN, stop everything now (any screen while a session runs, the
help and the "end the session?" question included, no confirmation); outside a session
``Escape`` goes back (a summary goes back to the start screen). space = the spot softened;
``n`` next; ``m`` mute; ``?`` help; ``h`` past sessions (outside a session); ``q`` ends the
session or leaves the app, and asks first. The command palette is off: nobody on the floor
needs it, and it would swallow the pain key.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.widgets import Input

from psoas_sense.coach.texts import PAIN_STOP
from psoas_sense.events import BreathingTrace, Command, PainStopped, SessionEvent
from psoas_sense.report.fold import RecordSink
from psoas_sense.report.record import Report
from psoas_sense.session.choices import StartChoice, StartOptions, config_for
from psoas_sense.session.commands import UserCommand
from psoas_sense.session.result import SessionResult
from psoas_sense.session.setup import RunConfig
from psoas_sense.sources.base import Source
from psoas_sense.ui.audio import CuePlayer
from psoas_sense.ui.ending import LOGGED, build_summary, ended_by, error_status, log_line
from psoas_sense.ui.messages import DataTimeAdvanced, EventEmitted, SessionFinished
from psoas_sense.ui.screens.modals import LeaveScreen, PainScreen, QuitScreen, SafetyAnswer, SafetyScreen
from psoas_sense.ui.screens.session import SessionScreen
from psoas_sense.ui.signals import install_signal_handlers
from psoas_sense.view import SessionView, at, step
from psoas_sense.vocab import LinkState

TRACE_EVERY_S = 0.25
"""How often the breathing trace is redrawn, session seconds."""
REDRAW_EVERY_S = 0.2
"""Between events, the timers and the pacer are redrawn this often (session seconds)."""


class PsoasApp(App[int]):
    """The psoas-sense terminal UI.

    Args:
        config: the run (None: the start screen asks what to run).
        make_source: builds the source (default: the one the configuration names).
        audio: the cue player (default: from the configuration's sound options).
        start_screen: builds the start screen (tests inject one).
    """

    CSS_PATH = "app.tcss"
    TITLE = "psoas-sense"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("p", "pain", "PAIN: stop now", priority=True),
        Binding("escape", "escape", "PAIN", priority=True, show=False),
        Binding("space", "soften", "Softened"),
        Binding("n", "next", "Next"),
        Binding("m", "mute", "Mute"),
        Binding("question_mark", "help", "Help"),
        Binding("h", "history", "History", show=False),
        Binding("q", "quit_session", "Quit"),
    ]

    def __init__(
        self,
        config: RunConfig | None,
        *,
        make_source: Callable[[], Source] | None = None,
        audio: CuePlayer | None = None,
        start_screen: Callable[[], Any] | None = None,
        start_options: StartOptions | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self._make_source = make_source
        self._start_screen = start_screen
        self._start_options = start_options or StartOptions()
        mute = config.mute if config is not None else self._start_options.mute
        speak = config.speak if config is not None else self._start_options.speak
        self.audio = audio or CuePlayer(enabled=not mute, speak=speak,
                                        bell=self.bell,
                                        later=lambda delay_s, ring: self.set_timer(delay_s, ring))
        self.sound_notice = self.audio.missing_notice() or ""
        """What to install for sound, in words (the start screen shows it; no toast covers a key)."""
        self.redraws = 0
        """How often the session screen was redrawn (the cost benchmark reads it)."""
        self.signalled: str | None = None
        """The signal that stopped the app (SIGTERM, SIGHUP, SIGINT), if one did."""
        self._reset()

    def _reset(self) -> None:
        """A clean slate for the next session."""
        self._commands: asyncio.Queue[UserCommand | None] = asyncio.Queue()
        """The person's commands for the session loop (None: no more)."""
        self.view = SessionView()
        """What the session screen shows: folded from the session's events, nothing else."""
        self.events: list[SessionEvent] = []
        """Every event of the session, in order (breathing traces left out)."""
        self.running = False
        self.ended = False
        self.result: SessionResult | None = None
        self.summary_report: Report | None = None
        """The session's record, once it is over (what the summary shows)."""
        self._record = RecordSink()
        self._session_screen: SessionScreen | None = None
        self._drawn_t = -1.0
        self._draw_asked = False
        self._pain_open = False
        self._asked: Command | None = None
        """What the person asked to end the session with (the pain stop, or quit)."""
        self.notes = self.audio.short_notice() or ""
        """A quiet line on the session screen (no sound player, the phone's token)."""
        self.failure: str | None = None
        """Why the session could not run (a strap not found, a bad file), in words."""

    @property
    def coached(self) -> bool:
        return self.config is not None and self.config.coach.protocol is not None

    # ------------------------------------------------------------------ flow
    def on_mount(self) -> None:
        install_signal_handlers(self)
        if self.config is None:
            self._show_start()
        else:
            self._prepare(self.config)

    def _show_start(self) -> None:
        if self._start_screen is not None:
            screen = self._start_screen()
        else:
            from psoas_sense.ui.screens.start import StartScreen

            screen = StartScreen()
        self.push_screen(screen, self._started)

    def back_to_start(self) -> None:
        """From a finished session's summary back to the start screen, for another session."""
        if self.running:
            return
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self._reset()
        self._show_start()

    def _started(self, choice: StartChoice | None) -> None:
        if choice is None:
            self.exit(0)
            return
        self._prepare(config_for(choice, self._start_options))

    def _prepare(self, config: RunConfig) -> None:
        self.config = config
        self.sub_title = config.subtitle
        if config.coach.needs_safety_screen:
            self.push_screen(SafetyScreen(), self._safety_answered)
        else:
            self._begin(config)

    def _safety_answered(self, answer: SafetyAnswer | None) -> None:
        assert self.config is not None
        answer = answer if answer is not None else SafetyAnswer(breathing_only=True)
        config = self.config.with_safety(answer.conditions, confirmed=not answer.breathing_only)
        if answer.breathing_only:
            config = dataclasses.replace(config, coach=dataclasses.replace(config.coach, protocol="breathing"))
        self._begin(config)

    def _begin(self, config: RunConfig) -> None:
        self.config = config
        self._session_screen = SessionScreen()
        self.push_screen(self._session_screen)
        self.running = True
        self.run_session_worker(config)

    # ------------------------------------------------------------------ worker
    async def _user_commands(self) -> AsyncIterator[UserCommand]:
        """The commands of the keys, as the session loop takes them."""
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
            token = getattr(source, "token", None)
            if token:  # printed on stderr for headless runs; hidden under the UI, so shown here
                self.notes = f"phone token (paste it into the app): {token}"
                if self._session_screen is not None:
                    self._session_screen.write_log(self.notes)
            coach = make_coach(config, header)

            def on_event(ev: SessionEvent) -> None:
                self.post_message(EventEmitted(ev))

            def on_time(t_s: float) -> None:
                self.post_message(DataTimeAdvanced(t_s))

            sinks = [CallbackSink(on_event, on_time), self._record, *make_sinks(config, coach, header)]
            self.result = await run_session(
                source, signal=config.signal, sinks=sinks, coach=coach, commands=self._user_commands(),
                duration_s=config.duration_s, trace_every_s=TRACE_EVERY_S,
            )
        except Exception as exc:  # noqa: BLE001 - shown in words, the app stays up
            self.failure = str(exc) or type(exc).__name__
            self.post_message(EventEmitted(error_status(self.view.t_s, exc)))
        finally:
            self.post_message(SessionFinished())

    # ------------------------------------------------------------------ messages
    @on(EventEmitted)
    def _on_event(self, message: EventEmitted) -> None:
        ev = message.event
        if not isinstance(ev, BreathingTrace):
            self.events.append(ev)
        self.view = step(self.view, ev)
        self.audio.on_event(ev, coached=self.coached)
        if isinstance(ev, PainStopped):
            self._show_pain(ev.text)
        if isinstance(ev, LOGGED) and self._session_screen is not None:
            self._session_screen.write_log(log_line(ev))
        self._draw()

    @on(DataTimeAdvanced)
    def _on_time(self, message: DataTimeAdvanced) -> None:
        self.view = at(self.view, message.t_s)
        if message.t_s - self._drawn_t >= REDRAW_EVERY_S:
            self._draw()

    @on(SessionFinished)
    def _on_end(self) -> None:
        self.running = False
        self.ended = True
        if self.view.ended_by is None:
            self.view = dataclasses.replace(self.view, source_state=LinkState.ENDED)
        self._draw()
        stopped_by = self.result.stopped_by if self.result is not None else None
        ending = "failed" if self.failure is not None else ended_by(self.view, self._asked, stopped_by, self.config)
        self.summary_report = build_summary(self._record, self.config, ending)
        if not self._pain_open:
            self._show_summary()

    def _draw(self) -> None:
        """Ask for a redraw of the session screen: one for a burst of messages (a replay at full
        speed, a reconnect's backlog), drawn once the messages already queued are handled; the
        pain stop does not wait for it (its screen is pushed by the handler itself)."""
        self._drawn_t = self.view.t_s
        if not self._draw_asked:
            self._draw_asked = True
            self.call_later(self._draw_now)

    def _draw_now(self) -> None:
        self._draw_asked = False
        if self._session_screen is not None:
            self.redraws += 1
            self._session_screen.show(self.view, self.audio.enabled, self.notes)

    # ------------------------------------------------------------------ end
    def _show_summary(self) -> None:
        from psoas_sense.ui.screens.summary import SummaryScreen

        assert self.summary_report is not None
        config = self.config
        note = ""
        if self.failure is not None:
            note = f"could not run: {self.failure}"
        elif config is not None and config.command in ("demo", "replay"):
            saved = config.coach.save_history and config.coach.protocol is not None
            note = f"{config.command}: {'saved in the history' if saved else 'not saved'}"
        if self.view.problems:
            note += ("; " if note else "") + "; ".join(self.view.problems)
        self.push_screen(SummaryScreen(self.summary_report, note=note, current=True))

    def _show_pain(self, text: str) -> None:
        if self._pain_open:
            return
        self._pain_open = True

        def closed(_: None) -> None:
            self._pain_open = False
            if self.ended and self.summary_report is not None:
                self._show_summary()

        self.push_screen(PainScreen(text), closed)

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pain" and not self.running and isinstance(self.focused, Input):
            return False  # typing an address on the start screen: 'p' is a letter there
        if action == "escape" and not self.running and isinstance(self.focused, Input):
            return False
        if action in ("soften", "next") and not self.running:
            return False
        if action == "history" and (self.running or isinstance(self.focused, Input)):
            return False
        if action == "quit_session" and isinstance(self.focused, Input):
            return False
        return True

    def _send(self, command: Command) -> None:
        self._commands.put_nowait(UserCommand(command))

    def action_soften(self) -> None:
        self._send(Command.SOFTEN)

    def action_next(self) -> None:
        self._send(Command.NEXT)

    def action_pain(self) -> None:
        """Stop everything at once: no confirmation, whatever screen is showing."""
        if self.running:
            self._asked = Command.PAIN
            self._send(Command.PAIN)
            if not self.coached:
                self._show_pain(PAIN_STOP)
        else:
            self._show_pain(PAIN_STOP)

    def action_escape(self) -> None:
        """Escape: the pain stop while a session runs (on any screen, the help and the "end the
        session?" question included, which say so); outside a session, "back"."""
        if self.running or self._pain_open:
            self.action_pain()
            return
        screen = self.screen
        back = getattr(screen, "action_back", None)
        if callable(back):
            back()
        elif screen is not self.screen_stack[0] and not isinstance(screen, SafetyScreen):
            screen.dismiss(None)

    def action_mute(self) -> None:
        self.audio.enabled = not self.audio.enabled
        self._draw()

    def action_help(self) -> None:
        from psoas_sense.ui.screens.help import HelpScreen

        self.push_screen(HelpScreen(in_session=self.running))

    def action_history(self) -> None:
        from psoas_sense.ui.screens.history import HistoryScreen

        self.push_screen(HistoryScreen(), self._open_past)

    def _open_past(self, session_id: int | None) -> None:
        if session_id is None:
            return
        from psoas_sense.report import from_history
        from psoas_sense.ui.screens.summary import SummaryScreen

        self.push_screen(SummaryScreen(from_history(session_id), note=f"session {session_id}"))

    def action_quit_session(self) -> None:
        """``q``: end the session (asks; saved as a quit), or outside a session leave the app (asks)."""
        if isinstance(self.screen, (QuitScreen, LeaveScreen)):
            return
        if self.running:
            def answered(yes: bool | None) -> None:
                if yes and self.running:
                    self._asked = Command.QUIT
                    self._send(Command.QUIT)
            self.push_screen(QuitScreen(), answered)
            return

        def leave(yes: bool | None) -> None:
            if yes:
                self.leave()
        self.push_screen(LeaveScreen(), leave)

    def leave(self) -> None:
        """Leave the app at once (the session, if any, is cancelled and closed)."""
        self._commands.put_nowait(None)
        self.workers.cancel_group(self, "source")
        self.audio.close()
        self.exit(0)


def make_app(
    config: RunConfig | None,
    *,
    make_source: Callable[[], Source] | None = None,
    audio: CuePlayer | None = None,
    start_screen: Callable[[], Any] | None = None,
    start_options: StartOptions | None = None,
) -> PsoasApp:
    """The terminal UI for a run (None: start on the start screen, whose runs take ``start_options``):
    the CLI and tests build it here."""
    return PsoasApp(config, make_source=make_source, audio=audio, start_screen=start_screen,
                    start_options=start_options)
