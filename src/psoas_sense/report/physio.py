"""The physiology of a report: heart rate, RMSSD and breathing per hold, side and session, and
the plain-language change lines. Pure; the figures come from :mod:`psoas_sense.insight`.

Breathing figures use the detected breaths only (breaths paced by the clock while the signal was
lost say nothing about the body). Heart figures use the beats whose interval ends inside the
window; a side's window is the whole side (from its start to its end), so its beats are
consecutive. Where the session has no RR intervals (the history keeps none) the heart figures
are null.

Changes: first hold against last (two holds or more), first minute against last (sessions of
two minutes or more, so that the minutes do not overlap), and the first side against the other
(its first stretch on each side). A comparison that does not exist gives no line.
"""

from __future__ import annotations

import math
from typing import Any

from psoas_sense import insight
from psoas_sense.report.data import SessionData


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


class Physio:
    """A session's breath phases and beats, cut into windows."""

    def __init__(self, data: SessionData) -> None:
        self.phases = sorted((b.t_s, b.kind) for b in data.breaths if b.source == "detector")
        self.rr = None if data.rr is None else sorted(data.rr, key=lambda b: b[0])

    def stretch(self, t0: float, t1: float) -> insight.Stretch:
        """The figures of the window ``t0..t1``."""
        return insight.stretch(self.phases, self.rr, t0, t1)

    def fields(self, t0: float, t1: float) -> dict[str, Any]:
        """The report keys of the window ``t0..t1``: heart rate, RMSSD, I:E and the beats behind them."""
        s = self.stretch(t0, t1)
        h = s.heart
        return {
            "ie_ratio": _r(s.breath.ie_ratio),
            "hr_bpm": _r(h.hr_bpm.value, 1) if h else None,
            "rmssd_ms": _r(h.rmssd_ms.value, 1) if h else None,
            "beats": h.beats if h else None,
            "beats_kept": h.kept if h else None,
        }

    def changes(self, data: SessionData, t0: float, t1: float) -> list[str]:
        """The plain-language change lines of the session (see the module text)."""
        lines = []
        holds = sorted(data.holds, key=lambda h: h.t_start_s)
        if len(holds) >= 2:
            a, b = holds[0], holds[-1]
            lines.append(insight.change_line(
                f"first hold against last ({len(holds)} holds)",
                self.stretch(a.t_start_s, a.t_s), self.stretch(b.t_start_s, b.t_s)))
        if t1 - t0 >= 120.0:
            lines.append(insight.change_line(
                "first minute against last", self.stretch(t0, t0 + 60.0), self.stretch(t1 - 60.0, t1)))
        sides = sorted(data.sides, key=lambda s: s.t_start_s)
        other = [s for s in sides if s.side != sides[0].side] if sides else []
        if other:
            a2, b2 = sides[0], other[0]
            lines.append(insight.change_line(
                f"{a2.side} side against {b2.side}",
                self.stretch(a2.t_start_s, a2.t_s), self.stretch(b2.t_start_s, b2.t_s)))
        return lines
