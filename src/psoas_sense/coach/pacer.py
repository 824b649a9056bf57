"""A clock pacer: a breathing rhythm on data time, and how well detected breathing follows it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from psoas_sense.vocab import PacePhase

PHASES: tuple[PacePhase, ...] = ("inhale", "hold_in", "exhale", "hold_out")


@dataclass(frozen=True)
class Pacer:
    """A repeating rhythm: inhale, hold, exhale, hold (zero-length holds are skipped)."""

    inhale_s: float
    exhale_s: float
    hold_in_s: float = 0.0
    hold_out_s: float = 0.0
    t0_s: float = 0.0
    """Session time at which the first inhale starts."""

    @property
    def period_s(self) -> float:
        return self.inhale_s + self.hold_in_s + self.exhale_s + self.hold_out_s

    @property
    def rate_bpm(self) -> float:
        return 60.0 / self.period_s

    def _offsets(self) -> list[tuple[float, PacePhase]]:
        out: list[tuple[float, PacePhase]] = [(0.0, "inhale")]
        if self.hold_in_s > 0:
            out.append((self.inhale_s, "hold_in"))
        out.append((self.inhale_s + self.hold_in_s, "exhale"))
        if self.hold_out_s > 0:
            out.append((self.inhale_s + self.hold_in_s + self.exhale_s, "hold_out"))
        return out

    def next_boundary(self, after_s: float) -> tuple[float, PacePhase]:
        """The first phase boundary strictly after ``after_s``."""
        p = self.period_s
        k = math.floor((after_s - self.t0_s) / p)
        for cycle in (k, k + 1):
            base = self.t0_s + cycle * p
            for off, kind in self._offsets():
                t = base + off
                if t > after_s + 1e-9:
                    return t, kind
        raise AssertionError("unreachable")  # pragma: no cover

    def exhale_error_s(self, t_s: float) -> float:
        """Signed time from the nearest paced exhale onset to ``t_s`` (positive: late)."""
        p = self.period_s
        first_ex = self.t0_s + self.inhale_s + self.hold_in_s
        x = (t_s - first_ex) / p
        k = round(x)
        return t_s - (first_ex + k * p)


def adherence(error_s: float, period_s: float) -> float:
    """0-1 alignment of one exhale: 1 on the pacer's exhale, 0 half a period off it."""
    return max(0.0, 1.0 - abs(error_s) / (period_s / 2.0))


PACE_WINDOW = 6
"""Exhales over which following the pacer is judged (about a minute of slow breathing)."""
RATE_TOLERANCE = 0.15
"""Breathing this much faster or slower than the pacer (as a log ratio) scores 1/e on rate."""


def following_score(exhales_s: Sequence[float], errors_s: Sequence[float], period_s: float) -> float:
    """0-1: how well the last exhales follow the pacer, in rate and in phase.

    Rate: the median interval between the exhales against the pacer's period, scored
    ``exp(-(ln(interval / period) / RATE_TOLERANCE)^2)``: 1 at the pacer's pace, 0.37 at 15 % off,
    nearly 0 at 1.5x or 2x. Phase: the exhales keep a steady place in the pacer's cycle, measured
    as the phase-locking value (the length of the mean of ``exp(2 pi i error / period)``): 1 when
    every exhale falls at the same point of the cycle (a steady reaction delay is not penalised),
    near 0 when they drift through it, as they do at another pace. The score is their product.
    With a single exhale there is nothing to compare: its alignment (:func:`adherence`) counts.
    """
    times = list(exhales_s)[-(PACE_WINDOW + 1):]
    errors = list(errors_s)[-PACE_WINDOW:]
    if len(times) < 2 or len(errors) < 2:
        return adherence(errors[-1], period_s) if errors else 0.0
    intervals = sorted(b - a for a, b in zip(times, times[1:]) if b > a)
    if not intervals:
        return 0.0
    ratio = intervals[len(intervals) // 2] / period_s
    rate = math.exp(-((math.log(ratio) / RATE_TOLERANCE) ** 2))
    c = sum(math.cos(2 * math.pi * e / period_s) for e in errors) / len(errors)
    s = sum(math.sin(2 * math.pi * e / period_s) for e in errors) / len(errors)
    return rate * math.hypot(c, s)
