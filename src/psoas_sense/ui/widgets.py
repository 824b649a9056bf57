"""Widgets of the session screen: the breathing trace, progress bars and the quality meter.

They draw what they are given (parts of the session view); none keeps session state.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from psoas_sense.events import BreathingTrace
from psoas_sense.ui.chart import BLOCKS


def bar(fraction: float | None, width: int) -> str:
    """A text progress bar ``████░░░░`` of ``width`` cells (empty when unknown)."""
    width = max(1, width)
    if fraction is None:
        return "░" * width
    full = int(round(min(1.0, max(0.0, fraction)) * width))
    return "█" * full + "░" * (width - full)


def meter(quality: float | None, cells: int = 5) -> str:
    """A small signal meter ``▮▮▮▯▯``."""
    if quality is None:
        return "▯" * cells
    n = int(round(min(1.0, max(0.0, quality)) * cells))
    return "▮" * n + "▯" * (cells - n)


def trace_columns(trace: BreathingTrace | None, width: int, t_end_s: float | None = None) -> list[float | None]:
    """The trace resampled to ``width`` columns, scaled 0-1 (None: no sample in that column)."""
    if trace is None or not trace.times_s or width <= 0:
        return [None] * max(0, width)
    t = trace.times_s
    y = trace.values
    t1 = t_end_s if t_end_s is not None else t[-1]
    t0 = t1 - (t[-1] - t[0])
    span = max(t1 - t0, 1e-9)
    cols: list[list[float]] = [[] for _ in range(width)]
    for ti, yi in zip(t, y):
        k = int((ti - t0) / span * (width - 1) + 0.5)
        if 0 <= k < width:
            cols[k].append(yi)
    means = [sum(c) / len(c) if c else None for c in cols]
    present = [m for m in means if m is not None]
    if not present:
        return [None] * width
    lo, hi = min(present), max(present)
    rng = hi - lo if hi > lo else 1.0
    return [None if m is None else (m - lo) / rng for m in means]


def block_rows(levels: list[float | None], rows: int) -> list[str]:
    """Levels 0-1 drawn as a filled curve ``rows`` high in eighth blocks (None: an empty column)."""
    out = []
    for r in range(rows):
        row_lo = (rows - 1 - r) / rows
        out.append("".join(
            " " if v is None else BLOCKS[int(min(1.0, max(0.0, (v - row_lo) * rows)) * 8)] for v in levels))
    return out


def spark_rows(values: tuple[float, ...] | list[float], width: int, rows: int, min_span: float) -> list[str]:
    """A multi-row sparkline of the newest ``width`` values, autoscaled to at least ``min_span``."""
    vals = list(values)[-width:]
    if not vals:
        return [" " * width for _ in range(rows)]
    lo, hi = min(vals), max(vals)
    if hi - lo < min_span:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span / 2, mid + min_span / 2
    return [line.rjust(width) for line in block_rows([(v - lo) / (hi - lo) for v in vals], rows)]


class BreathTrace(Widget):
    """The breathing signal the detector reads, a few breaths wide, with exhale (▼) and inhale (▲) marks.

    Higher is more air in. The newest sample is at the right edge.
    """

    DEFAULT_CSS = """
    BreathTrace {
        height: 4;
        width: 1fr;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own name
        super().__init__(id=id)
        self._trace: BreathingTrace | None = None
        self._phases: tuple[tuple[float, str], ...] = ()
        self._no_data = ""

    def show(self, trace: BreathingTrace | None, phases: tuple[tuple[float, str], ...], no_data: str = "") -> None:
        """Draw this trace and these phase marks, or ``no_data`` (a reason) in place of both."""
        if trace is self._trace and phases == self._phases and no_data == self._no_data:
            return
        self._trace = trace
        self._phases = phases
        self._no_data = no_data
        self.refresh()

    def render(self) -> Text:
        width = max(1, self.size.width)
        rows = max(2, self.size.height) - 1  # the last row carries the marks
        if self._no_data:
            middle = rows // 2
            lines = [self._no_data.center(width)[:width] if r == middle else "╌" * width if r == rows else ""
                     for r in range(rows + 1)]
            return Text("\n".join(lines), style="bold")
        lines = block_rows(trace_columns(self._trace, width), rows)
        marks = [" "] * width
        tr = self._trace
        if tr is not None and tr.times_s:
            t1 = tr.times_s[-1]
            t0 = tr.times_s[0]
            span = max(t1 - t0, 1e-9)
            for t, kind in self._phases:
                k = int((t - t0) / span * (width - 1) + 0.5)
                if 0 <= k < width:
                    marks[k] = "▼" if kind == "exhale" else "▲"
        text = Text("\n".join(lines), style="bold")
        text.append("\n" + "".join(marks), style="bold")
        return text
