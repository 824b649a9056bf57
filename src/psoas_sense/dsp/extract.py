"""Breathing signal from each kind of input, causal and chunk-invariant.

Each extractor takes sample frames of one stream and returns a band-limited breathing signal on
a uniform grid, oriented so that larger means more air in, with the availability time of every
grid sample (the newest raw sample seen when it became known).
"""

from __future__ import annotations

import numpy as np

from psoas_sense.dsp.filters import (
    GridResampler,
    StreamingSOS,
    design_bandpass,
    design_lowpass,
)

GRID_HZ = 25.0
"""Rate of the breathing signal for waveform and accelerometer inputs."""
RR_GRID_HZ = 4.0
"""Rate of the breathing signal derived from RR intervals."""
BAND_HZ = (0.05, 1.0)
"""Breathing band: 3 to 60 breaths per minute."""
ANTIALIAS_HZ = 2.0
"""Low-pass applied at the raw rate before resampling onto the grid."""
RATE_ESTIMATE_SAMPLES = 32
"""Samples buffered to estimate the raw rate when the header does not give it."""
RR_MIN_MS, RR_MAX_MS = 300.0, 2000.0
"""Plausible RR intervals (200 to 30 beats per minute); others are dropped."""
RR_MAX_JUMP = 0.3
"""An RR interval that differs from the recent median by more than this share is ectopic."""


class Extracted:
    """A piece of breathing signal: grid times, values, availability times, gap indexes."""

    __slots__ = ("t", "y", "available", "gap_starts")

    def __init__(self, t: np.ndarray, y: np.ndarray, available: np.ndarray, gap_starts: list[int]) -> None:
        self.t = t
        self.y = y
        self.available = available
        self.gap_starts = gap_starts

    @staticmethod
    def empty() -> "Extracted":
        z = np.zeros(0)
        return Extracted(z, z, z, [])


