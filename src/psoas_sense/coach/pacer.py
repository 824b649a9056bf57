"""A clock pacer: a breathing rhythm on data time, and how well detected breathing follows it."""

from __future__ import annotations

import math
from dataclasses import dataclass

PHASES = ("inhale", "hold_in", "exhale", "hold_out")


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

    def _offsets(self) -> list[tuple[float, str]]:
        out = [(0.0, "inhale")]
        if self.hold_in_s > 0:
            out.append((self.inhale_s, "hold_in"))
        out.append((self.inhale_s + self.hold_in_s, "exhale"))
        if self.hold_out_s > 0:
            out.append((self.inhale_s + self.hold_in_s + self.exhale_s, "hold_out"))
        return out

    def next_boundary(self, after_s: float) -> tuple[float, str]:
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
    """0-1 score of one detected exhale: 1 on time, 0 at half a period off the pacer."""
    return max(0.0, 1.0 - abs(error_s) / (period_s / 2.0))
