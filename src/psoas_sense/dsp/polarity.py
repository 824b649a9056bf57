"""Which way is the inhale on an accelerometer's breathing axis: evidence and decision.

PCA finds the breathing axis up to a sign. Three kinds of evidence decide it, each expressed in
the *axis frame* (positive = the projection on the axis, before any sign is applied):

* **RR intervals** (when the strap gives them): heart rate rises on the inhale (RSA), so the
  heart-rate signal correlates positively with the inhale-positive breathing signal a little
  earlier. Strongest automatic evidence.
* **Asymmetry**: exhales are usually longer than inhales and end in a pause; each breath's
  ``log(exhale / inhale)`` votes.
* **Calibration**: the coach asks for a deep breath in (a ``calibrate_inhale`` marker); the
  larger excursion in the next seconds is the inhale. Overrides the others.

The score is a weighted sum; the polarity flips only when the score has the other sign by more
than ``FLIP_MARGIN`` (hysteresis). The confidence is ``|score| / (|score| + 1)`` when the
polarity agrees with the score, else 0. A posture shift clears the evidence.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

ASYM_BREATHS = 10
"""Recent breaths whose asymmetry votes count."""
ASYM_WEIGHT = 0.5
"""Weight of one breath's clipped ``log(exhale / inhale)`` vote."""
ASYM_CLIP = 0.7
"""Clip of a single vote (so one odd breath cannot decide)."""
RR_WEIGHT = 2.0
"""Weight of the heart-rate/breathing correlation ``r``, taken as
``sign(r) * max(0, |atanh(r)| - RR_R_FLOOR) * sqrt(n - 2)`` with ``n`` the breaths in the
correlation's memory: a weak correlation is no evidence whatever its length (on the hexoskin
DEV chests after walking |r| < 0.25, of either sign from one resting stretch to the next), a
strong one over a few breaths is (r = 0.8 over 5 breaths: 3.1, a confidence of 0.76 alone)."""
RR_R_FLOOR = 0.25
"""Correlations below about this (in ``atanh`` units) count as none."""
RR_Z_CLIP = 4.0
"""Clip of that z-score."""
RR_TIME_CONSTANT_S = 40.0
"""Memory of the correlation sums."""
RR_MIN_S = 12.0
"""Paired seconds of data before the correlation counts fully (it ramps up before)."""
CAL_WEIGHT = 8.0
"""Weight of a calibration breath."""
RR_LAGS_S = tuple(0.25 * k for k in range(9))
"""Lags of the heart rate behind the breathing signal at which the correlation is kept (0-2 s)."""
RR_EXPECTED_LAG_S = 1.0
"""Expected lag of the heart-rate signal behind the inhale-positive breathing signal: RSA's own
lag (heart rate peaks around the end of inspiration) plus about half a beat for the interval
averaging. The sign of the correlation at this lag is the evidence; it stays right while the
true lag is within a quarter breath period of it (+-0.75 s at 20 breaths/min)."""
RR_FAST_LAG_SHARE = (1.0 / 3.0, 0.5)
"""RR evidence is weighted down as ``RR_EXPECTED_LAG_S`` becomes a large share of the breath
period: full weight up to a third of it (20 breaths/min), none from a half (30 breaths/min).
Near half a period the correlation's sign at the fixed lag depends on whether the true RSA lag
is a little shorter or longer than expected, a coin toss; and RSA itself fades at fast
breathing. On the hexoskin DEV chests, resting after walking at 20-29 breaths/min, the
heart rate correlates with the reference lung volume by |r| <= 0.3 at any lag, of either sign
from one stretch to the next, yet this evidence gave polarity confidences of 0.55-0.7 there
(confident events of either phase)."""
FLIP_MARGIN = 1.0
"""The score must be this far past zero, on the other side, to flip the polarity (a confidence
of 0.5 for the other side). 0.4 let noise flip it: on the real DEV chests (hexoskin) RSA is
weak after walking (|r| < 0.25) and the breath asymmetry of a swaying, standing body is noise,
which gave 12-23 flips per 10 minutes."""
FIRST_MARGIN = 0.4
"""The first decision after a reset (the default +1 is a guess, not a decision) needs only this."""
MIN_FLIP_INTERVAL_S = 60.0
"""After a flip, automatic evidence cannot flip again for this long (a calibration breath can)..."""
STRONG_SCORE = 3.0
"""... unless it is this strong (a confidence of 0.75 for the other side)."""


