"""Breath holds: no breathing movement for a while, and breathing resuming after it.

'No movement' is a slope (over ``HOLD_SLOPE_LAG_S``) below ``HOLD_SLOPE_SHARE`` of the
long-term typical breath slope (pi x amplitude / period). :class:`HoldWatch` sees one grid
sample at a time, like the phase detector that owns it, so it is chunk-invariant.
"""

from __future__ import annotations

import math
from collections import deque

from psoas_sense.model import SignalNotice

HOLD_AFTER_S = 10.0
"""No breathing movement for this long is a breath hold."""
HOLD_SLOPE_SHARE = 0.15
"""... where 'no movement' is a slope (over ``HOLD_SLOPE_LAG_S``) below this share of the
long-term typical breath slope (pi x amplitude / period)."""
HOLD_SLOPE_LAG_S = 0.6
"""Span of the slope that tells movement from stillness, seconds."""


class HoldWatch:
    """Reports ``breath_hold`` and ``breathing_resumed`` notices.

    The owner appends every sample (already multiplied by its polarity) to :attr:`history`
    and calls :meth:`step` once it knows the long-term amplitude.

    Args:
        fs_hz: rate of the breathing signal, Hz.
        hold_after_s: stillness that counts as a hold, seconds.
        signal: the signal watched (reported in the notices).
    """

    def __init__(self, fs_hz: float, hold_after_s: float, signal: str) -> None:
        self.fs_hz = fs_hz
        self.hold_after_s = hold_after_s
        self.signal = signal
        self.lag = max(1, int(round(HOLD_SLOPE_LAG_S * fs_hz)))
        """The slope's span in samples."""
        self.history: deque[float] = deque(maxlen=self.lag + 1)
        """The last ``lag + 1`` samples."""
        self.still_since: float | None = None
        """Grid time the current stillness began (None while moving)."""
        self.in_hold = False
        """A hold has been reported and breathing has not resumed yet."""

    def reset(self) -> None:
        """Forget the stillness in progress and the recent samples (after a gap)."""
        self.still_since = None
        self.history.clear()

    def flip(self) -> None:
        """The signal's polarity was inverted: invert the recent samples too."""
        vals = [-x for x in self.history]
        self.history.clear()
        self.history.extend(vals)

    def step(self, ti: float, yi: float, available: float, long_amp: float, long_period: float) -> SignalNotice | None:
        """One sample (already in :attr:`history`); returns the notice it causes, if any.

        Args:
            ti: grid time of the sample, seconds.
            yi: the sample.
            available: when the sample became known (the notice's time), seconds.
            long_amp: long-term breath amplitude.
            long_period: long-term breath period, seconds.
        """
        if long_amp <= 0 or long_period <= 0 or len(self.history) <= self.lag:
            return None
        slope = abs(yi - self.history[0]) * self.fs_hz / self.lag
        lim = HOLD_SLOPE_SHARE * math.pi * long_amp / long_period
        if slope > lim:
            was = self.in_hold
            self.still_since = None
            self.in_hold = False
            if was:
                return SignalNotice("breathing_resumed", available, {"signal": self.signal}, available)
            return None
        if self.still_since is None:
            self.still_since = ti - HOLD_SLOPE_LAG_S
        if not self.in_hold and ti - self.still_since >= self.hold_after_s:
            self.in_hold = True
            return SignalNotice(
                "breath_hold", available, {"signal": self.signal, "since": round(self.still_since, 3)}, available
            )
        return None
