"""Breath holds: no breathing movement for a while, and breathing resuming after it.

'No movement' is a slope (over ``HOLD_SLOPE_LAG_S``) below ``HOLD_SLOPE_SHARE`` of the
long-term typical breath slope (pi x amplitude / period). :class:`HoldWatch` sees one grid
sample at a time, like the phase detector that owns it, so it is chunk-invariant.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from psoas_sense.model import SignalNotice

HOLD_AFTER_S = 10.0
"""No breathing movement for this long is a breath hold."""
HOLD_SLOPE_SHARE = 0.15
"""... where 'no movement' is a slope (over ``HOLD_SLOPE_LAG_S``) below this share of the
long-term typical breath slope (pi x amplitude / period)."""
HOLD_SLOPE_LAG_S = 0.6
"""Span of the slope that tells movement from stillness, seconds."""


def float_list(v: np.ndarray | float, n: int) -> list[float]:
    """``v`` (one value or ``n`` values) as a list of ``n`` floats."""
    a = np.asarray(v, dtype=np.float64)
    out: list[float] = (a if a.shape == (n,) else np.broadcast_to(a, (n,))).tolist()
    return out


def lagged_differences(history: deque[float], polarity: float, y: np.ndarray) -> tuple[np.ndarray, int]:
    """``y[i] - y[i - lag]`` for each sample of ``y`` (vectorised, in the input's own polarity),
    reaching back into ``history``: the samples before ``y``, times ``polarity`` (+1/-1), of
    which the last ``lag + 1`` are kept (its ``maxlen``). Returns the differences and the index
    from which they exist (0 before it)."""
    assert history.maxlen is not None
    lag, m = history.maxlen - 1, len(history)
    ext = np.concatenate([np.array(history, dtype=np.float64) * polarity, y])
    k0 = min(max(0, lag - m), y.shape[0])
    out = np.zeros(y.shape[0])
    out[k0:] = ext[m + k0 :] - ext[m + k0 - lag : ext.shape[0] - lag]
    return out, k0


def hold_limit(long_amp: float, long_period: float) -> float:
    """The slope below which the signal counts as still (see ``HOLD_SLOPE_SHARE``)."""
    return HOLD_SLOPE_SHARE * math.pi * long_amp / long_period


class HoldWatch:
    """Reports ``breath_hold`` and ``breathing_resumed`` notices.

    The owner appends every sample (already multiplied by its polarity) to :attr:`history`
    and calls :meth:`step` once it knows the long-term amplitude; or, a chunk at a time, takes
    the chunk's :meth:`slopes`, calls :meth:`step_slope` on the samples that may change the
    state (the others leave it as it is) and appends the chunk to :attr:`history` after it.

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
        return self.step_slope(ti, slope, available, hold_limit(long_amp, long_period))

    def slopes(self, polarity: float, y: np.ndarray) -> list[float]:
        """The slope :meth:`step` computes for each sample of ``y`` (before ``y`` is appended to
        :attr:`history`, which holds samples times ``polarity``), vectorised; -1 where the
        history is too short (no step)."""
        diff, k0 = lagged_differences(self.history, polarity, y)
        out = np.full(y.shape[0], -1.0)
        out[k0:] = np.abs(diff[k0:]) * self.fs_hz / self.lag
        slopes: list[float] = out.tolist()
        return slopes

    def step_slope(self, ti: float, slope: float, available: float, lim: float) -> SignalNotice | None:
        """:meth:`step` with its slope and limit (:func:`hold_limit`) known."""
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
