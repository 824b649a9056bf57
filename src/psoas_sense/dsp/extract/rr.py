"""RR intervals: a breathing signal from respiratory sinus arrhythmia.

Heart rate rises on the inhale and falls on the exhale. The beats give an instantaneous heart
rate on a 4 Hz grid, band-passed to the breathing band and sharpened by a resonator tuned to the
breathing period tracked from the signal itself (:class:`RateTracker`).
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from psoas_sense.dsp.extract.base import Extracted, phase_delay_s
from psoas_sense.dsp.filters import GridResampler, StreamingSOS, design_bandpass

RR_GRID_HZ = 4.0
"""Rate of the breathing signal derived from RR intervals."""
RR_MIN_MS, RR_MAX_MS = 300.0, 2000.0
"""Plausible RR intervals (200 to 30 beats per minute); others are dropped."""
RR_MAX_GAP_S = 4.0
"""A longer gap between beats is skipped, not bridged, and reported."""
RR_MAX_JUMP = 0.25
"""An RR interval that differs from the recent median by more than this share is ectopic."""
RR_BAND_HZ = (0.05, 0.6)
"""Band of the RR-derived breathing signal."""
RR_TRACK_WINDOW_S = 32.0
"""Heart-rate history whose autocorrelation gives the breathing period (RR input)."""
RR_TRACK_PERIOD_S = (60.0 / 40.0, 60.0 / 3.0)
"""Breathing periods the tracker looks for (40 down to 3 breaths/min)."""
RR_TRACK_EVERY_S = 2.0
"""How often that period is re-estimated."""
RR_TRACK_F_POWER = 2.0
"""The periodogram is weighted by f to this power before its peak is taken."""
RR_TRACK_MIN_PEAK = 3.0
"""The spectral peak must stand this many times above the band's mean to be trusted."""
RR_RESONATOR_Q = 1.5
"""Quality factor of the resonator tuned to the breathing period (RR input)."""


class RateTracker:
    """Causal dominant-period tracker: the peak of the recent signal's periodogram, re-estimated at
    fixed sample indexes (so the result does not depend on chunking)."""

    def __init__(self, fs_hz: float, window_s: float, min_period_s: float, max_period_s: float, every_s: float) -> None:
        self.fs_hz = fs_hz
        self._buf = np.zeros(int(window_s * fs_hz))
        self._filled = 0
        self._lmin = max(1, int(min_period_s * fs_hz))
        self._lmax = int(max_period_s * fs_hz)
        self._every = max(1, int(every_s * fs_hz))
        self._n = 0
        self.period_s: float | None = None
        """Current dominant period, once the signal has shown one."""

    def _estimate(self) -> None:
        """Peak of the Hann-windowed periodogram weighted by f^2 (the derivative's spectrum):
        slow heart-rate swings (Mayer waves, drift) would otherwise outweigh breathing."""
        x = self._buf[-self._filled :] if self._filled < self._buf.shape[0] else self._buf
        if x.shape[0] < 2 * self._lmax // 3:
            return
        x = (x - x.mean()) * np.hanning(x.shape[0])
        nfft = 1024
        p = np.abs(np.fft.rfft(x, nfft)) ** 2
        f = np.fft.rfftfreq(nfft, 1.0 / self.fs_hz)
        band = (f >= 1.0 / (self._lmax / self.fs_hz)) & (f <= 1.0 / (self._lmin / self.fs_hz))
        if not band.any():
            return
        w = p * f ** RR_TRACK_F_POWER
        idx = np.nonzero(band)[0]
        j = int(idx[np.argmax(w[idx])])
        if w[j] <= 0 or w[j] < RR_TRACK_MIN_PEAK * float(np.sum(w[idx])) / idx.size:
            return
        off = 0.0
        if 0 < j < w.shape[0] - 1:
            den = w[j - 1] - 2 * w[j] + w[j + 1]
            off = 0.5 * (w[j - 1] - w[j + 1]) / den if den != 0 else 0.0
        fj = f[j] + off * (f[1] - f[0])
        if fj > 0:
            self.period_s = float(1.0 / fj)

    def process(self, y: np.ndarray) -> np.ndarray:
        """Feed samples; returns the period in force at each sample (NaN until known)."""
        m = y.shape[0]
        out = np.empty(m)
        first = (-self._n) % self._every
        cuts = sorted({0, m, *range(first, m, self._every)})
        nb = self._buf.shape[0]
        for a, b in zip(cuts[:-1], cuts[1:]):
            if a != 0 or first == 0:
                if (self._n + a) % self._every == 0 and self._n + a > 0:
                    self._estimate()
            out[a:b] = np.nan if self.period_s is None else self.period_s
            seg = y[a:b]
            self._buf = np.concatenate((self._buf, seg))[-nb:]
            self._filled = min(nb, self._filled + seg.shape[0])
        self._n += m
        return out


