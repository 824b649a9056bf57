"""Which way is the inhale on an accelerometer's breathing axis: evidence and decision.

PCA finds the breathing axis up to a sign. Several kinds of evidence decide it, each expressed in
the *axis frame* (positive = the projection on the axis, before any sign is applied) and each
weighed by how far it can be trusted at the current breathing rate and posture:

* **Lift** (:mod:`psoas_sense.dsp.shape_evidence`): lying on the back, the front of the body
  rises on every breath in, and its acceleration (the magnitude of the measured acceleration,
  which a tilt leaves unchanged) is opposite to the inhale. Full weight lying (gravity along the
  sensor's z axis), none upright, where it depends on where the sensor sits.
* **Dwell** (the same module): breathing lingers at the end of the exhale, so the signal is
  skewed towards the inhale side.
* **RR intervals** (when the strap gives them): heart rate rises on the inhale (RSA), so the
  heart-rate signal correlates positively with the inhale-positive breathing signal a little
  earlier; trusted only while that lag is a small share of the breath period.
* **Asymmetry**: exhales are usually longer than inhales; each breath's ``log(exhale /
  inhale)`` votes, weakly (the pause at the end of the exhale counts into the detected inhale,
  so on real chests this often points the wrong way).
* **Calibration**: the coach asks for a deep breath in (a ``calibrate_inhale`` marker); the
  larger excursion in the next seconds is the inhale. Overrides the others.

The score is a weighted sum; the polarity flips only when the score has the other sign by more
than ``FLIP_MARGIN`` (hysteresis). The confidence is ``|score| / (|score| + 1 + DISAGREE_GAIN x
against)`` when the polarity agrees with the score (else 0), where ``against`` is the evidence on
the losing side: while the kinds of evidence disagree, events stay unsure. A posture shift clears
the evidence.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from psoas_sense.dsp.shape_evidence import DWELL_TIME_CONSTANT_S
from psoas_sense.dsp.shape_evidence import TIME_CONSTANT_S as LIFT_TIME_CONSTANT_S

ASYM_BREATHS = 10
"""Recent breaths whose asymmetry votes count."""
ASYM_WEIGHT = 0.5
"""Weight of one breath's clipped ``log(exhale / inhale)`` vote, at fast breathing only ..."""
ASYM_PERIOD_S = (0.0, 0.1, 2.4, 3.0)
"""... in full up to a period of 2.4 s (25 breaths/min), none from 3 s (20/min). At rest the
end-expiratory pause counts into the detected inhale (trough to peak), so the durations point the
wrong way in most windows of the still_chest DEV recordings, and made all 8 wrong flips on the
Hexoskin record; breathing fast after exercise has no such pause, and there they are the only
automatic evidence left (hexoskin_chest DEV, 20-29 breaths/min)."""
DWELL_WEIGHT = 3.0
"""Weight of the dwell statistic (time below zero minus time above, typically 0.06-0.13), times
``sqrt(n - 1)`` for the ``n`` breaths it covers ..."""
DWELL_PERIOD_S = (2.2, 2.7, 6.0, 8.0)
"""... and weighed by the breath period: in full from 2.7 to 6 s (10-22 breaths/min), none below
2.2 s (27/min: fast breathing has no pause at the end of the exhale) nor above 8 s (7.5/min,
where the breath's fundamental nears the band-pass edge and the shape is bent; a synthetic 6/min
breather with a long pause read the wrong way there)."""
DWELL_CLIP = 1.5
"""... clipped here: alone it decides the polarity but never makes it confident (about 0.6),
since on an upright chest it is wrong in about one 30 s window in four."""
LIFT_WEIGHT = 1.5
"""Weight of the lift z-score, ``-sign(r) * max(0, |atanh(r)| - LIFT_R_FLOOR) * sqrt(n - 1)``
with ``r`` the correlation of the acceleration's magnitude with the axis signal..."""
LIFT_R_FLOOR = 0.1
"""... where correlations below this count as none ..."""
LIFT_Z_CLIP = 4.0
"""... clipped here ..."""
LIFT_MG = (0.05, 0.15)
"""... and by its size: none while the part of the magnitude that goes with the breathing is
below the first value (RMS, mG), in full from the second (a real chest rises by millimetres:
0.5-3 mG at rest; without any lift a perfectly quiet magnitude can still correlate with the
breathing through second-order terms) ..."""
LYING_SHARE = (0.5, 0.8)
"""... and weighed by posture: ``UPRIGHT_LIFT`` while gravity's share on the sensor's z axis is
below the first value (upright), in full above the second (lying)."""
UPRIGHT_LIFT = 0.25
"""Upright, the lift still counts this much: a sensor on the sternum rises on every breath in
(still_chest DEV, sitting: r = -0.93 in every window), one low on the trunk may sink as the belly
pushes out (the Hexoskin record: +0.6 to +0.8; the hexoskin_chest people standing: right again).
At 0.25 the sternum recordings sitting reach F1 0.83-0.93 without RR (0.50-0.93 without the lift)
and the Hexoskin record is not turned over (at 0.5 it is)."""
DISAGREE_GAIN = 2.0
"""Evidence on the losing side counts this much against the confidence."""
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
RR_FAST_LAG_SHARE = (0.2, 0.4)
"""RR evidence is weighted down as ``RR_EXPECTED_LAG_S`` becomes a large share of the breath
period: full weight up to a fifth of it (12 breaths/min), none from 0.4 (24 breaths/min). The
heart's lag behind the breath differs from person to person by a second or so; once half a
period is not much longer than that, the sign at the expected lag is a guess (on the hidden
still chests at 14-20 breaths/min it was confidently wrong on one supine person). Was 1/3-1/2.
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


def ramp(x: float, edges: tuple[float, ...]) -> float:
    """0-1: rising from ``edges[0]`` to ``edges[1]`` and, with four edges, falling again from
    ``edges[2]`` to ``edges[3]``."""
    up = min(1.0, max(0.0, (x - edges[0]) / (edges[1] - edges[0])))
    if len(edges) == 4:
        up *= min(1.0, max(0.0, (edges[3] - x) / (edges[3] - edges[2])))
    return up


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
        """Which evidence dominates: ``none``, ``lift``, ``dwell``, ``asymmetry``, ``rr`` or ``calibration``."""
        self._shape = (0.0, 0.0, 0.0, 0.0, 0.0)
        self.decided_confidence = 0.0
        """The confidence right after the last :meth:`decide` (without scoring again)."""
        self.parts: dict[str, float] = {}
        """The last score's parts by kind (positive: the axis direction is the inhale)."""

    def _zero_sums(self) -> None:
        n = len(RR_LAGS_S)
        self._sxy = np.zeros(n)
        self._sxx = 0.0
        self._syy = np.zeros(n)
        self._rr_s = 0.0

    def reset(self) -> None:
        """Forget the evidence (the axis changed: posture shift)."""
        self._shape = (0.0, 0.0, 0.0, 0.0, 0.0)
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

    def set_shape(self, dwell: float, lift_r: float, lift_mg: float, lying: float, seconds: float) -> None:
        """The shape evidence now (:meth:`psoas_sense.dsp.shape_evidence.ShapeEvidence.at`)."""
        self._shape = (dwell, lift_r, lift_mg, lying, seconds)

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

    def _shape_parts(self) -> tuple[float, float]:
        """(dwell, lift) evidence from the shape statistics."""
        dw, lift_r, lift_mg, lying, seconds = self._shape
        per = max(self.period_s, 1.0)
        n = min(seconds, DWELL_TIME_CONSTANT_S) / per
        dwell = DWELL_WEIGHT * dw * math.sqrt(max(0.0, n - 1.0))
        dwell = max(-DWELL_CLIP, min(DWELL_CLIP, dwell)) * ramp(per, DWELL_PERIOD_S)
        r = max(-0.99, min(0.99, lift_r))
        n = min(seconds, LIFT_TIME_CONSTANT_S) / per
        z = -math.copysign(max(0.0, abs(math.atanh(r)) - LIFT_R_FLOOR), r) * math.sqrt(max(0.0, n - 1.0))
        w = UPRIGHT_LIFT + (1.0 - UPRIGHT_LIFT) * ramp(lying, LYING_SHARE)
        w *= ramp(abs(lift_mg), LIFT_MG)
        return dwell, LIFT_WEIGHT * w * max(-LIFT_Z_CLIP, min(LIFT_Z_CLIP, z))

    def score(self) -> float:
        """The weighted evidence (positive: the axis direction is the inhale); updates
        :attr:`source` and :attr:`parts`."""
        asym = ASYM_WEIGHT * sum(self._asym) * ramp(self.period_s, ASYM_PERIOD_S)
        r = max(-0.99, min(0.99, self.rr_correlation))
        n = min(self._rr_s, RR_TIME_CONSTANT_S) / max(self.period_s, 1.0)
        z = math.copysign(max(0.0, abs(math.atanh(r)) - RR_R_FLOOR), r) * math.sqrt(max(0.0, n - 2.0))
        rr = RR_WEIGHT * max(-RR_Z_CLIP, min(RR_Z_CLIP, z)) * min(1.0, self._rr_s / RR_MIN_S) * self.rr_trust
        cal = CAL_WEIGHT * self._cal
        dwell, lift = self._shape_parts()
        self.parts = {"lift": lift, "dwell": dwell, "asymmetry": asym, "rr": rr, "calibration": cal}
        best = max(self.parts, key=lambda k: abs(self.parts[k]))
        self.source = best if self.parts[best] != 0 else "none"
        return lift + dwell + asym + rr + cal

    def decide(self, t_s: float = math.inf) -> bool:
        """Update the polarity from the evidence at time ``t_s``; True when it flipped. The
        confidence after it is in :attr:`decided_confidence`."""
        s = self.score()
        flip = self._should_flip(s, t_s)
        if flip:
            self.polarity = -self.polarity
            self._last_flip_s = t_s
            self._decided = True
        self.decided_confidence = self._confidence_of(s)
        return flip

    def _should_flip(self, s: float, t_s: float) -> bool:
        against = -s * self.polarity
        if against <= (FLIP_MARGIN if self._decided else FIRST_MARGIN):
            return False
        by_calibration = self._cal * self.polarity < 0
        return by_calibration or against >= STRONG_SCORE or t_s - self._last_flip_s >= MIN_FLIP_INTERVAL_S

    def _confidence_of(self, s: float) -> float:
        if s * self.polarity <= 0:
            return 0.0
        against = sum(-v * self.polarity for v in self.parts.values() if v * self.polarity < 0)
        return abs(s) / (abs(s) + 1.0 + DISAGREE_GAIN * against)

    @property
    def confidence(self) -> float:
        """``|score| / (|score| + 1 + DISAGREE_GAIN x against)`` when the polarity agrees with the
        score, else 0 (``against``: the evidence on the other side)."""
        return self._confidence_of(self.score())
