"""The session screen: who leads and what to do now, very large; the breathing; the hold and the side.

Everything on it comes from the session view (:mod:`psoas_sense.view`), handed in by the app
through :meth:`SessionScreen.show`. The band (:mod:`psoas_sense.band`) takes at least a third
of the height: who leads (the breath or a clock) in words, with a shape and a border that need
no colour; the instruction in large type; the full sentence. The detected breathing is said
apart ("you: breathing out"), and when the sensor is down the band, the meter, the trace and
the "you:" line all say so. The log of stages and link changes comes last and is the first
thing to give up its room.
"""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import RichLog, Static

from psoas_sense.band import band_of
from psoas_sense.ui.bandview import BandWidget
from psoas_sense.ui.ending import mmss
from psoas_sense.ui.keybar import KeyBar, KeyHint, fit_parts
from psoas_sense.ui.widgets import BreathTrace, bar, meter, spark_rows
from psoas_sense.view import SessionView
from psoas_sense.vocab import HoldKind, PacePhase

PACE_WORDS: dict[PacePhase, str] = {"inhale": "in ", "exhale": "out", "hold_in": "pause", "hold_out": "rest"}
"""The pacer's phase, in a word, on the pacer line."""
RATE_SPAN_BPM = 0.5
"""The rate trace is autoscaled, but never to less than this range (small wobbles stay small)."""
SESSION_KEYS: tuple[KeyHint, ...] = (
    ("p/Esc", "PAIN: stop now", "PAIN"),
    ("space", "softened", "softened"),
    ("n", "next", "next"),
    ("?", "help", "help"),
    ("q", "end", "end"),
    ("m", "mute", "mute"),
)
"""The session's keys, most needed first (a narrow terminal drops from the end, never the pain stop)."""
BAND_MAX = (11, 17)
"""The band's height below and from 36 rows (it is never under a third of the screen)."""


def _line(text: str, style: str = "") -> Text:
    """Text drawn as given: cropped at the edge, never wrapped at a space (bars and traces)."""
    return Text(text, style=style, no_wrap=True, overflow="crop")