class PolarityTracker:
    """Evidence about the inhale direction of one breathing axis."""

    def __init__(self) -> None:
        self.polarity = 1
        """+1: the axis direction is the inhale; -1: the opposite."""
        self._asym: deque[float] = deque(maxlen=ASYM_BREATHS)
        self._zero_sums()
        self._cal = 0.0
        self._last_flip_s = -math.inf
        self._decided = False  # a first flip (from the default) has been made since the reset
        self.period_s = 4.0
        """Breath period used to bound the RSA lag (set by the owner)."""
        self.source = "none"
        """Which evidence dominates: ``none``, ``asymmetry``, ``rr`` or ``calibration``."""

    def _zero_sums(self) -> None:
        n = len(RR_LAGS_S)
        self._sxy = np.zeros(n)
        self._sxx = 0.0
        self._syy = np.zeros(n)
        self._rr_s = 0.0

    def reset(self) -> None:
        """Forget the evidence (the axis changed: posture shift)."""
        self._asym.clear()
        self._zero_sums()
        self._cal = 0.0
        self._decided = False

    # -- evidence
    def add_breath(self, inhale_s: float, exhale_s: float) -> None:
        """One breath's durations as the detector saw them with the current polarity."""
        if inhale_s <= 0 or exhale_s <= 0:
            return
        v = max(-ASYM_CLIP, min(ASYM_CLIP, math.log(exhale_s / inhale_s)))
        self._asym.append(self.polarity * v)

    def add_rr_pairs(self, hr: float, axis_values: np.ndarray, dt_s: float) -> None:
        """A heart-rate sample and the axis-frame breathing signal ``RR_LAGS_S`` earlier."""
        a = math.exp(-dt_s / RR_TIME_CONSTANT_S)
        self._sxy = a * self._sxy + hr * axis_values
        self._sxx = a * self._sxx + hr * hr
        self._syy = a * self._syy + axis_values * axis_values
        self._rr_s += dt_s

    def calibrate(self, inhale_sign: int) -> None:
        """A calibration breath went ``inhale_sign`` (+1/-1) along the axis."""
        self._cal = float(inhale_sign)

    # -- decision
    @property
    def rr_correlation(self) -> float:
        """Correlation (-1..1) of heart rate with the axis-frame breathing signal at ``RR_EXPECTED_LAG_S``."""
        if self._sxx <= 0 or not np.all(self._syy > 0):
            return 0.0
        c = self._sxy / np.sqrt(self._sxx * self._syy)
        k = int(np.argmin(np.abs(np.asarray(RR_LAGS_S) - RR_EXPECTED_LAG_S)))
        return float(c[k])

    @property
    def rr_trust(self) -> float:
        """Weight (0-1) of the RR evidence at the current breath period (``RR_FAST_LAG_SHARE``)."""
        lo, hi = RR_FAST_LAG_SHARE
        share = RR_EXPECTED_LAG_S / max(self.period_s, 1e-6)
        return min(1.0, max(0.0, (hi - share) / (hi - lo)))

    def score(self) -> float:
        """The weighted evidence (positive: the axis direction is the inhale); updates :attr:`source`."""
        asym = ASYM_WEIGHT * sum(self._asym)
        r = max(-0.99, min(0.99, self.rr_correlation))
        n = min(self._rr_s, RR_TIME_CONSTANT_S) / max(self.period_s, 1.0)
        z = math.copysign(max(0.0, abs(math.atanh(r)) - RR_R_FLOOR), r) * math.sqrt(max(0.0, n - 2.0))
        rr = RR_WEIGHT * max(-RR_Z_CLIP, min(RR_Z_CLIP, z)) * min(1.0, self._rr_s / RR_MIN_S) * self.rr_trust
        cal = CAL_WEIGHT * self._cal
        parts = {"asymmetry": abs(asym), "rr": abs(rr), "calibration": abs(cal)}
        best = max(parts, key=lambda k: parts[k])
        self.source = best if parts[best] > 0 else "none"
        return asym + rr + cal

    def decide(self, t_s: float = math.inf) -> bool:
        """Update the polarity from the evidence at time ``t_s``; True when it flipped."""
        s = self.score()
        against = -s * self.polarity
        if against <= (FLIP_MARGIN if self._decided else FIRST_MARGIN):
            return False
        by_calibration = self._cal * self.polarity < 0
        if not by_calibration and against < STRONG_SCORE and t_s - self._last_flip_s < MIN_FLIP_INTERVAL_S:
            return False
        self.polarity = -self.polarity
        self._last_flip_s = t_s
        self._decided = True
        return True

    @property
    def confidence(self) -> float:
        """``|score| / (|score| + 1)`` when the polarity agrees with the score, else 0."""
        s = self.score()
        if s * self.polarity <= 0:
            return 0.0
        return abs(s) / (abs(s) + 1.0)
