"""Heartbeat ripple in a breathing signal: measured causally, cancelled only when strong.

Impedance pneumography, belts and chest accelerometers carry a small copy of every heartbeat.
:class:`RippleGuard` measures it on the grid and, when it is strong against the breathing,
fades in a ripple-free path: notches at the tracked heart rate (little delay), with a
one-heart-period comb on top for what they leave, or the comb alone.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from scipy import signal as sps

from psoas_sense.dsp.extract.base import REF_FREQ_HZ, ExpWeightedMean
from psoas_sense.dsp.filters import StreamingSOS, design_bandpass, design_highpass

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
ENVELOPE_RATIO = (0.3, 0.5)
"""Ripple/breathing power ratio at which the envelope path (when given) starts / is fully faded
in: ripple this strong is the case where a patient's breathing shows mostly as a change of the
heartbeat's shape rather than of the signal's mean (see :mod:`psoas_sense.dsp.extract.resp`)."""
NOTCH_Q = 2.0
"""Quality factor of the ripple notches (bandwidth = heart rate / Q, wide enough for the beat-to-beat
variation of the heart rate and the error of its estimate)."""
NOTCH_HARMONICS = 2
"""Heart-rate harmonics notched (1 = the fundamental only)."""
NOTCH_MIN_HZ = 1.0
"""Below this heart rate (60/min) the notches would sit among the breath's own harmonics, and
their phase would bend the breath's shape; the comb (linear phase) is used instead."""


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
        self._pow = ExpWeightedMean(RIPPLE_TC_S, fs_hz, channels=4)
        self._fade = ExpWeightedMean(RIPPLE_FADE_TC_S, fs_hz, channels=2)  # any cancellation, comb
        self._p_res = ExpWeightedMean(RIPPLE_RES_TC_S, fs_hz)
        self._fade_env = ExpWeightedMean(RIPPLE_FADE_TC_S, fs_hz)
        self._ratio = np.zeros(0)  # ripple/breathing power ratio of the last chunk
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

    def process(
        self, y: np.ndarray, envelope: np.ndarray | None = None, envelope_delay_s: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Returns (signal, delay per sample, RMS of the ripple left per sample).

        Args:
            y: the signal on the grid.
            envelope: a ripple-free alternative on the same grid (the midline of the raw
                envelope), faded in instead of everything else when the ripple is very strong
                (``ENVELOPE_RATIO``).
            envelope_delay_s: its delay beyond the fast path's.
        """
        out, delay, left = self._process(y)
        if envelope is None or y.shape[0] == 0:
            return out, delay, left
        we = self._fade_env.process(
            np.clip((self._ratio - ENVELOPE_RATIO[0]) / (ENVELOPE_RATIO[1] - ENVELOPE_RATIO[0]), 0.0, 1.0), init=0.0
        )
        return (
            (1.0 - we) * out + we * envelope,
            (1.0 - we) * delay + we * (self.fast_delay_s + envelope_delay_s),
            (1.0 - we) * left,
        )

    def _process(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        self._ratio = ratio[:, 0]
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