def layout(height: int, pacer: bool) -> dict[str, int]:
    """Rows for each part of the screen at this height: the band first (a third or more), the
    log last (nothing under 24 rows)."""
    trace = 3 if height < 24 else min(8, 4 + (height - 24) // 3)
    rates = 3 if height >= 36 else 0
    fixed = 1 + 1 + trace + 1 + 1 + int(pacer) + 1 + 1 + rates  # status you trace hold side pacer notes keys
    room = max(0, height - fixed)
    band = max(math.ceil(height / 3), min(room, BAND_MAX[height >= 36]))
    log = max(0, room - band) if height >= 24 else 0
    return {"trace": trace, "rates": rates, "band": band, "log": log}


class SessionScreen(Screen[None]):
    """The screen of a running session."""

    DEFAULT_CSS = """
    SessionScreen { layout: vertical; }
    #status { height: 1; padding: 0 1; }
    #you { height: 1; padding: 0 1; }
    #trace { height: 4; margin: 0 1; }
    #hold, #side, #pacer { height: 1; padding: 0 1; }
    #rates { height: 0; margin: 0 1; }
    #notes { height: 1; padding: 0 1; color: $text-muted; }
    #log { height: 1fr; min-height: 0; border-top: solid $panel-lighten-2; padding: 0 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        with Vertical(id="session"):
            yield Static("", id="status")
            yield BandWidget(id="band")
            yield Static("", id="you")
            yield BreathTrace(id="trace")
            pacer = Static("", id="pacer")
            pacer.display = False
            yield pacer
            yield Static("", id="hold")
            yield Static("", id="side")
            yield Static("", id="rates")
            yield Static("", id="notes")
            yield RichLog(id="log", max_lines=200, wrap=True, markup=False, min_width=20)  # wrap to the width shown
        yield KeyBar(SESSION_KEYS, id="keys")

    def __init__(self) -> None:
        super().__init__()
        self._ready = False
        self._pending: tuple[SessionView, bool, str] | None = None
        self._log: list[str] = []
        self._pacer_shown = False

    def on_show(self) -> None:
        self._ready = True
        for line in self._log:
            self.query_one("#log", RichLog).write(line, expand=True)  # wrap to the width shown
        self._log = []
        self._fit()
        if self._pending is not None:
            self.show(*self._pending)

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """The room goes to what matters from the floor: the band first, the log last."""
        rows = layout(self.size.height, self._pacer_shown)
        self.query_one("#band", BandWidget).styles.height = rows["band"]
        self.query_one("#trace", BreathTrace).styles.height = rows["trace"]
        rates = self.query_one("#rates", Static)
        rates.styles.height = rows["rates"]
        rates.display = rows["rates"] > 0
        log = self.query_one("#log", RichLog)
        log.display = rows["log"] >= 2
        log.styles.height = rows["log"]

    def write_log(self, text: str) -> None:
        """Add a line to the session log (stage changes, holds, link state)."""
        if self._ready:
            try:
                self.query_one("#log", RichLog).write(text, expand=True)
                return
            except NoMatches:  # not composed yet, or taken down as the app closes: kept for on_show
                self._ready = False
        self._log.append(text)

    def show(self, v: SessionView, sound_on: bool, notes: str = "") -> None:
        """Draw the view; ``notes`` is a quiet line (a missing sound player, a survived error)."""
        self._pending = (v, sound_on, notes)
        if not self._ready:
            return
        try:
            self._draw(v, sound_on, notes)
        except NoMatches:  # not composed yet: drawn when shown
            self._ready = False

    def _draw(self, v: SessionView, sound_on: bool, notes: str) -> None:
        width = max(20, self.size.width - 2)
        self.query_one("#status", Static).update(_line(fit_parts(
            [v.source_words, mmss(v.t_s), "sound on" if sound_on else "muted", "? help"], width, "  ·  ")))
        self.query_one("#band", BandWidget).show(band_of(v))
        self._show_you(v, width)
        down = "no data: the sensor is down" if v.sensor_down else ""
        self.query_one("#trace", BreathTrace).show(v.trace, v.recent_phases, down)
        self._show_pacer(v, width)
        self._show_hold(v, width)
        self._show_side(v, width)
        problems = list(v.problems)
        said = problems[-1] + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "") if problems else ""
        self.query_one("#notes", Static).update(_line(fit_parts([p for p in (said, notes) if p], width, "  ·  ")))
        rates = self.query_one("#rates", Static)
        if rates.display:
            label = "rate "
            rows = spark_rows(v.rate_history, max(8, width - len(label)), max(2, rates.size.height or 3),
                              RATE_SPAN_BPM)
            rates.update(_line("\n".join((label if i == 0 else " " * len(label)) + r for i, r in enumerate(rows))))

    def _show_you(self, v: SessionView, width: int) -> None:
        you = f"you: {v.you_words or '…'}"
        signal = f"signal {meter(v.shown_quality)} {v.quality_words}"
        rate = f"{v.rate_bpm:.1f}/min" if v.rate_bpm and not v.sensor_down else "—"
        hr = f"{v.hr_bpm:.0f} bpm" if v.hr_bpm and not v.sensor_down else "—"
        heart, short = f"heart {hr}", f"♥ {hr}"
        if v.has_device_rate and not v.hr_bpm:
            # a belt's own breathing rate beside ours, in place of the heart rate a belt does not measure
            belt = f"{v.device_rate_bpm:.1f}/min" if v.device_rate_bpm and not v.sensor_down else "—"
            heart = short = f"belt {belt}"
        for parts in ([you, f"breathing {rate}", heart, signal], [you, rate, short, signal],
                      [you, rate, signal], [you, signal]):
            text = "   ".join(parts)
            if len(text) <= width:
                break
        self.query_one("#you", Static).update(_line(text))

    def _show_pacer(self, v: SessionView, width: int) -> None:
        pacer = self.query_one("#pacer", Static)
        frac = v.pace_fraction
        heart = v.following_words  # an RR strap: how the heart follows the pacer
        shown = frac is not None or bool(heart)
        if shown != self._pacer_shown:
            self._pacer_shown = shown
            pacer.display = shown
            self._fit()
        if frac is None:
            if heart:
                pacer.update(_line(heart))
            return
        fill = frac if v.pace_kind == "inhale" else 1.0 - frac if v.pace_kind == "exhale" else (
            1.0 if v.pace_kind == "hold_in" else 0.0)
        words = PACE_WORDS[v.pace_kind] if v.pace_kind is not None else ""
        adh = f"  following {v.adherence_pct:.0f}%" if v.adherence_pct is not None else ""
        if v.following is not None:
            adh += f"  heart {100 * v.following.locked:.0f}%"
        pacer.update(_line(f"pacer {words:<5} {bar(fill, max(10, width - 30))}{adh}"))

    def _show_hold(self, v: SessionView, width: int) -> None:
        hold = self.query_one("#hold", Static)
        if v.hold_kind is None:
            hold.update("hold  --:--")
            return
        target = v.hold_target_s
        frac = None if not target else (v.hold_elapsed_s or 0.0) / target
        expected = v.expected_hold_exhales
        about = f" of about {expected}" if expected else ""
        cue = "release" if v.hold_kind is HoldKind.ACTIVE else "sink deeper"
        head = f"{v.hold_kind} hold {mmss(v.hold_elapsed_s)}" + (f"/{mmss(target)}" if target else "")
        if v.sensor_down:  # the coach says whether the hold keeps its time through a drop
            head += " no signal: ends on time" if v.hold_clock_runs else " paused: no signal"
        live = []
        if v.hold_rate_bpm is not None:
            live.append(f"{v.hold_rate_bpm:.1f}/min")
        if v.hold_rmssd_ms is not None:
            live.append(f"HRV {v.hold_rmssd_ms:.0f} ms")
        tail = f"  {cue}: {v.hold_breaths}{about} exhales" + (f"  ({', '.join(live)})" if live else "")
        if len(head) + len(tail) + 12 > width:  # a narrow terminal: the same, shorter
            tail = f"  {cue} {v.hold_breaths}" + (f"/~{expected}" if expected else "")
        hold.update(_line(f"{head} {bar(frac, max(8, width - len(head) - len(tail) - 2))}{tail}"))

    def _show_side(self, v: SessionView, width: int) -> None:
        side = self.query_one("#side", Static)
        done = "   ".join(f"{s.side} done {mmss(s.duration_s)}, {s.holds} holds" for s in v.sides_done)
        if v.side is None:
            side.update(_line(f"side  --:--   {done}".rstrip()))
            return
        target = v.side_target_s
        frac = None if not target else (v.side_elapsed_s or 0.0) / target
        head = f"{v.side} side {mmss(v.side_elapsed_s)}" + (f"/{mmss(target)}" if target else "")
        tail = f"   {done}" if done and len(head) + len(done) + 20 <= width else ""
        side.update(_line(f"{head} {bar(frac, max(8, width - len(head) - len(tail) - 2))}{tail}"))
