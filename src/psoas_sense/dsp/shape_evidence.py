"""What the shape of an accelerometer's breathing signal says about the inhale direction.

Two kinds of evidence, both read per grid sample in the *axis frame* (the projection on the
breathing axis before any polarity) and both through the same band-pass:

* **Dwell** (the end-expiratory pause): breathing lingers at the end of the exhale, so the lung
  volume spends longer below its mean than above it (short inspiratory peaks, long troughs). More
  time below zero of the band-passed axis signal says the axis direction is the inhale. Over 90 s
  this share has the inhale sign at the end of 36 of 36 windows of the sternum recordings and 81
  of 83 of the Hexoskin record (still_chest DEV), where the skewness had it in 34 and 60 (a fidget
  or a cough takes the third moment over), and the durations of the half-breaths (the inhale is
  shorter) point the wrong way on most of them: the pause at the bottom counts into the
  half-breath from trough to peak.
* **Lift**: a tilt turns the gravity vector the sensor sees but leaves its magnitude unchanged,
  so the high-passed magnitude of the acceleration is the body's own acceleration along gravity.
  For a height that rises by ``h`` on each breath in, that acceleration is ``-w^2 h``: opposite to
  the breathing signal. Lying on the back, the front of the body rises on every breath in,
  wherever the sensor sits on the chest or belly, so the magnitude anticorrelates with the inhale
  (sternum supine: r = -0.54 to -0.64 in every window of the DEV recordings; sitting -0.9). Upright
  it depends on where the sensor sits (the sternum rises; a sensor low on the trunk, like the
  Hexoskin's pocket, sinks as the belly pushes out: r = +0.8), so it counts in full only lying,
  judged from gravity along the sensor's z axis (the axis through the face of a device lying flat
  on the chest, as for a phone, a Polar H10 or a sensor board).

:class:`ShapeEvidence` keeps exponentially weighted moments per sample, so the evidence at any
sample (the one that confirmed a breath) is the same whatever the chunking.
"""

from __future__ import annotations

import math

import numpy as np

from psoas_sense.dsp.extract.base import AxisShape, ExpWeightedMean
from psoas_sense.dsp.filters import StreamingSOS, design_bandpass

BAND_HZ = (0.08, 0.8)
"""Band-pass of both signals before their moments are taken (drift and heartbeat out, the
breath's first harmonics in)."""
TIME_CONSTANT_S = 30.0
"""Memory of the lift moments."""
DWELL_TIME_CONSTANT_S = 90.0
"""Memory of the dwell statistic: long, since over 30 s alone a real upright chest has the right
sign only about three times in four (Hexoskin record), and the inhale direction of an axis
changes only with the posture (over 60 s: 90 % of the windows, 90 s: 98 %)."""
WARMUP_S = 10.0
"""Seconds after a reset whose samples do not count (the filters settle: the magnitude's
high-pass rings for several seconds after the start or a posture shift)."""


class ShapeEvidence:
    """Running dwell and lift statistics of an accelerometer's breathing axis.

    Args:
        fs_hz: rate of the grid the samples come on.
    """

    def __init__(self, fs_hz: float) -> None:
        self.fs_hz = fs_hz
        self._sos = design_bandpass(BAND_HZ[0], BAND_HZ[1], fs_hz, order=2)
        self._warmup_n = int(round(WARMUP_S * fs_hz))
        self.reset()

    def reset(self) -> None:
        """Forget everything (a posture shift: a new axis, perhaps a new sign)."""
        self._bp = StreamingSOS(self._sos, channels=2)
        # u^2, u v, v^2, lying, and 1 for counted samples (the normaliser)
        self._ew = ExpWeightedMean(TIME_CONSTANT_S, self.fs_hz, channels=5)
        # time below zero minus time above (-sign(u)), and its normaliser
        self._ew_dwell = ExpWeightedMean(DWELL_TIME_CONSTANT_S, self.fs_hz, channels=2)
        self._moments = np.zeros((0, 7))
        self._last = np.zeros(7)
        # samples seen since the reset (an integer: a running sum of seconds would differ in the
        # last bit with the chunking), before this piece and after each of its samples
        self._count = 0
        self._counts = np.zeros(0, dtype=np.int64)

    def process(self, shape: AxisShape) -> None:
        """Take the samples of one piece of signal (no body motion in it); :meth:`at` then reads
        the statistics after any of them."""
        n = shape.axis_y.shape[0]
        self._counts = self._count + np.arange(1, n + 1, dtype=np.int64)
        if n == 0:
            self._moments = np.zeros((0, 7))
            return
        self._count += n
        lift_ok = np.isfinite(shape.lift)
        uv = self._bp.process(np.stack((shape.axis_y, np.where(lift_ok, shape.lift, 0.0)), axis=1))
        u, v = uv[:, 0], uv[:, 1] * lift_ok  # (no lift evidence while an axis is pinned)
        w = (self._counts > self._warmup_n).astype(np.float64)
        ones = np.ones(n)
        lift = self._ew.process(np.stack((u * u, u * v, v * v, shape.lying, ones), axis=1) * w[:, None], init=0.0)
        dwell = self._ew_dwell.process(np.stack((-np.sign(u), ones), axis=1) * w[:, None], init=0.0)
        self._moments = np.concatenate((lift, dwell), axis=1)
        self._last = self._moments[-1].copy()

    def at(self, i: int | None = None) -> tuple[float, float, float, float, float]:
        """``(dwell, lift_r, lift_mg, lying, seconds)`` after sample ``i`` of the last piece (its
        last sample when None): the share of time the axis signal spent below zero minus the share
        above (-1..1), the correlation of the magnitude with it and the RMS of the part of the
        magnitude that goes with it (mG), the share of gravity on z, and the seconds of still
        signal counted since the reset (after the warm-up)."""
        if i is None or self._moments.shape[0] == 0:
            m, count = self._last, self._count
        else:
            m, count = self._moments[i], int(self._counts[i])
        sec = max(0, count - self._warmup_n) / self.fs_hz
        norm, norm_dwell = m[4], m[6]
        if norm <= 0 or m[0] <= 0 or norm_dwell <= 0:
            return 0.0, 0.0, 0.0, 0.0, sec
        u2, uv, v2, lying = m[0] / norm, m[1] / norm, m[2] / norm, m[3] / norm
        dwell = m[5] / norm_dwell
        r = uv / math.sqrt(u2 * v2) if v2 > 0 else 0.0
        return float(dwell), float(r), float(r * math.sqrt(max(v2, 0.0))), float(lying), sec
