"""The summary after every session (finished, quit or pain stop), and of a past one.

How it ended, in words; per side and per hold: time, breaths, breathing rate and how long after
the breath out the cue came; the plain-language change lines (first hold against last, first
minute against last, side against side) and, with RR intervals, heart rate and RMSSD; and a
chart of the breathing rate with the holds shaded (a texture, visible without colour), or the
words "too little data" instead of a plot of a dot or two. It shows the session's record
(:class:`psoas_sense.report.Report`, built by the one fold every report uses), the same figures as
``psoas-sense report``.

Escape (or ``b``) goes back: to the start screen after the session just run, to the history
from a past session. ``h`` opens the history; ``q`` leaves the app, and asks first.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from psoas_sense.report.record import Report
from psoas_sense.ui.chart import Chart, too_little
from psoas_sense.ui.keybar import KeyBar, KeyHint

ENDINGS = {
    "done": "finished",
    "quit": "ended early (you asked)",
    "pain": "STOPPED on pain",
    "end_of_input": "ended: the recording ran out",
    "duration": "ended: the time asked for ran out",
    "input_error": "ended: the recording has a bad line",
    "link_lost": "ended: the sensor was lost",
    "signal": "ended: stopped by the system",
    "interrupt": "ended: interrupted (Ctrl-C)",
    "output_closed": "ended: its output was closed",
    "failed": "could not run",
    None: "interrupted",
}
"""How a session ended, in words."""
PART_ENDINGS = {
    "time": "time up", "softened": "softened", "released": "released", "next": "skipped", "side_end": "side over",
    "pain": "pain stop", "quit": "you ended it", "end_of_input": "recording ran out", "link_lost": "sensor lost",
    "signal": "stopped", "duration": "time asked ran out", "input_error": "bad line",
}
"""How a hold or a side ended, in words."""
CUE_DELAY = "cue delay: how long after you began to breathe out the cue came (seconds)."
"""What the "cue delay" column means."""
CURRENT_KEYS: tuple[KeyHint, ...] = (("Esc", "back to the start", "start"), ("h", "past sessions", "history"),
                                     ("q", "leave (asks)", "leave"))
PAST_KEYS: tuple[KeyHint, ...] = (("Esc", "back to the list", "back"), ("q", "leave (asks)", "leave"))


def _v(x: Any, fmt: str = "{:.1f}") -> str:
    return "—" if x is None else fmt.format(x) if isinstance(x, float) else str(x)


def _mmss(s: float | None) -> str:
    if s is None:
        return "—"
    n = max(0, int(round(s)))
    return f"{n // 60}:{n % 60:02d}"


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> Table:
    table = Table(*headers, box=box.SIMPLE_HEAD, show_edge=False, expand=False, pad_edge=False,
                  header_style="bold", padding=(0, 1, 0, 0))
    for row in rows:
        table.add_row(*row)
    return table


class SummaryScreen(Screen[None]):
    """What a session did.

    Args:
        report: the session's record (what ``psoas-sense report`` shows).
        note: a line under the title (e.g. "demo: not saved").
        current: the summary of the session just run (back goes to the start screen), not a past one.
    """

    BINDINGS = [Binding("b", "back", "Back", show=False)]
    DEFAULT_CSS = """
    #summary { padding: 0 1; }
    #summary-title { text-style: bold; }
    #summary-pain { color: #ffffff; background: #b71c1c; text-style: bold; padding: 0 1; margin-top: 1; }
    #summary-totals { margin-top: 1; }
    #summary-changes { margin: 1 0; }
    #summary-note, #summary-legend { color: $text-muted; }
    .summary-table { height: auto; margin-top: 1; }
    #plot-title { text-style: bold; margin-top: 1; }
    Chart { height: 10; }
    """

    def __init__(self, report: Report, *, note: str = "", current: bool = False) -> None:
        super().__init__()
        self.report = report
        self.note = note
        self.current = current

    @property
    def ended_words(self) -> str:
        """How the session ended, in words."""
        ended = self.report.session.ended_by
        return ENDINGS.get(ended, str(ended).replace("_", " "))

    def compose(self) -> ComposeResult:
        r = self.report
        s = r.session
        tot = r.totals
        fig = tot.figures
        with VerticalScroll(id="summary"):
            yield Static(f"Session summary: {s.practised or s.protocol or 'breathing only'}, "
                         f"{self.ended_words}", id="summary-title")
            if self.note:
                yield Static(self.note, id="summary-note")
            if tot.pain_stops:
                yield Static(
                    "You stopped on pain. Rest. If the pain was sharp or spread out (radiating), or does not "
                    "settle, see a doctor or physiotherapist before doing this again.",
                    id="summary-pain",
                )
            adh = f"   following the pacer {tot.adherence_pct:.0f}%" if tot.adherence_pct is not None else ""
            yield Static(
                f"time {_mmss(tot.duration_s)}   breaths {tot.breaths}   "
                f"breathing {_v(tot.mean_rate_bpm)}/min   holds {tot.holds}{adh}", id="summary-totals"
            )
            if fig.hr_bpm is not None:
                yield Static(f"heart {_v(fig.hr_bpm)}/min   RMSSD {_v(fig.rmssd_ms)} ms", id="summary-heart")
            if r.changes:
                yield Static("\n".join(r.changes), id="summary-changes")
            if r.sides:
                yield Static(_table(("side", "time", "holds", "breaths", "per min", "cue delay", "ended"), [
                    (sd.side, _mmss(sd.duration_s), str(sd.holds), str(sd.breaths),
                     _v(sd.mean_rate_bpm), _v(sd.figures.mean_cue_latency_s, "{:.1f} s"),
                     PART_ENDINGS.get(sd.ended_by, str(sd.ended_by))) for sd in r.sides]),
                    id="sides", classes="summary-table")
            if r.holds:
                yield Static(_table(("#", "hold", "side", "time", "breaths", "per min", "cue delay", "ended"), [
                    (str(h.hold), h.kind, h.side or "—", _mmss(h.duration_s), str(h.breaths),
                     _v(h.mean_rate_bpm), _v(h.figures.mean_cue_latency_s, "{:.1f} s"),
                     PART_ENDINGS.get(h.ended_by, str(h.ended_by))) for h in r.holds]),
                    id="holds", classes="summary-table")
            if r.sides or r.holds:
                yield Static(CUE_DELAY, id="summary-legend")
            yield from self._plot()
        yield KeyBar(CURRENT_KEYS if self.current else PAST_KEYS, id="keys")

    def _plot(self) -> ComposeResult:
        pts = sorted(self.report.rate_points())
        why = too_little(pts)
        if why is not None:
            yield Static(why, id="plot-none")
            return
        holds = [(h.t_start_s, h.t_end_s) for h in self.report.holds]
        title = "Breathing rate (breaths/min) over the session" + ("; holds shaded ░" if holds else "")
        yield Static(title, id="plot-title")
        yield Chart(pts, shaded=holds, x_label=_mmss, min_span_y=1.0, id="plot")

    def action_back(self) -> None:
        """Back: to the start screen after the session just run; to the list from a past session."""
        if self.current:
            back = getattr(self.app, "back_to_start", None)
            if callable(back):
                back()
                return
        self.dismiss(None)
