"""A small chart drawn with block characters: a value over time, with spans shaded.

Used for the breathing rate on the summary (holds shaded) and the day-by-day trend on the
history. The shading is a texture (``░``), not a colour, so it shows in monochrome too. The
chart refuses to draw from too little data and says so instead (:func:`too_little`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"
"""Eighth blocks, empty to full."""
SHADE = "░"
"""The texture of a shaded span."""
MIN_POINTS = 4
"""Fewer points than this make no plot."""
MIN_SPAN_S = 60.0
"""A session plot needs at least this much time between its first and last point."""


def too_little(points: Sequence[tuple[float, float]], *, min_points: int = MIN_POINTS,
               min_span: float = MIN_SPAN_S, what: str = "breaths") -> str | None:
    """Why ``points`` are too few to plot, in words, or None when they are enough."""
    n = len(points)
    span = points[-1][0] - points[0][0] if n else 0.0
    if n >= min_points and span >= min_span:
        return None
    return (f"Too little data for a plot: {n} {what if n != 1 else what.rstrip('s')}"
            + (f" over {span:.0f} s" if n > 1 and min_span > 1 else "")
            + f" (a plot needs {min_points} or more" + (f" over {min_span:.0f} s or more)." if min_span > 1 else ")."))


def chart_rows(points: Sequence[tuple[float, float]], width: int, height: int,
               shaded: Sequence[tuple[float, float]] = (), min_span_y: float = 1.0,
               x_range: tuple[float, float] | None = None) -> tuple[list[Text], float, float]:
    """The plot area: ``height`` rows of ``width`` columns, the value as a filled curve in eighth
    blocks, shaded spans as :data:`SHADE` above it. Returns the rows and the value at the bottom
    and the top."""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = x_range if x_range is not None else (min(xs), max(xs))
    span = max(x1 - x0, 1e-9)
    lo, hi = min(ys), max(ys)
    if hi - lo < min_span_y:
        mid = (hi + lo) / 2
        lo, hi = mid - min_span_y / 2, mid + min_span_y / 2
    pad = (hi - lo) * 0.1
    lo, hi = lo - pad, hi + pad
    cols: list[list[float]] = [[] for _ in range(width)]
    for x, y in points:
        k = int((x - x0) / span * (width - 1) + 0.5)
        if 0 <= k < width:
            cols[k].append(y)
    level: list[float | None] = [sum(c) / len(c) if c else None for c in cols]
    known = [i for i, v in enumerate(level) if v is not None]
    for i in range(width):  # join the points: a column between two is drawn between them
        if level[i] is None and known and known[0] < i < known[-1]:
            a = max(j for j in known if j < i)
            b = min(j for j in known if j > i)
            va, vb = level[a], level[b]
            assert va is not None and vb is not None
            level[i] = va + (vb - va) * (i - a) / (b - a)
    shade = [any(s0 <= x0 + span * i / max(1, width - 1) <= s1 for s0, s1 in shaded) for i in range(width)]
    rows: list[Text] = []
    for r in range(height):
        row_lo = (height - 1 - r) / height
        text = Text(no_wrap=True, overflow="crop")
        for i in range(width):
            v = level[i]
            frac = 0.0 if v is None else ((v - lo) / (hi - lo) - row_lo) * height
            cell = BLOCKS[int(min(1.0, max(0.0, frac)) * 8)]
            if cell == " " and shade[i]:
                text.append(SHADE, style="dim")
            else:
                text.append(cell, style="bold")
        rows.append(text)
    return rows, lo, hi


class Chart(Widget):
    """A value over time with shaded spans, a value scale on the left and a time scale below.

    Args:
        points: (x, value) pairs, x ascending.
        shaded: (x start, x end) spans to shade.
        x_label: the words of an x value for the scale (e.g. minutes and seconds).
        unit: the value's unit, after the top and bottom values.
    """

    DEFAULT_CSS = """
    Chart { height: 10; width: 1fr; }
    """

    def __init__(self, points: Sequence[tuple[float, float]], *, shaded: Sequence[tuple[float, float]] = (),
                 x_label: Callable[[float], str] = lambda x: f"{x:.0f}", unit: str = "",
                 min_span_y: float = 1.0, id: str | None = None,  # noqa: A002 - Textual's own name
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.points = list(points)
        self.shaded = list(shaded)
        self.x_label = x_label
        self.unit = unit
        self.min_span_y = min_span_y

    def render(self) -> Text:
        if not self.points:
            return Text("")
        width, height = self.size.width, self.size.height
        scale_w = 7 + len(self.unit)
        plot_w = max(4, width - scale_w)
        plot_h = max(2, height - 1)
        x0, x1 = self.points[0][0], self.points[-1][0]
        rows, lo, hi = chart_rows(self.points, plot_w, plot_h, self.shaded, self.min_span_y, (x0, x1))
        out = Text(no_wrap=True, overflow="crop")
        for r, row in enumerate(rows):
            label = f"{hi:5.1f}{self.unit}" if r == 0 else f"{lo:5.1f}{self.unit}" if r == plot_h - 1 else ""
            out.append(label.rjust(scale_w - 1) + "│", style="dim")
            out.append_text(row)
            out.append("\n")
        left, right = self.x_label(x0), self.x_label(x1)
        middle = self.x_label((x0 + x1) / 2)
        gap = plot_w - len(left) - len(right) - len(middle)
        scale = left + " " * (gap // 2) + middle + " " * (gap - gap // 2) + right if gap >= 2 else left.ljust(
            plot_w - len(right)) + right
        out.append(" " * scale_w + scale[:plot_w], style="dim")
        return out
