"""Breathing waveforms (belt, impedance pneumography): the simplest extractor.

Low-pass at the raw rate, linear resampling onto the grid, a 1st-order high-pass for the
baseline, then the ripple guard.
"""

from __future__ import annotations

import numpy as np

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

    def _setup(self, rate: float) -> None:
        cascade = [(self._hp_sos, GRID_HZ)]
        if rate > 3 * FAST_LP_HZ:
            lp = design_lowpass(FAST_LP_HZ, rate, order=2)
            self._lp = StreamingSOS(lp)
            cascade.append((lp, rate))
        self._guard = RippleGuard(GRID_HZ, phase_delay_s(cascade), RESP_RIPPLE_CANCEL)

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
        if gt.shape[0] == 0:
            return Extracted(gt, np.zeros(0), ga, gaps)
        y, delay, rip = self._guard.process(self._hp.process(gy))
        return Extracted(gt, y, ga, gaps, delay, ripple=rip)
