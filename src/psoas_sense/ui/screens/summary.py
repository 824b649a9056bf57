"""The summary after every session (finished, quit or pain stop), and of a past one.

Per side and per hold: duration, breaths, breathing rate and the lag from exhale to cue; the
plain-language change lines (first hold against last, first minute against last, side against
side) and, with RR intervals, heart rate and RMSSD; a plot
of the breathing rate over the session with the holds marked (textual-plotext: Plotext drawn as
a Textual widget, so the plot lives in the terminal with the rest). It shows a report built by
:func:`psoas_sense.report.build_report`, the same figures as ``psoas-sense report``.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual_plotext import PlotextPlot

ENDINGS = {
    "done": "finished",
    "quit": "ended early (you asked)",
    "pain": "STOPPED on pain",
    "end_of_input": "ended: the recording ran out",
    "input_error": "ended: the recording has a bad line",
    "link_lost": "ended: the sensor was lost",
    "signal": "ended: stopped by the system",
    None: "interrupted",
}
"""How a session ended, in words."""


def _v(x: Any, fmt: str = "{:.1f}") -> str:
    return "—" if x is None else fmt.format(x) if isinstance(x, float) else str(x)


def _mmss(s: float | None) -> str:
    if s is None:
        return "—"
    n = max(0, int(round(s)))
    return f"{n // 60}:{n % 60:02d}"


class SummaryScreen(Screen[None]):
    """What a session did. ``q`` leaves; ``h`` opens the history.

    Args:
        report: the report object (``psoas-sense report --json``).
        note: a line under the title (e.g. "demo: not saved").
    """

    BINDINGS = [Binding("q", "app.quit", "Leave"), Binding("h", "app.history", "History")]
    DEFAULT_CSS = """
    #summary { padding: 0 1; }
    #summary-title { text-style: bold; margin-bottom: 1; }
    #summary-pain { color: #ffffff; background: #b71c1c; text-style: bold; padding: 0 1; }
    #summary-changes { margin: 1 0; }
    DataTable { height: auto; max-height: 12; margin-bottom: 1; }
    PlotextPlot { height: 12; min-height: 8; }
    """

    def __init__(self, report: dict[str, Any], *, note: str = "",
                 rates: list[tuple[float, float]] | None = None) -> None:
        super().__init__()
        self.report = report
        self.note = note
        self.rates = rates

    def compose(self) -> ComposeResult:
        r = self.report
        s = r["session"]
        tot = r["totals"]
        ended = ENDINGS.get(s.get("ended_by"), str(s.get("ended_by")))
        with VerticalScroll(id="summary"):
            yield Static(
                f"Session summary: {s.get('practised') or s.get('protocol') or 'detection'}, {ended}"
                + (f"   ({self.note})" if self.note else ""),
                id="summary-title",
            )
            if tot.get("pain_stops"):
                yield Static(
                    "You stopped on pain. Rest. If the pain was sharp or spread out (radiating), or does not "
                    "settle, see a doctor or physiotherapist before doing this again.",
                    id="summary-pain",
                )
            adh = f"   following the pacer {tot['adherence']:.0f}%" if tot.get("adherence") is not None else ""
            yield Static(
                f"time {_mmss(tot.get('duration_s'))}   breaths {tot.get('breaths')}   "
                f"rate {_v(tot.get('mean_rate_bpm'))}/min   holds {tot.get('holds')}{adh}"
            )
            if tot.get("hr_bpm") is not None:
                yield Static(f"heart {_v(tot['hr_bpm'])}/min   RMSSD {_v(tot.get('rmssd_ms'))} ms", id="summary-heart")
            if r.get("changes"):
                yield Static("\n".join(r["changes"]), id="summary-changes")
            yield DataTable(id="sides", cursor_type="none", zebra_stripes=True)
            yield DataTable(id="holds", cursor_type="none", zebra_stripes=True)
            yield PlotextPlot(id="plot")
        yield Footer()

    def on_mount(self) -> None:
        r = self.report
        sides = self.query_one("#sides", DataTable)
        sides.add_columns("side", "time", "holds", "breaths", "rate/min", "cue lag s", "ended")
        for sd in r["sides"]:
            sides.add_row(sd["side"], _mmss(sd["duration_s"]), sd["holds"], sd["breaths"],
                          _v(sd["mean_rate_bpm"]), _v(sd.get("mean_cue_latency_s"), "{:.2f}"), sd["ended_by"])
        sides.display = bool(r["sides"])
        holds = self.query_one("#holds", DataTable)
        holds.add_columns("#", "hold", "side", "time", "breaths", "rate/min", "cue lag s", "ended")
        for h in r["holds"]:
            holds.add_row(h["hold"], h["kind"], h["side"] or "—", _mmss(h["duration_s"]), h["breaths"],
                          _v(h["mean_rate_bpm"]), _v(h.get("mean_cue_latency_s"), "{:.2f}"), h["ended_by"])
        holds.display = bool(r["holds"])
        self._plot()

    def _plot(self) -> None:
        r = self.report
        rows = [b for h in r["holds"] for b in h["breath_rows"]] or r.get("breath_rows", [])
        pts = self.rates or [(b["exhale_t"], b["rate_bpm"]) for b in rows if b.get("rate_bpm") is not None]
        plot = self.query_one("#plot", PlotextPlot)
        plt = plot.plt
        plt.clear_figure()
        plt.title("breathing rate (breaths/min) over the session; holds shaded")
        if pts:
            xs = [p[0] for p in pts]
            ys = [p[1] for p in pts]
            plt.plot(xs, ys, marker="braille")
            lo, hi = min(ys), max(ys)
            for h in r["holds"]:
                plt.vertical_line(h["t_start"])
            plt.ylim(lo - 0.5, hi + 0.5)
        plt.xlabel("session time (s)")
        plot.refresh()
