"""Heart rate, RMSSD, I:E, breath depth and the heart's following of the pacer, per window of a
session, and the plain-language change lines. Pure; the figures come from :mod:`psoas_sense.insight`.

Breathing figures use the detected breaths only (breaths paced by the clock while the signal was
lost say nothing about the body). Heart figures use the beats whose interval ends inside the
window; a side's window is the whole side (from its start to its end), so its beats are
consecutive. Where the session has no RR intervals the heart figures are null. A breath's depth
is the detector's (:attr:`psoas_sense.model.BreathEvent.depth`); a window's is its median against
the session's.

Changes: first hold against last (two holds or more), first minute against last (sessions of
two minutes or more, so that the minutes do not overlap), and the first side against the other
(its first stretch on each side). A comparison that does not exist gives no line.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from psoas_sense import insight

MIN_DEPTH_BREATHS = 3
"""Breaths a window needs before its depth is stated."""


def r(x: float | None, nd: int = 3) -> float | None:
    """Rounded as a report shows it (None for nothing, or a non-finite number)."""
    return None if x is None or not math.isfinite(x) else round(float(x), nd)


class Physio:
    """A session's detected phases, beats, depths and paced exhales, cut into windows.

    Args:
        phases: detected ``(t_s, kind)`` phase changes.
        beats: the strap's ``(t_s, rr_ms)`` beats (None: no RR intervals).
        depths: ``(t_s, depth)`` of the detected exhales with a depth.
        paced_exhales: the pacer's exhale onsets while it led.
    """

    def __init__(self, phases: Sequence[tuple[float, str]], beats: Sequence[tuple[float, float]] | None,
                 depths: Sequence[tuple[float, float]], paced_exhales: Sequence[float]) -> None:
        self.phases = sorted(phases)
        self.rr = None if beats is None else sorted(beats, key=lambda b: b[0])
        self.depths = sorted(depths)
        self.paced_exhales = sorted(paced_exhales)
        typical = statistics.median(d for _, d in self.depths) if self.depths else 0.0
        self.typical_depth = typical if typical > 0 else None

    def depth_rel(self, t0: float, t1: float) -> float | None:
        """The window's median breath depth against the session's (1.0: as usual; None: no amplitude)."""
        mine = [d for t, d in self.depths if t0 - 1e-9 <= t <= t1 + 1e-9]
        if self.typical_depth is None or len(mine) < MIN_DEPTH_BREATHS:
            return None
        return statistics.median(mine) / self.typical_depth

    def stretch(self, t0: float, t1: float) -> insight.Stretch:
        """The figures of the window ``t0..t1``."""
        return insight.stretch(self.phases, self.rr, t0, t1)

    def physiology(self, t0: float, t1: float) -> insight.Physiology:
        """Exhale share, heart rate and RMSSD of ``t0..t1``, as the coach states them for a hold."""
        return insight.physiology(self.phases, self.rr, t0, t1)

    def following(self, t0: float, t1: float) -> insight.RsaLock | None:
        """How the heart followed the pacer over ``t0..t1`` (None: no RR, or too few paced breaths)."""
        return None if self.rr is None else insight.rsa_following(self.rr, self.paced_exhales, t0, t1)

    def changes(self, holds: Sequence[tuple[float, float]], sides: Sequence[tuple[str, float, float]],
                t0: float, t1: float) -> tuple[str, ...]:
        """The plain-language change lines of the session (see the module text).

        Args:
            holds: each hold's ``(t_start_s, t_end_s)``, in order.
            sides: each side's ``(side, t_start_s, t_end_s)``, in order.
            t0: the session's start.
            t1: its end.
        """
        lines = []
        if len(holds) >= 2:
            a, b = holds[0], holds[-1]
            lines.append(insight.change_line(f"first hold against last ({len(holds)} holds)",
                                             self.stretch(*a), self.stretch(*b)))
        if t1 - t0 >= 120.0:
            lines.append(insight.change_line(
                "first minute against last", self.stretch(t0, t0 + 60.0), self.stretch(t1 - 60.0, t1)))
        other = [s for s in sides if s[0] != sides[0][0]] if sides else []
        if other:
            a2, b2 = sides[0], other[0]
            lines.append(insight.change_line(f"{a2[0]} side against {b2[0]}",
                                             self.stretch(a2[1], a2[2]), self.stretch(b2[1], b2[2])))
        return tuple(lines)
