"""The session screen: what to do now, very large; the breathing; the hold and the side.

Everything on it comes from the session view (:mod:`psoas_sense.view`), handed in by the app
through :meth:`SessionScreen.show`. The instruction band always shows the coach's (or the
pacer's) latest word; the detected phase is shown apart ("you: breathing out"), so the two can
never be mistaken for each other.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, RichLog, Static

from psoas_sense.ui.theme import BAND_TEXT, BANDS, band_for
from psoas_sense.ui.widgets import BreathTrace, bar, meter, spark_rows
from psoas_sense.view import SessionView

RATE_SPAN_BPM = 0.5
"""The rate trace is autoscaled, but never to less than this range (small wobbles stay small)."""


def mmss(seconds: float | None) -> str:
    """``MM:SS``, or ``--:--`` for nothing."""
    if seconds is None:
        return "--:--"
    s = max(0, int(seconds))
    return f"{s // 60:02d}:{s % 60:02d}"


def _line(text: str) -> Text:
    """Text drawn as given: cropped at the edge, never wrapped at a space (bars and traces)."""
    return Text(text, no_wrap=True, overflow="crop")


class SessionScreen(Screen[None]):
    """The screen of a running session."""

    DEFAULT_CSS = """
    SessionScreen { layout: vertical; }
    #status { height: 1; padding: 0 1; }
    #band { height: auto; min-height: 3; width: 1fr; content-align: center middle; text-align: center;
            text-style: bold; padding: 1 2; }
    #you { height: 1; padding: 0 1; }
    #trace { height: 4; margin: 0 1; }
    #hold, #side, #pacer { height: 1; padding: 0 1; }
    #rates { height: 2; margin: 0 1; }
    #sides-done { height: 1; padding: 0 1; }
    #log { height: 1fr; min-height: 0; border: round $panel; scrollbar-gutter: stable; }
    SessionScreen.-tall #trace { height: 10; }
    SessionScreen.-tall #band { min-height: 7; }
    SessionScreen.-tall #rates { height: 3; }
    SessionScreen.-huge #trace { height: 18; }
    SessionScreen.-huge #band { min-height: 9; }
    SessionScreen.-huge #rates { height: 4; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="session"):
            yield Static("", id="status")
            yield Static("", id="band")
            yield Static("", id="you")
            yield BreathTrace(id="trace")
            yield Static("", id="pacer")
            yield Static("", id="hold")
            yield Static("", id="side")
            yield Static("", id="sides-done")
            yield Static("", id="rates")
            yield RichLog(id="log", max_lines=200, wrap=True, markup=False, min_width=20)  # wrap to the width shown
        yield Footer()

    def __init__(self) -> None:
        super().__init__()
        self._ready = False
        self._pending: tuple[SessionView, bool] | None = None
        self._log: list[str] = []

    def on_show(self) -> None:
        self._ready = True
        for line in self._log:
            self.query_one("#log", RichLog).write(line, expand=True)  # wrap to the width shown
        self._log = []
        if self._pending is not None:
            self.show(self._pending[0], sound_on=self._pending[1])

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """The room goes to what matters from the floor: the band and the trace, not the log."""
        self.set_class(self.size.height >= 36, "-tall")
        self.set_class(self.size.height >= 50, "-huge")

    def write_log(self, text: str) -> None:
        """Add a line to the session log (stage changes, holds, link state)."""
        if not self._ready:
            self._log.append(text)
            return
        self.query_one("#log", RichLog).write(text, expand=True)

    def show(self, v: SessionView, *, sound_on: bool) -> None:
        """Draw the view."""
        self._pending = (v, sound_on)
        if not self._ready:
            return
        try:
            self._draw(v, sound_on)
        except NoMatches:  # not composed yet: drawn when shown
            self._ready = False

    def _draw(self, v: SessionView, sound_on: bool) -> None:
        self._fit()
        width = max(20, self.size.width - 2)
        self.query_one("#status", Static).update(
            f"{v.source_words}  ·  {mmss(v.t_s)}  ·  {'sound on' if sound_on else 'muted'}  ·  ? help"
        )
        band = self.query_one("#band", Static)
        band.update(Text(v.instruction.upper() if len(v.instruction) <= 40 else v.instruction))
        band.styles.background = BANDS[band_for(v.instruction_kind)]
        band.styles.color = BAND_TEXT
        rate = f"{v.rate_bpm:.1f}/min" if v.rate_bpm else "—"
        hr = f"{v.hr_bpm:.0f} bpm" if v.hr_bpm else "—"
        you = f"you: {v.phase_words}" if v.phase_words else "you: …"
        self.query_one("#you", Static).update(
            f"{you}   breathing {rate}   heart {hr}   signal {meter(v.quality)} {v.quality_words}"
        )
        self.query_one("#trace", BreathTrace).show(v.trace, v.recent_phases)
        self._show_pacer(v, width)
        self._show_hold(v, width)
        self._show_side(v, width)
        # the rate over recent breaths, autoscaled: a change of RATE_SPAN_BPM fills it
        label = "rate "
        rates = self.query_one("#rates", Static)
        n_rows = max(2, rates.size.height or 2)
        rows = spark_rows(v.rate_history, max(8, width - len(label)), n_rows, RATE_SPAN_BPM)
        rates.update(_line("\n".join((label if i == 0 else " " * len(label)) + r for i, r in enumerate(rows))))

    def _show_pacer(self, v: SessionView, width: int) -> None:
        pacer = self.query_one("#pacer", Static)
        frac = v.pace_fraction
        if frac is None:
            pacer.display = False
            return
        pacer.display = True
        fill = frac if v.pace_kind == "inhale" else 1.0 - frac if v.pace_kind == "exhale" else (
            1.0 if v.pace_kind == "hold_in" else 0.0)
        words = {"inhale": "in ", "exhale": "out", "hold_in": "hold", "hold_out": "rest"}.get(v.pace_kind, "")
        adh = f"  following {v.adherence_pct:.0f}%" if v.adherence_pct is not None else ""
        pacer.update(_line(f"pacer {words:<4} {bar(fill, max(10, width - 30))}{adh}"))

    def _show_hold(self, v: SessionView, width: int) -> None:
        hold = self.query_one("#hold", Static)
        if v.hold_kind is None:
            hold.update("hold  --:--")
            return
        target = v.hold_target_s
        frac = None if not target else (v.hold_elapsed_s or 0.0) / target
        expected = v.expected_hold_exhales
        about = f" of about {expected}" if expected else ""
        cue = "sink deeper" if v.hold_kind in ("static", "tool") else "release"
        head = f"{v.hold_kind} hold {mmss(v.hold_elapsed_s)}" + (f"/{mmss(target)}" if target else "")
        live = []
        if v.hold_rate_bpm is not None:
            live.append(f"{v.hold_rate_bpm:.1f}/min")
        if v.hold_rmssd_ms is not None:
            live.append(f"HRV {v.hold_rmssd_ms:.0f} ms")
        tail = f"  {cue}: {v.hold_breaths}{about} exhales" + (f"  ({', '.join(live)})" if live else "")
        if len(head) + len(tail) + 12 > width:  # a narrow terminal: the same, shorter
            tail = f"  {cue} {v.hold_breaths}" + (f"/~{expected}" if expected else "") + (
                f" · {' · '.join(live)}" if live else "")
        hold.update(_line(f"{head} {bar(frac, max(8, width - len(head) - len(tail) - 2))}{tail}"))

    def _show_side(self, v: SessionView, width: int) -> None:
        side = self.query_one("#side", Static)
        done = self.query_one("#sides-done", Static)
        done.update("   ".join(
            f"{s.side} done: {mmss(s.duration_s)}, {s.holds} holds, {s.breaths} breaths" for s in v.sides_done
        ))
        if v.side is None:
            side.update("side  --:--")
            return
        target = v.side_target_s
        frac = None if not target else (v.side_elapsed_s or 0.0) / target
        head = f"{v.side} side {mmss(v.side_elapsed_s)}" + (f"/{mmss(target)}" if target else "")
        side.update(_line(f"{head} {bar(frac, max(8, width - len(head) - 2))}"))
