"""How well the heart follows the pacer, live: the figure an RR-only strap can give.

While the pacer leads, each of its "breathe out" onsets is a point at which the figure is
stated: :func:`psoas_sense.insight.rsa_lock` over the beats of the last
:data:`WINDOW_S` seconds of that pacer. A point is stated once a beat after it has arrived, so
the beats up to it are all known whatever the size of the frames that carried them: the figures
do not depend on how the data was chunked. Pure: no clock, no I/O; memory bounded.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from psoas_sense.coach.pacer import Pacer
from psoas_sense.events import FollowingScored
from psoas_sense.insight import rsa_lock

WINDOW_S = 90.0
"""Seconds of beats behind each live figure (nine paced breaths at six a minute)."""
KEEP_S = WINDOW_S + 60.0
"""Beats older than this behind the newest are dropped (bounded memory)."""


@dataclass
class _Segment:
    """One stretch during which one pacer led."""

    pacer: Pacer
    t_start_s: float
    t_end_s: float = math.inf
    k: int = 0
    """Index of the next exhale onset to state a figure at."""

    def exhale(self, k: int) -> float:
        p = self.pacer
        return p.t0_s + p.inhale_s + p.hold_in_s + k * p.period_s


class FollowTracker:
    """Beats in; a :class:`~psoas_sense.events.FollowingScored` at each paced exhale out."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._segments: list[_Segment] = []
        self._beats: deque[tuple[float, float]] = deque()
        self.latest: FollowingScored | None = None
        """The newest figure stated."""

    def pacer_started(self, pacer: Pacer, t_s: float) -> None:
        """A pacer leads from ``t_s``."""
        self.pacer_stopped(t_s)
        seg = _Segment(pacer, float(t_s))
        while seg.exhale(seg.k) < seg.t_start_s:
            seg.k += 1
        self._segments.append(seg)

    def pacer_stopped(self, t_s: float) -> None:
        """The pacer no longer leads (from ``t_s``)."""
        if self._segments and math.isinf(self._segments[-1].t_end_s):
            self._segments[-1].t_end_s = float(t_s)

    def beats(self, times_s: Sequence[float], rr_ms: Sequence[float]) -> list[FollowingScored]:
        """New beats (time of the beat ending each interval, and the interval); the figures due.

        Beats are taken one at a time: the points before a beat are stated (with the beats before
        it) before it is kept, so the figures are the same however the beats were grouped.
        """
        out: list[FollowingScored] = []
        for t, rr in zip(times_s, rr_ms, strict=True):
            t, rr = float(t), float(rr)
            if not (math.isfinite(t) and math.isfinite(rr) and rr > 0) or (self._beats and t < self._beats[-1][0]):
                continue
            out += self._due(t)
            self._beats.append((t, rr))
            self._prune(t)
        if out:
            self.latest = out[-1]
        return out

    def _due(self, t: float) -> list[FollowingScored]:
        """The figures of the points before a beat at ``t`` (the first beat after them)."""
        out: list[FollowingScored] = []
        for seg in self._segments:
            while True:
                g = seg.exhale(seg.k)
                if g > seg.t_end_s or g >= t:
                    break
                seg.k += 1
                fig = self._figure(seg, g, t)
                if fig is not None:
                    out.append(fig)
        self._segments = [s for s in self._segments if s.exhale(s.k) <= s.t_end_s]
        return out

    def _prune(self, newest: float) -> None:
        keep_from = newest - KEEP_S
        if self._segments:
            keep_from = min(keep_from, min(s.exhale(s.k) for s in self._segments) - self.window_s - 5.0)
        while self._beats and self._beats[0][0] < keep_from:
            self._beats.popleft()

    def _figure(self, seg: _Segment, g: float, after: float) -> FollowingScored | None:
        lo = max(seg.t_start_s, g - self.window_s)
        j0 = max(0, math.ceil((lo - seg.exhale(0)) / seg.pacer.period_s - 1e-9))
        exhales = [seg.exhale(j) for j in range(j0, seg.k)]
        lock = rsa_lock(list(self._beats), exhales, lo, g)
        if lock is None:
            return None
        # stated at the first beat after the point: the moment it became known, whatever the chunks
        return FollowingScored(
            t_s=round(after, 3), breath_t_s=round(g, 3), locked=round(lock.locked, 3),
            amplitude_bpm=round(lock.amplitude_bpm, 2), lag_s=round(lock.lag_s, 2), window_s=round(g - lo, 1),
            beats=lock.beats,
        )
