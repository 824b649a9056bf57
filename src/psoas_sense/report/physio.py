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
import statistics
from typing import Any

import numpy as np

from psoas_sense import insight
from psoas_sense.report.data import SessionData

MIN_DEPTH_BREATHS = 3
"""Breaths a window needs before its depth is stated."""
PACED_EXHALE_CUES = frozenset({"sink_deeper", "tool_sink", "slide_foot", "leg_straight", "release", "belly_out",
                               "pace_exhale"})
"""Cues the pacer gives on its exhale (a recording's markers keep these, not the pacer's breaths)."""
MAX_BREATH_S = 20.0
"""An inhale onset further back than this before an exhale onset does not pair with it."""


def breath_depths(
    phases: list[tuple[float, str]], waveform: tuple[np.ndarray, np.ndarray] | None
) -> list[tuple[float, float]]:
    """Each detected breath's depth: the breathing signal's rise from an inhale onset to the next
    exhale onset (the signal the detector read, so only where it has an amplitude: a recording
    with a belt or an accelerometer, not the history)."""
    if waveform is None or waveform[0].size < 2:
        return []
    t, y = waveform
    out: list[tuple[float, float]] = []
    last_in: float | None = None
    for tp, kind in phases:
        if kind == "inhale":
            last_in = tp
        elif last_in is not None and 0 < tp - last_in <= MAX_BREATH_S and t[0] <= last_in and tp <= t[-1]:
            rise = float(np.interp(tp, t, y) - np.interp(last_in, t, y))
            if rise > 0:
                out.append((tp, rise))
            last_in = None
    return out


def _r(x: float | None, nd: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


class Physio:
    """A session's breath phases and beats, cut into windows."""

    def __init__(self, data: SessionData) -> None:
        self.phases = sorted((b.t_s, b.kind) for b in data.breaths if b.source == "detector")
        self.rr = None if data.rr is None else sorted(data.rr, key=lambda b: b[0])
        paced = {b.t_s for b in data.breaths if b.source == "pacer" and b.kind == "exhale"}
        paced |= {c.t_s if c.breath_t_s is None else c.breath_t_s for c in data.cues
                  if c.source == "pacer" and c.kind in PACED_EXHALE_CUES}
        self.paced_exhales = sorted(paced)
        """The pacer's exhale onsets while it led (for how the heart followed it)."""
        self.depths = breath_depths(self.phases, data.waveform)
        typical = statistics.median(d for _, d in self.depths) if self.depths else 0.0
        self.typical_depth = typical if typical > 0 else None

    def depth_rel(self, t0: float, t1: float) -> float | None:
        """The window's median breath depth against the session's (1.0: as usual; None: no amplitude)."""
        mine = [d for t, d in self.depths if t0 <= t <= t1]
        if self.typical_depth is None or len(mine) < MIN_DEPTH_BREATHS:
            return None
        return statistics.median(mine) / self.typical_depth

    def stretch(self, t0: float, t1: float) -> insight.Stretch:
        """The figures of the window ``t0..t1``."""
        return insight.stretch(self.phases, self.rr, t0, t1)

    def fields(self, t0: float, t1: float) -> dict[str, Any]:
        """The report keys of the window ``t0..t1``: heart rate, RMSSD, I:E and the beats behind them."""
        s = self.stretch(t0, t1)
        h = s.heart
        lock = None if self.rr is None else insight.rsa_following(self.rr, self.paced_exhales, t0, t1)
        return {
            "ie_ratio": _r(s.breath.ie_ratio),
            "depth_rel": _r(self.depth_rel(t0, t1), 2),
            "hr_bpm": _r(h.hr_bpm.value, 1) if h else None,
            "rmssd_ms": _r(h.rmssd_ms.value, 1) if h else None,
            "beats": h.beats if h else None,
            "beats_kept": h.kept if h else None,
            "following_pct": _r(100.0 * lock.locked, 0) if lock else None,
            "rsa_bpm": _r(lock.amplitude_bpm, 1) if lock else None,
            "rsa_lag_s": _r(lock.lag_s, 1) if lock else None,
            "paced_cycles": lock.cycles if lock else None,
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