class RRExtractor:
    """RR intervals: heart rate rises on the inhale and falls on the exhale (RSA).

    Each plausible beat gives an instantaneous heart rate at its time; ectopic beats (a jump
    from the recent median) are dropped, so irregular beat times only widen the spacing. The
    rate is linearly interpolated onto a 4 Hz grid (a grid point is known once the next beat
    arrives, so the signal lags by up to one beat) and band-passed to the breathing band. Heart
    rate also carries slower (Mayer) and irregular swings, so the dominant breathing period is
    tracked (:class:`RateTracker`) and a resonator tuned to it (``iirpeak``) keeps one swing
    per breath. Events from this signal are approximate: RSA lags the chest movement.
    """

    fs_hz = RR_GRID_HZ
    """Rate of the breathing signal, Hz."""

    def __init__(self) -> None:
        self._rs = GridResampler(RR_GRID_HZ, max_gap_s=RR_MAX_GAP_S)
        bp = design_bandpass(*RR_BAND_HZ, RR_GRID_HZ)
        self._bp = StreamingSOS(bp)
        self.delay_s = phase_delay_s([(bp, RR_GRID_HZ)])
        self._recent: list[float] = []
        self._track = RateTracker(RR_GRID_HZ, RR_TRACK_WINDOW_S, *RR_TRACK_PERIOD_S, RR_TRACK_EVERY_S)
        self._res_zi = np.zeros(2)
        self._last_y = 0.0
        self._res_period: float | None = None
        self._res_ba: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """Gaps in the input skipped so far, ``(start_s, end_s)``, oldest first."""
        return self._rs.gaps

    def _resonate(self, y: np.ndarray, period: np.ndarray) -> np.ndarray:
        out = np.empty_like(y)
        m = y.shape[0]
        i = 0
        while i < m:
            p = period[i]
            j = i + 1
            while j < m and (period[j] == p or (np.isnan(p) and np.isnan(period[j]))):
                j += 1
            if np.isnan(p):
                out[i:j] = y[i:j]
            else:
                if self._res_period != p:
                    b, a = sps.iirpeak(1.0 / p, RR_RESONATOR_Q, fs=RR_GRID_HZ)
                    self._res_ba = (b, a)
                    self._res_period = float(p)
                assert self._res_ba is not None
                b, a = self._res_ba
                out[i:j], self._res_zi = sps.lfilter(b, a, y[i:j], zi=self._res_zi)
            i = j
        return out

    def process(self, t: np.ndarray, rr_ms: np.ndarray) -> Extracted:
        """Feed RR intervals ``rr_ms`` ending at beat times ``t``; see
        :class:`~psoas_sense.dsp.extract.base.Extractor`."""
        keep_t: list[float] = []
        keep_hr: list[float] = []
        for ti, rr in zip(np.asarray(t, dtype=np.float64), np.asarray(rr_ms, dtype=np.float64)):
            if not (RR_MIN_MS <= rr <= RR_MAX_MS):
                continue
            if len(self._recent) >= 3:
                med = float(np.median(self._recent))
                if abs(rr - med) > RR_MAX_JUMP * med:
                    # ectopic or missed beat: keep it out of the rate, let the median adapt
                    self._recent = (self._recent + [rr])[-7:]
                    continue
            self._recent = (self._recent + [rr])[-7:]
            keep_t.append(float(ti))
            keep_hr.append(60000.0 / rr)
        if not keep_t:
            return Extracted.empty()
        gt, gy, ga, gaps = self._rs.process(np.asarray(keep_t), np.asarray(keep_hr))
        if gt.shape[0] == 0:
            return Extracted(gt, np.zeros(0), ga, gaps, self.delay_s)
        y = self._bp.process(gy)
        period = self._track.process(y)
        ex = Extracted(gt, self._resonate(y, period), ga, gaps, self.delay_s)
        ex.period = period
        return ex
