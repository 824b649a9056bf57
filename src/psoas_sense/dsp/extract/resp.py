"""Breathing waveforms (belt, impedance pneumography): the simplest extractor.

Low-pass at the raw rate, linear resampling onto the grid, a 1st-order high-pass for the
baseline, then the ripple guard.

Beside it runs an envelope path, used only where the heartbeat ripple is very strong
(``ENVELOPE_RATIO`` in :mod:`.ripple`): the midline ``(max + min) / 2`` of the raw signal over
``ENVELOPE_WINDOW_S`` (at least one heart period, so every beat's peak and trough are in it),
then the same filters. In some ICU impedance records the breathing hardly moves the signal's
mean but changes the height of every heartbeat spike; the eye (and the annotators) follow the
spikes' envelope, and linear filtering (notches, comb), which keeps the mean, loses the breath.
The envelope must be taken at the raw rate: the spikes are gone after the 1.5 Hz low-pass.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from psoas_sense.dsp.extract.base import (
    FAST_LP_HZ,
    GRID_HZ,
    HP_HZ,
    Extracted,
    RateGate,
    phase_delay_s,
)
from psoas_sense.dsp.extract.ripple import RESP_RIPPLE_CANCEL, RippleGuard
from psoas_sense.dsp.filters import GridResampler, StreamingSOS, design_highpass, design_lowpass

ENVELOPE_WINDOW_S = 0.75
"""Window of the raw envelope: one heart period down to 80 beats/min (the ripple that needs the
envelope comes with a fast heart; below that the window holds part of a beat too, which only
adds a little ripple back)."""


class _RawEnvelope:
    """Causal running ``(max + min) / 2`` over the last ``n`` raw samples, state carried."""

    def __init__(self, n: int) -> None:
        self.n = max(1, n)
        self._hist: np.ndarray | None = None

    def process(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.shape[0] == 0:
            return x.copy()
        n = self.n
        if self._hist is None:
            self._hist = np.full(n - 1, x[0])
        ext = np.concatenate((self._hist, x))
        # a window centred on i spans [i - n // 2, i + (n - 1) // 2]: shifted, it ends at i
        c = (n - 1) // 2
        hi = maximum_filter1d(ext, n, mode="nearest")
        lo = minimum_filter1d(ext, n, mode="nearest")
        j = np.arange(n - 1, ext.shape[0]) - c
        out: np.ndarray = 0.5 * (hi[j] + lo[j])
        self._hist = ext[ext.shape[0] - (n - 1) :].copy() if n > 1 else np.zeros(0)
        return out


class RespExtractor:
    """A breathing waveform (belt, impedance): low-pass, resample, high-pass, ripple guard.

    Args:
        rate_hz: nominal raw sample rate (from the recording header); estimated when None.
    """

    fs_hz = GRID_HZ
    """Rate of the breathing signal, Hz."""

    def __init__(self, rate_hz: float | None = None) -> None:
        self._gate = RateGate(rate_hz)
        self._lp: StreamingSOS | None = None
        self._rs = GridResampler(GRID_HZ)
        hp = design_highpass(HP_HZ, GRID_HZ, order=1)
        self._hp = StreamingSOS(hp)
        self._hp_sos = hp
        self._guard: RippleGuard | None = None
        self._env: _RawEnvelope | None = None
        self._env_lp: StreamingSOS | None = None
        self._env_rs = GridResampler(GRID_HZ)
        self._env_hp = StreamingSOS(hp)
        self._env_delay = 0.0

    def _setup(self, rate: float) -> None:
        cascade = [(self._hp_sos, GRID_HZ)]
        if rate > 3 * FAST_LP_HZ:
            lp = design_lowpass(FAST_LP_HZ, rate, order=2)
            self._lp = StreamingSOS(lp)
            self._env_lp = StreamingSOS(lp)
            cascade.append((lp, rate))
        self._guard = RippleGuard(GRID_HZ, phase_delay_s(cascade), RESP_RIPPLE_CANCEL)
        if rate >= 4 * GRID_HZ:
            # only where the raw rate resolves the heartbeat's spikes better than the grid
            n = int(round(ENVELOPE_WINDOW_S * rate))
            self._env = _RawEnvelope(n)
            self._env_delay = 0.5 * (n - 1) / rate

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """Gaps in the input skipped so far, ``(start_s, end_s)``, oldest first."""
        return self._rs.gaps

    def process(self, t: np.ndarray, v: np.ndarray) -> Extracted:
        """Feed waveform samples ``v`` at times ``t``; see :class:`~psoas_sense.dsp.extract.base.Extractor`."""
        got = self._gate.push(t, v)
        if got is None:
            return Extracted.empty()
        t, v = got
        if self._guard is None:
            self._setup(self._gate.rate_hz or GRID_HZ)
        assert self._guard is not None
        x = self._lp.process(v) if self._lp is not None else np.asarray(v, dtype=np.float64)
        gt, gy, ga, gaps = self._rs.process(t, x)
        env = None
        if self._env is not None:
            e = self._env.process(v)
            e = self._env_lp.process(e) if self._env_lp is not None else e
            _, ey, _, _ = self._env_rs.process(t, e)
            env = self._env_hp.process(ey) if ey.shape[0] else ey
        if gt.shape[0] == 0:
            return Extracted(gt, np.zeros(0), ga, gaps)
        y, delay, rip = self._guard.process(self._hp.process(gy), env, self._env_delay)
        return Extracted(gt, y, ga, gaps, delay, ripple=rip)