class _RateGate:
    """Holds samples until the raw rate is known (from the header or estimated), then passes."""

    def __init__(self, rate_hz: float | None) -> None:
        self.rate_hz = rate_hz
        self._t: list[np.ndarray] = []
        self._y: list[np.ndarray] = []

    def push(self, t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        if self.rate_hz is not None:
            return t, y
        self._t.append(t)
        self._y.append(y)
        tt = np.concatenate(self._t)
        if np.unique(tt).shape[0] < RATE_ESTIMATE_SAMPLES:
            return None
        d = np.diff(np.unique(tt))
        self.rate_hz = float(1.0 / np.median(d))
        yy = np.concatenate(self._y, axis=0)
        self._t, self._y = [], []
        return tt, yy


class RespExtractor:
    """A breathing waveform (belt, impedance): anti-alias, resample, band-pass."""

    fs_hz = GRID_HZ

    def __init__(self, rate_hz: float | None = None) -> None:
        self._gate = _RateGate(rate_hz)
        self._aa: StreamingSOS | None = None
        self._rs = GridResampler(GRID_HZ)
        self._bp = StreamingSOS(design_bandpass(*BAND_HZ, GRID_HZ))

    def process(self, t: np.ndarray, v: np.ndarray) -> Extracted:
        got = self._gate.push(t, v)
        if got is None:
            return Extracted.empty()
        t, v = got
        if self._aa is None:
            rate = self._gate.rate_hz or GRID_HZ
            self._aa = StreamingSOS(design_lowpass(ANTIALIAS_HZ, rate)) if rate > 4 * ANTIALIAS_HZ else None
        x = self._aa.process(v) if self._aa is not None else np.asarray(v, dtype=np.float64)
        gt, gy, ga, gaps = self._rs.process(t, x)
        y = self._bp.process(gy)
        return Extracted(gt, y, ga, gaps)


class AccExtractor:
    """A 3-axis accelerometer: per-axis band-pass (removes gravity), then the principal axis.

    The principal axis of the band-passed motion is tracked with an exponentially weighted
    covariance, re-estimated every half second; its sign is kept continuous with the previous
    axis so the breathing trace never flips when the estimate updates.
    """

    fs_hz = GRID_HZ
    PCA_TIME_CONSTANT_S = 20.0
    PCA_UPDATE_S = 0.5

    def __init__(self, rate_hz: float | None = None) -> None:
        self._gate = _RateGate(rate_hz)
        self._aa: StreamingSOS | None = None
        self._rs = GridResampler(GRID_HZ, channels=3)
        self._bp = StreamingSOS(design_bandpass(*BAND_HZ, GRID_HZ), channels=3)
        self._cov = np.zeros((3, 3))
        self._beta = 1.0 / (self.PCA_TIME_CONSTANT_S * GRID_HZ)
        self._axis = np.array([0.0, 0.0, 1.0])
        self._n = 0
        self._update_every = max(1, int(round(self.PCA_UPDATE_S * GRID_HZ)))

    @property
    def axis(self) -> np.ndarray:
        """Current breathing axis (unit vector in sensor coordinates)."""
        return self._axis.copy()

    def process(self, t: np.ndarray, v: np.ndarray) -> Extracted:
        got = self._gate.push(t, np.asarray(v, dtype=np.float64).reshape(-1, 3))
        if got is None:
            return Extracted.empty()
        t, v = got
        if self._aa is None:
            rate = self._gate.rate_hz or GRID_HZ
            self._aa = StreamingSOS(design_lowpass(ANTIALIAS_HZ, rate), channels=3) if rate > 4 * ANTIALIAS_HZ else None
        x = self._aa.process(v) if self._aa is not None else v
        gt, gy, ga, gaps = self._rs.process(t, x)
        if gt.shape[0] == 0:
            return Extracted(gt, np.zeros(0), ga, gaps)
        b = self._bp.process(gy)
        out = np.empty(b.shape[0])
        beta = self._beta
        for i in range(b.shape[0]):
            xi = b[i]
            self._cov += beta * (np.outer(xi, xi) - self._cov)
            self._n += 1
            if self._n % self._update_every == 0:
                w, vecs = np.linalg.eigh(self._cov)
                ax = vecs[:, -1]
                if float(np.dot(ax, self._axis)) < 0:
                    ax = -ax
                self._axis = ax
            out[i] = float(np.dot(self._axis, xi))
        return Extracted(gt, out, ga, gaps)


class RRExtractor:
    """RR intervals: heart rate rises on the inhale and falls on the exhale (RSA).

    Each plausible beat gives an instantaneous heart rate at its time; the rate is linearly
    interpolated onto a 4 Hz grid (a grid point is known once the next beat arrives, so the
    signal lags by up to one beat) and band-passed to the breathing band. The timing of
    events from this signal is approximate: RSA lags the chest movement.
    """

    fs_hz = RR_GRID_HZ

    def __init__(self) -> None:
        self._rs = GridResampler(RR_GRID_HZ, max_gap_s=4.0)
        self._bp = StreamingSOS(design_bandpass(BAND_HZ[0], 0.5, RR_GRID_HZ))
        self._recent: list[float] = []

    def process(self, t: np.ndarray, rr_ms: np.ndarray) -> Extracted:
        keep_t: list[float] = []
        keep_hr: list[float] = []
        for ti, rr in zip(np.asarray(t, dtype=np.float64), np.asarray(rr_ms, dtype=np.float64)):
            if not (RR_MIN_MS <= rr <= RR_MAX_MS):
                continue
            if len(self._recent) >= 3:
                med = float(np.median(self._recent))
                if abs(rr - med) > RR_MAX_JUMP * med:
                    # ectopic or missed beat: do not let it into the rate, but let the median adapt
                    self._recent = (self._recent + [rr])[-5:]
                    continue
            self._recent = (self._recent + [rr])[-5:]
            keep_t.append(float(ti))
            keep_hr.append(60000.0 / rr)
        if not keep_t:
            return Extracted.empty()
        gt, gy, ga, gaps = self._rs.process(np.asarray(keep_t), np.asarray(keep_hr))
        y = self._bp.process(gy)
        return Extracted(gt, y, ga, gaps)
