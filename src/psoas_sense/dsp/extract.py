"""Breathing signal from each kind of input, causal and chunk-invariant.

Each extractor takes sample frames of one stream and returns a breathing signal on a uniform
grid, with the availability time of every grid sample (the newest raw sample seen when it became
known) and the delay of the causal filters at breathing frequencies (so the detector can date a
phase change in sensor time).

Filtering is kept short on purpose (latency is the product): a 2nd-order low-pass at the raw
rate and a 1st-order high-pass on the grid. Heartbeat ripple that survives it (impedance
pneumography, chest accelerometers) is measured causally, and only when it is strong is it
cancelled (:class:`RippleGuard`): on waveforms by notches at the tracked heart rate (little
delay), with a one-heart-period comb on top for what they leave; on accelerometers by the comb.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from scipy import signal as sps

from psoas_sense.dsp.filters import (
    GridResampler,
    StreamingSOS,
    design_bandpass,
    design_highpass,
    design_lowpass,
)
from psoas_sense.model import SignalNotice

GRID_HZ = 25.0
"""Rate of the breathing signal for waveform and accelerometer inputs."""
RR_GRID_HZ = 4.0
"""Rate of the breathing signal derived from RR intervals."""
FAST_LP_HZ = 1.5
"""Low-pass (2nd order, at the raw rate) of the fast path: anti-alias and noise."""
HP_HZ = 0.03
"""High-pass (1st order) removing the baseline / gravity; its phase lead is welcome."""
COMB_MIN_BPM, COMB_MAX_BPM = 40.0, 180.0
"""Heart rates the ripple comb can cancel."""
COMB_WINDOW_S = 8.0
"""Ripple history whose autocorrelation gives the heart period."""
COMB_UPDATE_S = 1.0
"""How often the heart period is re-estimated."""
COMB_MIN_CORR = 0.3
"""The ripple must be at least this periodic (normalised autocorrelation) to retune the comb."""
RIPPLE_BAND_HZ = (0.8, 3.0)
"""Band where heartbeat ripple lives (above breathing up to 48/min, below motion)."""
RIPPLE_TC_S = 10.0
"""Time constant of the ripple and breathing power estimates."""
RIPPLE_RATIO = (0.04, 0.15)
"""Ripple/breathing power ratio at which the slow path starts / is fully faded in."""
RIPPLE_RATIO_NOTCHED = (0.03, 0.1)
"""The same for the ripple the notches leave (above the ripple band's lower edge, so harmonics
they do not notch count too): the comb is faded in on top of them."""
NOTCH_SETTLE_S = 2.0 * RIPPLE_TC_S
"""Until then the comb is used whatever the notches achieve."""
RIPPLE_RES_TC_S = 3.0
"""Time constant of the RMS of the ripple left in the output (for the detector's margin)."""
RIPPLE_FADE_TC_S = 2.0
"""Smoothing of the fade weight."""
RESP_RIPPLE_CANCEL = "notch"
"""How the heartbeat ripple is removed from a breathing waveform (impedance, belt): ``notch``
(IIR notches at the heart rate and its 2nd harmonic, a few tens of ms of delay at breathing
frequencies, with the comb on top only for the ripple they leave) or ``comb`` (moving average
over one heart period: cancels every harmonic exactly, but delays the breath by half a heart
period)."""
ACC_RIPPLE_CANCEL = "comb"
"""The same for accelerometers. ``comb``: on the DEV accelerometer recordings the notches
changed nothing, and they cost about 15 % of the accelerometer path's time (speed budget)."""
NOTCH_Q = 2.0
"""Quality factor of the ripple notches (bandwidth = heart rate / Q, wide enough for the beat-to-beat
variation of the heart rate and the error of its estimate)."""
NOTCH_HARMONICS = 2
"""Heart-rate harmonics notched (1 = the fundamental only)."""
NOTCH_MIN_HZ = 1.0
"""Below this heart rate (60/min) the notches would sit among the breath's own harmonics, and
their phase would bend the breath's shape; the comb (linear phase) is used instead."""
REF_FREQ_HZ = 0.25
"""Frequency at which the filters' delay is evaluated (15 breaths/min)."""
RATE_ESTIMATE_SAMPLES = 32
"""Samples buffered to estimate the raw rate when the header does not give it."""
RR_MIN_MS, RR_MAX_MS = 300.0, 2000.0
"""Plausible RR intervals (200 to 30 beats per minute); others are dropped."""
RR_MAX_JUMP = 0.25
"""An RR interval that differs from the recent median by more than this share is ectopic."""
RR_BAND_HZ = (0.05, 0.6)
"""Band of the RR-derived breathing signal."""
RR_TRACK_WINDOW_S = 32.0
"""Heart-rate history whose autocorrelation gives the breathing period (RR input)."""
RR_TRACK_EVERY_S = 2.0
"""How often that period is re-estimated."""
RR_TRACK_F_POWER = 2.0
"""The periodogram is weighted by f to this power before its peak is taken."""
RR_TRACK_MIN_PEAK = 3.0
"""The spectral peak must stand this many times above the band's mean to be trusted."""
RR_RESONATOR_Q = 1.5
"""Quality factor of the resonator tuned to the breathing period (RR input)."""
STUCK_MG = 1990.0
"""An accelerometer axis at or beyond this magnitude is pinned (H10 firmware fault: -2000 mG)."""
STUCK_REPORT_S = 1.0
"""A pinned axis is reported once it has stayed pinned this long."""
MOTION_MG_PER_S = 400.0
"""Faster change than this on any axis (after the fast low-pass) may be body motion..."""
MOTION_RMS_FACTOR = 6.0
"""... when it is also this many times the recent RMS rate of change ..."""
MOTION_RMS_TC_S = 20.0
"""... taken over this time constant."""
MOTION_HOLDOFF_S = 1.0
"""After motion the high-pass and PCA restart from the new posture this long after it stops."""
PCA_TIME_CONSTANT_S = 20.0
"""Memory of the exponentially weighted covariance that finds the breathing axis."""
PCA_UPDATE_S = 0.5
"""How often the breathing axis is re-estimated."""
PCA_FORGET_ON_SHIFT = 0.05
"""Share of the covariance kept across a posture shift."""


def phase_delay_s(sos_list: list[tuple[np.ndarray, float]], f_hz: float = REF_FREQ_HZ) -> float:
    """Phase delay at ``f_hz`` of a cascade of (sos, fs) filters, seconds."""
    ph = 0.0
    for sos, fs in sos_list:
        _, h = sps.sosfreqz(sos, worN=[f_hz], fs=fs)
        ph += float(np.angle(h[0]))
    return -ph / (2 * math.pi * f_hz)


class Extracted:
    """A piece of breathing signal: grid times, values, availability, delay, gap indexes, notices."""

    __slots__ = ("t", "y", "available", "gap_starts", "delay", "notices", "resets", "ripple", "period")

    def __init__(
        self,
        t: np.ndarray,
        y: np.ndarray,
        available: np.ndarray,
        gap_starts: list[int],
        delay: np.ndarray | float = 0.0,
        notices: list[SignalNotice] | None = None,
        resets: list[int] | None = None,
        ripple: np.ndarray | float = 0.0,
    ) -> None:
        self.t = t
        self.y = y
        self.available = available
        self.gap_starts = gap_starts
        self.delay = delay
        self.notices = notices or []
        self.resets = resets or []
        """Indexes before which the detector should forget the half-breath (posture shifts)."""
        self.ripple = ripple
        """RMS of the heartbeat ripple left in ``y``, per sample (0 when unknown)."""
        self.period: np.ndarray | None = None
        """Breathing period tracked by the extractor, per sample (NaN unknown), RR input only."""

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


class _EW:
    """Exponentially weighted mean (one-pole low-pass) with carried state, vectorised."""

    def __init__(self, tc_s: float, fs_hz: float, channels: int = 1) -> None:
        self.b = 1.0 / max(1.0, tc_s * fs_hz)
        self._num = np.array([self.b])
        self._den = np.array([1.0, -(1.0 - self.b)])
        self._zi: np.ndarray | None = None
        self.channels = channels

    def process(self, x: np.ndarray, init: np.ndarray | float | None = None) -> np.ndarray:
        x2 = x.reshape(x.shape[0], -1)
        if x2.shape[0] == 0:
            return x.copy()
        if self._zi is None:
            start = x2[0] if init is None else np.broadcast_to(np.asarray(init, float), x2[0].shape)
            self._zi = ((1.0 - self.b) * start).reshape(1, -1)
        y, self._zi = sps.lfilter(self._num, self._den, x2, axis=0, zi=self._zi)
        return y.reshape(x.shape)

    def scale_state(self, k: float) -> None:
        if self._zi is not None:
            self._zi = self._zi * k


class RippleGuard:
    """Removes heartbeat ripple when it is strong (grid rate, 1 channel): notches at the heart
    rate, and a comb (moving average over one heart period) for what they leave.

    The heart period is found causally from the autocorrelation of the ripple band over the
    last ``COMB_WINDOW_S``, re-estimated every ``COMB_UPDATE_S`` (at fixed grid indexes, so the
    result does not depend on chunking). The ripple power (band ``RIPPLE_BAND_HZ``) over the
    breathing power sets a fade weight between the fast path and the ripple-free path:

    * ``notch`` (heart rate at least ``NOTCH_MIN_HZ``): 2nd-order notches at the heart rate and
      its harmonics, a few tens of ms of delay at breathing frequencies. When the ripple they
      leave is still strong (measured the same way), the comb is faded in on top.
    * ``comb``: a moving average over exactly one period cancels the heartbeat and all its
      harmonics with a linear phase, at the price of half a heart period of delay.
    """

    def __init__(self, fs_hz: float, base_delay_s: float, method: str = RESP_RIPPLE_CANCEL) -> None:
        if method not in ("notch", "comb"):
            raise ValueError(f"unknown ripple cancellation {method!r}")
        self.fs_hz = fs_hz
        self.method = method
        """``notch`` or ``comb`` (see ``RESP_RIPPLE_CANCEL``)."""
        self._rip = StreamingSOS(design_bandpass(*RIPPLE_BAND_HZ, fs_hz))
        self._rip_n = StreamingSOS(design_highpass(RIPPLE_BAND_HZ[0], fs_hz, order=2))
        # ripple, breathing; the same after the notches
        self._pow = _EW(RIPPLE_TC_S, fs_hz, channels=4)
        self._fade = _EW(RIPPLE_FADE_TC_S, fs_hz, channels=2)  # any cancellation, comb
        self._p_res = _EW(RIPPLE_RES_TC_S, fs_hz)
        self.fast_delay_s = base_delay_s
        self._lmin = max(2, int(round(fs_hz * 60.0 / COMB_MAX_BPM)))
        self._lmax = int(round(fs_hz * 60.0 / COMB_MIN_BPM))
        self._L = int(round(fs_hz * 60.0 / 75.0))
        self._hist = np.zeros(self._lmax)  # last inputs, for the moving average
        self._rbuf = np.zeros(int(COMB_WINDOW_S * fs_hz))  # last ripple-band samples
        self._n = 0
        self._every = max(1, int(round(COMB_UPDATE_S * fs_hz)))
        self.heart_period_s = self._L / fs_hz
        """Current estimate of the heartbeat period seen as ripple."""
        self._notch_for = 0.0  # heart period the notches are tuned to
        self._notch_ba: list[tuple[np.ndarray, np.ndarray]] = []
        self._notch_zi: list[np.ndarray] = []
        self._notch_delay = 0.0

    def _tune_notch(self) -> None:
        """(Re)tune the notches, each written as ``x - resonator(x)``, in cascade.

        The resonators are the complements of 2nd-order notches of quality ``NOTCH_Q`` (in closed
        form, as ``scipy.signal.iirpeak``, because they are retuned often). Their state holds
        only ripple-band content, so a retune leaves no transient from the much larger
        breathing signal."""
        if self._notch_ba and self.heart_period_s == self._notch_for:
            return
        f0 = 1.0 / self.heart_period_s
        z = cmath.exp(-2j * math.pi * REF_FREQ_HZ / self.fs_hz)  # z^-1 at the reference frequency
        h_ref = 1.0 + 0j  # the cascade of notches there, for its delay
        bas: list[tuple[np.ndarray, np.ndarray]] = []
        for h in range(1, NOTCH_HARMONICS + 1):
            if h * f0 >= 0.45 * self.fs_hz:
                break
            w0 = 2.0 * math.pi * h * f0 / self.fs_hz
            gain = 1.0 / (1.0 + math.tan(0.5 * w0 / NOTCH_Q))
            a = np.array([1.0, -2.0 * gain * math.cos(w0), 2.0 * gain - 1.0])
            bas.append((np.array([1.0 - gain, 0.0, gain - 1.0]), a))
            h_ref *= gain * (1.0 - 2.0 * math.cos(w0) * z + z * z) / (a[0] + a[1] * z + a[2] * z * z)
        while len(self._notch_zi) < len(bas):
            self._notch_zi.append(np.zeros(2))
        self._notch_ba = bas
        self._notch_for = self.heart_period_s
        self._notch_delay = -cmath.phase(h_ref) / (2.0 * math.pi * REF_FREQ_HZ)

    def _estimate(self) -> None:
        x = self._rbuf
        e0 = float(np.dot(x, x))
        if e0 <= 0:
            return
        lags = np.arange(self._lmin, self._lmax + 1)
        full = np.correlate(x, x, mode="full")  # one C call; full[n - 1 + k] = sum x[k:] * x[:-k]
        r = full[x.shape[0] - 1 + lags] / e0
        best = float(np.max(r))
        if best < COMB_MIN_CORR:
            return
        k = int(lags[np.nonzero(r >= 0.9 * best)[0][0]])
        # the first lag near the maximum: the fundamental, not a multiple; refine to its local peak
        j = k - self._lmin
        while j + 1 < r.size and r[j + 1] > r[j]:
            j += 1
        self._L = int(lags[j])
        # sub-sample period (parabola through the peak) for the notches
        frac = 0.0
        if 0 < j < r.size - 1:
            den = r[j - 1] - 2.0 * r[j] + r[j + 1]
            if den < 0:
                frac = float(np.clip(0.5 * (r[j - 1] - r[j + 1]) / den, -0.5, 0.5))
        self.heart_period_s = (self._L + frac) / self.fs_hz

    def process(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns (signal, delay per sample, RMS of the ripple left per sample)."""
        m = y.shape[0]
        if m == 0:
            return y, np.zeros(0), np.zeros(0)
        r = self._rip.process(y)
        notched = np.empty(m)
        ndly = np.empty(m)
        comb = np.empty(m)
        mid = np.empty(m)
        cdly = np.empty(m)
        use_notch = np.zeros(m, dtype=bool)
        ext = np.concatenate((self._hist, y))
        rb = np.concatenate((self._rbuf, r))
        nb = self._rbuf.shape[0]
        lm = self._lmax
        first = (-self._n) % self._every
        cuts = sorted({0, m, *range(first, m, self._every)})
        notch_on = self.method == "notch"
        for a, b in zip(cuts[:-1], cuts[1:]):
            if a == first or (a > first and (a - first) % self._every == 0):
                self._rbuf = rb[a : a + nb]
                self._estimate()
            if notch_on:
                self._tune_notch()
                seg = y[a:b]
                for h, (nb_, na_) in enumerate(self._notch_ba):
                    pk, self._notch_zi[h] = sps.lfilter(nb_, na_, seg, zi=self._notch_zi[h])
                    seg = seg - pk
                notched[a:b] = seg
                ndly[a:b] = self._notch_delay
                use_notch[a:b] = 1.0 / self.heart_period_s >= NOTCH_MIN_HZ
            L = self._L
            win = np.lib.stride_tricks.sliding_window_view(ext[lm + a - L + 1 : lm + b], L)
            comb[a:b] = win.sum(axis=1) / L
            cdly[a:b] = 0.5 * (L - 1) / self.fs_hz
            # the input delayed like the comb (half a period): their difference is the ripple
            h0, h1 = (L - 1) // 2, L // 2
            mid[a:b] = 0.5 * (ext[lm + a - h0 : lm + b - h0] + ext[lm + a - h1 : lm + b - h1])
        self._hist = ext[-lm:].copy()
        self._rbuf = rb[-nb:].copy()
        self._n += m
        br = y - r  # what is left outside the ripple band: breathing
        # what the notches leave above the ripple band's lower edge (the harmonics they do not
        # notch count too), against the breathing left below it
        r_n = self._rip_n.process(notched) if notch_on else r
        sq = np.empty((m, 4))
        sq[:, 0] = r
        sq[:, 1] = br
        sq[:, 2] = r_n
        sq[:, 3] = notched - r_n if notch_on else br
        sq *= sq
        pw = self._pow.process(sq, init=0.0)
        ratio = pw[:, ::2] / (pw[:, 1::2] + 1e-12)
        lo, hi = np.array([RIPPLE_RATIO, RIPPLE_RATIO_NOTCHED]).T
        want = np.clip((ratio - lo) / (hi - lo), 0.0, 1.0)
        # the comb share starts full: the notches must first show that they are enough, once the
        # power estimates have settled (the high-pass's start transient inflates the breathing power)
        idx = np.arange(self._n - m, self._n)
        want[idx < NOTCH_SETTLE_S * self.fs_hz, 1] = 1.0
        fades = self._fade.process(want, init=np.array([0.0, 1.0]))
        w = fades[:, 0]
        res = mid - comb
        if not use_notch.any():
            pres = self._p_res.process(res * res, init=0.0)
            return (1.0 - w) * y + w * comb, self.fast_delay_s + w * cdly, (1.0 - w) * np.sqrt(pres)
        # notches first (little delay); the comb only for the ripple they leave (harmonics, a
        # heart rate changing faster than its estimate)
        wc = np.where(use_notch, w * fades[:, 1], w)  # comb share
        wn = w - wc  # notch share
        out = (1.0 - w) * y + wn * notched + wc * comb
        delay = self.fast_delay_s + wn * ndly + wc * cdly
        left = np.where(use_notch, (1.0 - w) * res + w * r_n, res)
        pres = self._p_res.process(left * left, init=0.0)
        return out, delay, np.where(use_notch, 1.0 - wc, 1.0 - w) * np.sqrt(pres)


class RespExtractor:
    """A breathing waveform (belt, impedance): low-pass, resample, high-pass, ripple guard."""

    fs_hz = GRID_HZ

    def __init__(self, rate_hz: float | None = None) -> None:
        self._gate = _RateGate(rate_hz)
        self._lp: StreamingSOS | None = None
        self._rs = GridResampler(GRID_HZ)
        hp = design_highpass(HP_HZ, GRID_HZ, order=1)
        self._hp = StreamingSOS(hp)
        self._hp_sos = hp
        self._guard: RippleGuard | None = None

    def _setup(self, rate: float) -> None:
        cascade = [(self._hp_sos, GRID_HZ)]
        if rate > 3 * FAST_LP_HZ:
            lp = design_lowpass(FAST_LP_HZ, rate, order=2)
            self._lp = StreamingSOS(lp)
            cascade.append((lp, rate))
        self._guard = RippleGuard(GRID_HZ, phase_delay_s(cascade), RESP_RIPPLE_CANCEL)

    def process(self, t: np.ndarray, v: np.ndarray) -> Extracted:
        got = self._gate.push(t, v)
        if got is None:
            return Extracted.empty()
        t, v = got
        if self._guard is None:
            self._setup(self._gate.rate_hz or GRID_HZ)
        assert self._guard is not None
        x = self._lp.process(v) if self._lp is not None else np.asarray(v, dtype=np.float64)
        gt, gy, ga, gaps = self._rs.process(t, x)
        if gt.shape[0] == 0:
            return Extracted(gt, np.zeros(0), ga, gaps)
        y, delay, rip = self._guard.process(self._hp.process(gy))
        return Extracted(gt, y, ga, gaps, delay, ripple=rip)


class AccExtractor:
    """A 3-axis accelerometer, any posture: the breathing axis by PCA.

    Steps: pinned axes are held at their last good value (and reported); a 2nd-order low-pass
    at the raw rate; resampling onto the grid; a per-axis high-pass (removes gravity); body
    motion (fast change of any axis) restarts the high-pass from the new posture and makes the
    PCA forget the old one; an exponentially weighted covariance gives the principal axis every
    ``PCA_UPDATE_S``, its sign kept continuous between updates; the projection is the breathing
    signal up to a sign, which :class:`~psoas_sense.dsp.polarity.PolarityTracker` decides.
    """

    fs_hz = GRID_HZ

    def __init__(self, rate_hz: float | None = None) -> None:
        self._gate = _RateGate(rate_hz)
        self._lp: StreamingSOS | None = None
        self._rs = GridResampler(GRID_HZ, channels=3)
        self._hp_sos = design_highpass(HP_HZ, GRID_HZ, order=1)
        self._hp = StreamingSOS(self._hp_sos, channels=3)
        self._cov = _EW(PCA_TIME_CONSTANT_S, GRID_HZ, channels=6)
        self._axis = np.array([0.0, 0.0, 1.0])
        self._n = 0
        self._update_every = max(1, int(round(PCA_UPDATE_S * GRID_HZ)))
        self._guard: RippleGuard | None = None
        # stuck-axis state
        self._last_good = np.full(3, np.nan)
        self._stuck_since: list[float | None] = [None, None, None]
        self._stuck_reported = [False, False, False]
        # motion state
        self._prev_grid: np.ndarray | None = None
        self._motion_until = -math.inf
        self._in_motion = False
        self._motion_ms = _EW(MOTION_RMS_TC_S, GRID_HZ)
        self._motion_ms_last = MOTION_MG_PER_S**2 / MOTION_RMS_FACTOR**2
        self.posture_shifts = 0
        """How many posture shifts (motion episodes) were seen."""

    @property
    def axis(self) -> np.ndarray:
        """Current breathing axis (unit vector in sensor coordinates)."""
        return self._axis.copy()

    def _setup(self, rate: float) -> None:
        cascade = [(self._hp_sos, GRID_HZ)]
        if rate > 3 * FAST_LP_HZ:
            lp = design_lowpass(FAST_LP_HZ, rate, order=2)
            self._lp = StreamingSOS(lp, channels=3)
            cascade.append((lp, rate))
        self._guard = RippleGuard(GRID_HZ, phase_delay_s(cascade), ACC_RIPPLE_CANCEL)

    def _unstick(self, t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, list[SignalNotice]]:
        """Hold pinned samples at the axis's last good value; report axes pinned for long."""
        notices: list[SignalNotice] = []
        bad = np.abs(v) >= STUCK_MG
        n = v.shape[0]
        if not bad.any() and not any(s is not None for s in self._stuck_since):
            self._last_good = v[-1].copy()
            return v, notices
        out = v.copy()
        for k in range(3):
            b = bad[:, k]
            if b.any():
                idx = np.maximum.accumulate(np.where(~b, np.arange(n), -1))
                carried = 0.0 if np.isnan(self._last_good[k]) else self._last_good[k]
                fill = np.where(idx >= 0, v[np.maximum(idx, 0), k], carried)
                out[:, k] = np.where(b, fill, v[:, k])
            if self._stuck_since[k] is not None and not b[0]:
                # the run carried from the previous chunk ended right at this chunk's start
                if self._stuck_reported[k]:
                    notices.append(SignalNotice("axis_recovered", float(t[0]), {"axis": "xyz"[k]}, float(t[0])))
                self._stuck_since[k] = None
                self._stuck_reported[k] = False
            # pinned runs inside the chunk (the first may continue from the previous chunk)
            edges = np.diff(np.concatenate(([0], b.astype(np.int8), [0])))
            for s_i, e_i in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
                if self._stuck_since[k] is None:
                    self._stuck_since[k] = float(t[s_i])
                    self._stuck_reported[k] = False
                since = self._stuck_since[k]
                assert since is not None
                if not self._stuck_reported[k]:
                    due = np.nonzero(t[s_i:e_i] >= since + STUCK_REPORT_S)[0]
                    if due.size:
                        j = s_i + int(due[0])
                        tt = float(t[j])
                        notices.append(SignalNotice(
                            "stuck_axis", tt,
                            {"axis": "xyz"[k], "at_mg": round(float(v[j, k]), 1),
                             "detail": "axis pinned at full scale; carrying on with the other axes"},
                            tt,
                        ))
                        self._stuck_reported[k] = True
                if e_i < n:
                    if self._stuck_reported[k]:
                        tt = float(t[e_i])
                        notices.append(SignalNotice("axis_recovered", tt, {"axis": "xyz"[k]}, tt))
                    self._stuck_since[k] = None
                    self._stuck_reported[k] = False
            good = np.nonzero(~b)[0]
            if good.size:
                self._last_good[k] = v[int(good[-1]), k]
        notices.sort(key=lambda e: e.t_s)
        return out, notices

    def process(self, t: np.ndarray, v: np.ndarray) -> Extracted:
        got = self._gate.push(t, np.asarray(v, dtype=np.float64).reshape(-1, 3))
        if got is None:
            return Extracted.empty()
        t, v = got
        if self._guard is None:
            self._setup(self._gate.rate_hz or GRID_HZ)
        assert self._guard is not None
        if v.shape[0] == 0:
            return Extracted.empty()
        v, notices = self._unstick(t, v)
        x = self._lp.process(v) if self._lp is not None else v
        gt, gy, ga, gaps = self._rs.process(t, x)
        m = gt.shape[0]
        if m == 0:
            return Extracted(gt, np.zeros(0), ga, gaps, 0.0, notices)
        # motion: a fast change on any axis (grid-to-grid), carried across chunks
        prev = gy[0] if self._prev_grid is None else self._prev_grid
        step = np.max(np.abs(np.diff(np.concatenate((prev[None, :], gy), axis=0), axis=0)), axis=1)
        self._prev_grid = gy[-1].copy()
        rate = step * GRID_HZ
        # relative to the recent typical rate of change (vigorous breathing on a phone moves
        # faster than quiet breathing on a strap); the EW is taken up to the previous sample
        ms = self._motion_ms.process(rate * rate, init=MOTION_MG_PER_S**2 / MOTION_RMS_FACTOR**2)
        prev_ms = np.concatenate(([self._motion_ms_last], ms[:-1]))
        self._motion_ms_last = float(ms[-1])
        moving = rate > np.maximum(MOTION_MG_PER_S, MOTION_RMS_FACTOR * np.sqrt(prev_ms))
        resets: list[int] = []
        b = np.empty((m, 3))
        i = 0
        # split the chunk at motion episodes; inside one, the output is 0 and the state restarts
        while i < m:
            if moving[i] or gt[i] < self._motion_until:
                if moving[i]:
                    if not self._in_motion:
                        self.posture_shifts += 1
                        notices.append(SignalNotice("motion", float(ga[i]), {}, float(ga[i])))
                    self._in_motion = True
                    self._motion_until = float(gt[i]) + MOTION_HOLDOFF_S
                b[i] = 0.0
                i += 1
                continue
            if self._in_motion:
                # restart the high-pass at the new posture; forget most of the old covariance
                self._in_motion = False
                self._hp.reset()
                resets.append(i)
            j = i
            while j < m and not moving[j]:
                j += 1
            b[i:j] = self._hp.process(gy[i:j])
            i = j
        # exponentially weighted covariance (6 unique products), vectorised
        prods = np.stack(
            [b[:, 0] * b[:, 0], b[:, 1] * b[:, 1], b[:, 2] * b[:, 2], b[:, 0] * b[:, 1], b[:, 0] * b[:, 2], b[:, 1] * b[:, 2]],
            axis=1,
        )
        # the covariance forgets the old posture exactly at each reset index
        cov = np.empty_like(prods)
        cuts = sorted({0, *resets, m})
        for a, e in zip(cuts[:-1], cuts[1:]):
            if a in resets:
                self._cov.scale_state(PCA_FORGET_ON_SHIFT)
            if e > a:
                cov[a:e] = self._cov.process(prods[a:e], init=0.0)
        out = np.empty(m)
        ue = self._update_every
        # grid indexes (global count) at which the axis is re-estimated
        first = (-self._n) % ue
        upd = list(range(first, m, ue))
        start = 0
        for u in upd:
            out[start:u] = b[start:u] @ self._axis
            c = cov[u]
            mat = np.array([[c[0], c[3], c[4]], [c[3], c[1], c[5]], [c[4], c[5], c[2]]])
            if np.trace(mat) > 0:
                _, vecs = np.linalg.eigh(mat)
                ax = vecs[:, -1]
                if float(np.dot(ax, self._axis)) < 0:
                    ax = -ax
                self._axis = ax
            start = u
        out[start:] = b[start:] @ self._axis
        self._n += m
        y, delay, rip = self._guard.process(out)
        return Extracted(gt, y, ga, gaps, delay, notices, resets, rip)


class RateTracker:
    """Causal dominant-period tracker: autocorrelation of the recent signal, at fixed indexes."""

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

    def __init__(self) -> None:
        self._rs = GridResampler(RR_GRID_HZ, max_gap_s=4.0)
        bp = design_bandpass(*RR_BAND_HZ, RR_GRID_HZ)
        self._bp = StreamingSOS(bp)
        self.delay_s = phase_delay_s([(bp, RR_GRID_HZ)])
        self._recent: list[float] = []
        self._track = RateTracker(RR_GRID_HZ, RR_TRACK_WINDOW_S, 60.0 / 40.0, 60.0 / 3.0, RR_TRACK_EVERY_S)
        self._res_zi = np.zeros(2)
        self._last_y = 0.0
        self._res_period: float | None = None
        self._res_ba: tuple[np.ndarray, np.ndarray] | None = None

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
