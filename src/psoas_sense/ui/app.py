"""The Textual front end: one screen for someone lying down with their eyes mostly closed.

It shows what the headless mode prints, big and calm: the breathing phase, the coach's cue,
the hold timer, the side and its time, the source's state, breathing rate and quality. Sounds
mark every cue (see :mod:`psoas_sense.ui.audio`). Keys: space = the spot softened, n = next,
p = PAIN (stops everything at once), m = mute, q = quit.

No signal logic lives here: a worker runs :func:`psoas_sense.runner.run_session`, the same
loop as headless mode, and every output line arrives as a :class:`LineEmitted` message.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Digits, Footer, Header, Label, RichLog, Sparkline, Static

from psoas_sense.runner import run_session
from psoas_sense.sources.base import Source
from psoas_sense.ui.audio import CuePlayer
from psoas_sense.ui.messages import DataTimeAdvanced, LineEmitted, SessionEnded
from psoas_sense.ui.screens import PainScreen, SafetyAnswer, SafetyScreen

PHASE_TEXT = {"inhale": "breathe in", "exhale": "breathe out", "": "…"}
LOG_EVENTS = {"stage", "hold_start", "hold_end", "side_start", "side_end", "status", "pain_stop", "session_end", "error"}


def _mmss(seconds: float) -> str:
    s = max(0, int(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


class PsoasApp(App[int]):
    """The psoas-sense terminal UI."""

    CSS_PATH = "app.tcss"
    TITLE = "psoas-sense"
    BINDINGS = [
        Binding("space", "soften", "Softened"),
        Binding("n", "next", "Next"),
        Binding("p", "pain", "PAIN: stop now", priority=True),
        Binding("m", "mute", "Mute"),
        Binding("q", "quit_session", "Quit"),
    ]

    phase: reactive[str] = reactive("")
    """``inhale`` or ``exhale``: the phase the detector last found."""
    cue: reactive[str] = reactive("Waiting for your breathing…")
    """The coach's latest cue text."""
    stage_text: reactive[str] = reactive("")
    """What to do now (the current stage of the practice)."""
    source_state: reactive[str] = reactive("starting")
    """The source's link or stream state."""
    data_t: reactive[float] = reactive(0.0)
    """Newest data time seen, seconds."""

    def __init__(
        self,
        make_source: Callable[[], Source],
        *,
        make_coach: Callable[[SafetyAnswer | None], Any] | None = None,
        needs_safety: bool = False,
        audio: CuePlayer | None = None,
        signal: str = "auto",
        record_path: str | None = None,
        subtitle: str = "",
    ) -> None:
        super().__init__()
        self._make_source = make_source
        self._make_coach = make_coach
        self._needs_safety = needs_safety
        self.audio = audio or CuePlayer(bell=self.bell)
        self._signal = signal
        self._record_path = record_path
        self.sub_title = subtitle
        self._commands: asyncio.Queue[str | None] = asyncio.Queue()
        self._coached = False
        self.lines: list[dict[str, Any]] = []
        """Every output line of the session, in order (what headless mode would print)."""
        self._hold_start: float | None = None
        self._hold_kind = ""
        self._side: str | None = None
        self._side_start: float | None = None
        self._side_limit_s: float | None = None
        self._rates: deque[float] = deque(maxlen=60)
        self.result: Any = None

    # ------------------------------------------------------------------ layout
    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        with Vertical(id="main"):
            yield Static("", id="status")
            yield Static("", id="stage")
            yield Label("…", id="phase")
            yield Static("", id="cue")
            with Horizontal(id="timers"):
                with Vertical(classes="timer"):
                    yield Label("hold", id="hold-label")
                    yield Digits("--:--", id="hold")
                with Vertical(classes="timer"):
                    yield Label("side", id="side-label")
                    yield Digits("--:--", id="side")
            yield Label("breathing rate, breaths/min", id="rate-label")
            yield Sparkline(list(self._rates), id="rates")
            yield RichLog(id="log", max_lines=200, wrap=True, markup=False)
        yield Footer()

    def on_mount(self) -> None:
        if self._needs_safety:
            self.push_screen(SafetyScreen(), self._safety_answered)
        else:
            self._begin(None)

    def _safety_answered(self, answer: SafetyAnswer | None) -> None:
        self._begin(answer if answer is not None else SafetyAnswer(breathing_only=True))

    def _begin(self, answer: SafetyAnswer | None) -> None:
        coach = self._make_coach(answer) if self._make_coach is not None else None
        self._coached = coach is not None
        self.run_session_worker(coach)

    # ------------------------------------------------------------------ worker
    async def _command_lines(self) -> AsyncIterator[str]:
        while True:
            cmd = await self._commands.get()
            if cmd is None:
                return
            yield cmd

    @work(exclusive=True, group="source")
    async def run_session_worker(self, coach: Any) -> None:
        source = self._make_source()
        self.source_state = "running"
        try:
            self.result = await run_session(
                source,
                signal=self._signal,
                emit=lambda line: self.post_message(LineEmitted(line)),
                record_path=self._record_path,
                coach=coach,
                commands=self._command_lines() if coach is not None else None,
                progress=lambda t: self.post_message(DataTimeAdvanced(t)),
            )
        finally:
            self.post_message(SessionEnded())

    # ------------------------------------------------------------------ messages
    @on(LineEmitted)
    def _on_line(self, message: LineEmitted) -> None:
        line = message.line
        self.lines.append(line)
        self.audio.on_line(line, coached=self._coached)
        ev = line.get("event")
        t = float(line.get("t", self.data_t) or 0.0)
        if ev in ("exhale", "inhale"):
            self.phase = str(ev)
            rate = line.get("rate_bpm")
            if isinstance(rate, (int, float)):
                self._rates.append(float(rate))
                self.query_one("#rates", Sparkline).data = list(self._rates)
            if not self._coached:
                self.cue = "Breathe out, let go." if ev == "exhale" else "Breathe in, slowly."
        elif ev == "cue":
            self.cue = str(line.get("text", ""))
        elif ev == "stage":
            self.stage_text = str(line.get("text", line.get("stage", "")))
        elif ev == "hold_start":
            self._hold_start = t
            self._hold_kind = str(line.get("kind", ""))
        elif ev == "hold_end":
            self._hold_start = None
        elif ev == "side_start":
            self._side = str(line.get("side", ""))
            self._side_start = t
            limit = line.get("limit_s") or line.get("target_s")
            self._side_limit_s = float(limit) if isinstance(limit, (int, float)) else None
        elif ev == "side_end":
            self._side_start = None
        elif ev == "status":
            self.source_state = str(line.get("state", ""))
        elif ev == "pain_stop":
            self.push_screen(PainScreen(str(line.get("text", ""))))
        if ev in LOG_EVENTS:
            self._log(line)
        self._refresh_timers()

    @on(DataTimeAdvanced)
    def _on_time(self, message: DataTimeAdvanced) -> None:
        new_second = int(message.t_s) != int(self.data_t)
        self.data_t = message.t_s
        if new_second:  # timers and the status line show whole seconds
            self._refresh_timers()
            self._update_status()

    @on(SessionEnded)
    def _on_end(self) -> None:
        self.source_state = "ended"
        self.cue = "Session over. Rest and breathe. (q to leave)"

    # ------------------------------------------------------------------ rendering
    def _log(self, line: dict[str, Any]) -> None:
        ev = line.get("event")
        t = _mmss(float(line.get("t", 0.0) or 0.0))
        if ev == "status":
            text = f"{t}  link: {line.get('state')} {line.get('detail', '')}".rstrip()
        elif ev == "stage":
            text = f"{t}  {line.get('stage', '')}: {line.get('text', '')}"
        elif ev == "hold_end":
            text = f"{t}  hold ended ({line.get('kind', '')}, {line.get('side', '')}), {line.get('duration_s', '?')} s"
        elif ev == "session_end":
            text = f"{t}  session over"
        else:
            detail = ", ".join(f"{k}={v}" for k, v in line.items() if k not in ("event", "t", "text", "summary"))
            text = f"{t}  {str(ev).replace('_', ' ')} {detail}".rstrip()
        self.query_one("#log", RichLog).write(text)

    def _refresh_timers(self) -> None:
        hold = self.query_one("#hold", Digits)
        side = self.query_one("#side", Digits)
        if self._hold_start is not None:
            hold.update(_mmss(self.data_t - self._hold_start))
            self.query_one("#hold-label", Label).update(f"{self._hold_kind} hold")
        else:
            hold.update("--:--")
            self.query_one("#hold-label", Label).update("hold")
        if self._side_start is not None:
            side.update(_mmss(self.data_t - self._side_start))
            limit = f" of {_mmss(self._side_limit_s)}" if self._side_limit_s else ""
            self.query_one("#side-label", Label).update(f"{self._side} side{limit}")
        else:
            side.update("--:--")

    def watch_phase(self, phase: str) -> None:
        label = self.query_one("#phase", Label)
        label.update(PHASE_TEXT.get(phase, phase).upper())
        label.set_class(phase == "exhale", "exhale")
        label.set_class(phase == "inhale", "inhale")

    def watch_cue(self, cue: str) -> None:
        self.query_one("#cue", Static).update(cue)

    def watch_stage_text(self, text: str) -> None:
        self.query_one("#stage", Static).update(text)

    def watch_source_state(self, state: str) -> None:
        self._update_status()

    def _update_status(self) -> None:
        rate = self._rates[-1] if self._rates else None
        rate_text = f"{rate:.1f} breaths/min" if rate else "rate —"
        sound = "sound on" if self.audio.enabled else "muted"
        self.query_one("#status", Static).update(
            f"{self.source_state}  ·  {_mmss(self.data_t)}  ·  {rate_text}  ·  {sound}"
        )

    # ------------------------------------------------------------------ actions
    def _send(self, name: str) -> None:
        self._commands.put_nowait(name)

    def action_soften(self) -> None:
        self._send("soften")

    def action_next(self) -> None:
        self._send("next")

    def action_pain(self) -> None:
        if self._coached:
            self._send("pain")
        else:
            self.workers.cancel_group(self, "source")
            self.push_screen(PainScreen(""))

    def action_mute(self) -> None:
        self.audio.enabled = not self.audio.enabled
        self._update_status()

    def action_quit_session(self) -> None:
        if self._coached and self.source_state != "ended":
            self._send("quit")
        self.workers.cancel_group(self, "source")
        self.audio.close()
        self.exit(0)
