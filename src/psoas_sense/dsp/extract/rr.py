"""RR intervals: a breathing signal from respiratory sinus arrhythmia.

Heart rate rises on the inhale and falls on the exhale. The beats give an instantaneous heart
rate on a 4 Hz grid, band-passed to the breathing band and sharpened by a resonator tuned to the
breathing period tracked from the signal itself (:class:`RateTracker`).
"""

from __future__ import annotations

import math

import numpy as np

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
RR_RSA_LAG_S = 0.5
"""The heart's swing lags the breath it follows: the peak of the RR-derived signal comes this long
after the end of inspiration, beyond the filters' own delay (DEV, against belts and RIP bands:
the exhales came a median 0.50, 0.56 and 0.72 s late without it, and 0.32-0.61 s against the
still_chest marks, which themselves lag by the wearer's reaction time); subtracted like a delay."""
ESTIMATES_AT_ONCE = 512
"""Period estimates computed together (one batch of FFTs); bounds the memory of a long chunk."""


class RateTracker:
    """Causal dominant-period tracker: the peak of the recent signal's periodogram, re-estimated at
    fixed sample indexes (so the result does not depend on chunking).

    The estimates that fall within one chunk are computed together, as one batch of FFTs over
    the windows ending at each estimate's sample index (the same numbers as one at a time).
    """

    def __init__(self, fs_hz: float, window_s: float, min_period_s: float, max_period_s: float, every_s: float) -> None:
        self.fs_hz = fs_hz
        self._nb = int(window_s * fs_hz)
        self._buf = np.zeros(0)
        """The last (up to) ``window_s`` of samples."""
        self._lmin = max(1, int(min_period_s * fs_hz))
        self._lmax = int(max_period_s * fs_hz)
        self._every = max(1, int(every_s * fs_hz))
        self._n = 0
        self._nfft = 1024
        self._f = np.fft.rfftfreq(self._nfft, 1.0 / fs_hz)
        band = (self._f >= 1.0 / (self._lmax / fs_hz)) & (self._f <= 1.0 / (self._lmin / fs_hz))
        self._idx = np.nonzero(band)[0]
        self._fw = self._f ** RR_TRACK_F_POWER
        self._hann = np.hanning(self._nb)
        self.period_s: float | None = None
        """Current dominant period, once the signal has shown one."""

    def _estimate(self, x: np.ndarray) -> None:
        """Peak of the Hann-windowed periodogram weighted by f^2 (the derivative's spectrum):
        slow heart-rate swings (Mayer waves, drift) would otherwise outweigh breathing. ``x`` is
        the signal before the estimate's sample index (shorter than the window at the start)."""
        if x.shape[0] < 2 * self._lmax // 3 or not self._idx.size:
            return
        x = (x - x.mean()) * np.hanning(x.shape[0])
        p = np.abs(np.fft.rfft(x, self._nfft)) ** 2
        found = self._peaks(p[None, :])
        if not np.isnan(found[0]):
            self.period_s = float(found[0])

    def _peaks(self, p: np.ndarray) -> np.ndarray:
        """The period of each row's weighted periodogram peak (NaN where none stands out)."""
        w = p * self._fw
        idx = self._idx
        wb = w[:, idx]
        j = idx[np.argmax(wb, axis=1)]
        rows = np.arange(w.shape[0])
        wj = w[rows, j]
        ok = (wj > 0) & ~(wj < RR_TRACK_MIN_PEAK * np.sum(wb, axis=1) / idx.size)
        inner = (j > 0) & (j < w.shape[1] - 1)
        jm, jp = np.where(inner, j - 1, j), np.where(inner, j + 1, j)
        wm, wp = w[rows, jm], w[rows, jp]
        den = wm - 2 * wj + wp
        with np.errstate(divide="ignore", invalid="ignore"):
            off = np.where(inner & (den != 0), 0.5 * (wm - wp) / den, 0.0)
            fj = self._f[j] + off * (self._f[1] - self._f[0])
            return np.where(ok & (fj > 0), 1.0 / fj, np.nan)

    def process(self, y: np.ndarray) -> np.ndarray:
        """Feed samples; returns the period in force at each sample (NaN until known)."""
        m = y.shape[0]
        out = np.empty(m)
        n0, nb, every = self._n, self._nb, self._every
        hist = np.concatenate((self._buf, y))  # samples n0 - len(buf) ... n0 + m - 1
        base = n0 - self._buf.shape[0]
        # estimates are made at the positive multiples of ``every`` in [n0, n0 + m)
        gs = np.arange(max(every, -(-n0 // every) * every), n0 + m, every)
        k = 0
        prev = n0
        while k < gs.size:
            if gs[k] < nb or nb < 2 * self._lmax // 3 or not self._idx.size:  # one at a time
                self._fill(out, prev - n0, int(gs[k]) - n0)
                self._estimate(hist[max(0, int(gs[k]) - nb) - base : int(gs[k]) - base])
                prev = int(gs[k])
                k += 1
                continue
            batch = gs[k : k + ESTIMATES_AT_ONCE]
            ends = batch - base
            wins = np.lib.stride_tricks.sliding_window_view(hist, nb)[ends - nb]
            x = (wins - wins.mean(axis=1, keepdims=True)) * self._hann
            found = self._peaks(np.abs(np.fft.rfft(x, self._nfft, axis=1)) ** 2)
            # the period in force after each estimate: the last one found (NaN: none yet)
            last = np.maximum.accumulate(np.where(np.isnan(found), -1, np.arange(found.size)))
            before = np.nan if self.period_s is None else self.period_s
            held = np.where(last >= 0, found[np.maximum(last, 0)], before)
            self._fill(out, prev - n0, int(batch[0]) - n0)
            k += batch.size
            stop = int(gs[k]) if k < gs.size else n0 + m
            out[int(batch[0]) - n0 : stop - n0] = np.repeat(held, np.diff(np.append(batch, stop)))
            if last[-1] >= 0:
                self.period_s = float(held[-1])
            prev = stop
        self._fill(out, prev - n0, m)
        self._buf = hist[-nb:].copy() if hist.shape[0] > nb else hist
        self._n = n0 + m
        return out

    def _fill(self, out: np.ndarray, a: int, b: int) -> None:
        out[a:b] = np.nan if self.period_s is None else self.period_s


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
        self.filter_delay_s = phase_delay_s([(bp, RR_GRID_HZ)])
        """The band-pass's own delay at breathing frequencies, seconds."""
        self.delay_s = self.filter_delay_s + RR_RSA_LAG_S
        """What is subtracted from an extreme's time: the filter's delay and the heart's lag."""
        self._recent: list[float] = []
        self._track = RateTracker(RR_GRID_HZ, RR_TRACK_WINDOW_S, *RR_TRACK_PERIOD_S, RR_TRACK_EVERY_S)
        self._res_zi = (0.0, 0.0)
        self._res_period: float | None = None
        self._res_coef = (0.0, 0.0, 0.0, 0.0)

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """Gaps in the input skipped so far, ``(start_s, end_s)``, oldest first."""
        return self._rs.gaps

    def _resonate(self, y: np.ndarray, period: np.ndarray) -> np.ndarray:
        """``y`` through the peak filter tuned to each sample's period (passed on where the
        period is NaN, the filter's state kept).

        The period changes every few samples, so the filter is run here sample by sample, in
        direct form II transposed with the same operations as ``scipy.signal.lfilter`` and the
        coefficients of ``scipy.signal.iirpeak`` (same numbers, without a call per run).
        """
        m = y.shape[0]
        if not m:
            return y.copy()
        out = y.tolist()
        per = period.tolist()
        change = np.flatnonzero(period[1:] != period[:-1]) + 1  # NaN != NaN: cut between NaNs too
        bounds = [0, *change.tolist(), m]
        z0, z1 = self._res_zi
        for i, j in zip(bounds[:-1], bounds[1:]):
            p = per[i]
            if p != p:  # NaN: no period yet
                continue
            if self._res_period != p:
                self._res_coef = _peak_coefficients(1.0 / p, RR_RESONATOR_Q, RR_GRID_HZ)
                self._res_period = p
            b0, b2, a1, a2 = self._res_coef
            b1 = 0.0
            for k in range(i, j):
                x = out[k]
                yk = z0 + b0 * x
                z0 = z1 + x * b1 - yk * a1
                z1 = x * b2 - yk * a2
                out[k] = yk
        self._res_zi = (z0, z1)
        return np.asarray(out, dtype=np.float64)

    def _beats(self, t: np.ndarray, rr_ms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The times and heart rates of the plausible, non-ectopic beats among ``t``, ``rr_ms``.

        A beat is ectopic when it differs from the median of the 7 plausible beats before it
        (ectopic ones included; fewer at the start, none judged before the 4th) by more than
        :data:`RR_MAX_JUMP` of it.
        """
        t = np.asarray(t, dtype=np.float64)
        rr = np.asarray(rr_ms, dtype=np.float64)
        ok = (rr >= RR_MIN_MS) & (rr <= RR_MAX_MS)
        t, rr = t[ok], rr[ok]
        keep = np.ones(rr.shape[0], dtype=bool)
        recent = self._recent
        i = 0
        while i < rr.shape[0] and len(recent) < 7:  # the first beats of the stream
            if len(recent) >= 3:
                med = float(np.median(recent))
                keep[i] = not abs(rr[i] - med) > RR_MAX_JUMP * med
            recent = [*recent, float(rr[i])]
            i += 1
        if i < rr.shape[0]:
            hist = np.concatenate((np.asarray(recent[-7:]), rr[i:]))
            med = np.median(np.lib.stride_tricks.sliding_window_view(hist, 7)[:-1], axis=1)
            keep[i:] = ~(np.abs(rr[i:] - med) > RR_MAX_JUMP * med)
            recent = hist[-7:].tolist()
        self._recent = recent
        return t[keep], 60000.0 / rr[keep]

    def process(self, t: np.ndarray, rr_ms: np.ndarray) -> Extracted:
        """Feed RR intervals ``rr_ms`` ending at beat times ``t``; see
        :class:`~psoas_sense.dsp.extract.base.Extractor`."""
        keep_t, keep_hr = self._beats(t, rr_ms)
        if not keep_t.shape[0]:
            return Extracted.empty()
        gt, gy, ga, gaps = self._rs.process(keep_t, keep_hr)
        if gt.shape[0] == 0:
            return Extracted(gt, np.zeros(0), ga, gaps, self.delay_s)
        y = self._bp.process(gy)
        period = self._track.process(y)
        ex = Extracted(gt, self._resonate(y, period), ga, gaps, self.delay_s)
        ex.period = period
        return ex


def _peak_coefficients(f0_hz: float, q: float, fs_hz: float) -> tuple[float, float, float, float]:
    """``(b0, b2, a1, a2)`` of ``scipy.signal.iirpeak(f0_hz, q, fs=fs_hz)`` (``b1`` is 0,
    ``a0`` is 1), computed as SciPy does."""
    w0 = 2 * f0_hz / fs_hz
    bw = w0 / q * math.pi
    w0 = w0 * math.pi
    beta = math.tan(bw / 2.0)
    gain = 1.0 / (1.0 + beta)
    return 1.0 - gain, -(1.0 - gain), -2.0 * gain * math.cos(w0), 2.0 * gain - 1.0
