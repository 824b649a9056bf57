"""Sample times of a Go Direct stream: sample index x period, anchored to arrival, gaps flagged. Pure.

Measurement packets carry no timestamps: sample ``i`` of a run was taken ``i`` periods after
the run's first sample. Packets reach the host after a delay that varies (a real belt goes
quiet for about half a second roughly once a second, then delivers what it held), and a packet
may be lost. So each packet gives a candidate anchor, ``arrival - (index of its last sample) x
period``, which is the true anchor plus that packet's delay:

- the anchor used is the smallest candidate seen (the least delayed packet); when a later packet
  shows it was too late, the times move earlier, slewed (each sample at least
  ``(1 - SLEW) x period`` after the one before), so times never go backwards;
- when every packet of the last :data:`LOSS_WINDOW_S` arrives later than the anchor predicts by
  more than :data:`LOSS_MIN_S`, samples were lost (a held burst comes back within that window,
  a loss never does): the index jumps by the samples lost and the gap is recorded in
  :attr:`SampleTimer.gaps`.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

LOSS_WINDOW_S = 2.0
"""Packets of this many seconds (longer than the belt's periodic pauses) must all arrive late
before samples are taken as lost."""
LOSS_MIN_S = 0.15
"""... and later than this (beyond the jitter of a BLE link), and at least 1.5 periods."""
SLEW = 0.1
"""When the anchor moves earlier, samples are spaced at least (1 - SLEW) x period meanwhile."""


class SampleTimer:
    """Gives each sample of a Go Direct run its session time.

    Args:
        period_s: the measurement period.
    """

    def __init__(self, period_s: float) -> None:
        self.period_s = float(period_s)
        self._anchor: float | None = None
        self._index = 0
        self._last_t: float | None = None
        self._recent: deque[tuple[float, float]] = deque()
        self.gaps: list[tuple[float, float, int]] = []
        """Losses found: ``(time of the last sample before, time of the first after, samples lost)``."""
        self.samples = 0
        """Samples timed in this run."""

    def restart(self, period_s: float | None = None) -> None:
        """A new run (START): index 0, a new anchor. Times stay after those already given."""
        if period_s is not None:
            self.period_s = float(period_s)
        self._anchor = None
        self._index = 0
        self._recent.clear()
        self.samples = 0

    def place(self, n: int, arrival_s: float) -> np.ndarray:
        """Times of the next ``n`` samples, which arrived (the last of them) at ``arrival_s``."""
        p = self.period_s
        if n <= 0:
            return np.zeros(0)
        if self._anchor is None:
            self._anchor = arrival_s - (self._index + n - 1) * p
        self._find_loss(arrival_s - (self._index + n - 1) * p, arrival_s)
        self._anchor = min(self._anchor, arrival_s - (self._index + n - 1) * p)
        idx = self._index + np.arange(n)
        target = self._anchor + idx * p
        out = np.empty(n)
        prev = self._last_t
        for i in range(n):
            t = float(target[i])
            if prev is not None:
                t = max(t, prev + (1.0 - SLEW) * p)
            out[i] = t
            prev = t
        self._last_t = prev
        self._index += n
        self.samples += n
        return out

    def _find_loss(self, candidate: float, arrival_s: float) -> None:
        """Jump the index when every recent packet says samples went missing."""
        assert self._anchor is not None
        p = self.period_s
        self._recent.append((arrival_s, candidate))
        while self._recent and self._recent[0][0] < arrival_s - LOSS_WINDOW_S:
            self._recent.popleft()
        span = arrival_s - self._recent[0][0]
        if span < LOSS_WINDOW_S * 0.75:
            return
        late = min(c for _, c in self._recent) - self._anchor
        if late <= max(LOSS_MIN_S, 1.5 * p):
            return
        lost = int(math.floor(late / p + 0.5))
        if lost <= 0:
            return
        before = self._last_t if self._last_t is not None else self._anchor
        self._index += lost
        # the candidates were computed with the old index: bring them to the new one
        self._recent = deque((a, c - lost * p) for a, c in self._recent)
        self.gaps.append((before, self._anchor + self._index * p, lost))
