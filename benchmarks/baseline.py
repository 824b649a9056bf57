"""The plain causal baseline the targets are stated against: a band-pass with hysteresis.

A 2nd-order Butterworth band-pass (0.1-1.0 Hz) run causally with ``sosfilt``, then a hysteresis
extreme tracker: a maximum is confirmed once the signal has fallen from it by 30 % of the median
of the last six peak-to-trough excursions (before three are seen, of 2.8 x the running RMS).
Exhale time = the confirmed maximum; detected at the confirming sample. No ripple handling, no
delay correction. Benchmark only: it puts our scoring next to the figures quoted in issue 3.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps


def baseline_exhales(t: np.ndarray, x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Exhale times and detection times of the plain causal detector."""
    sos = sps.butter(2, [0.1, 1.0], btype="bandpass", fs=fs_hz, output="sos")
    zi = sps.sosfilt_zi(sos) * x[0]
    y, _ = sps.sosfilt(sos, x, zi=zi)
    alpha = 1.0 / (8.0 * fs_hz)
    ms = y[0] ** 2
    exc: list[float] = []
    seeking = 0
    mx, tmx = -np.inf, 0.0
    mn = np.inf
    last_ext: float | None = None
    ex_t: list[float] = []
    ex_d: list[float] = []
    warm = t[0] + 2.0
    for i in range(y.shape[0]):
        yi, ti = float(y[i]), float(t[i])
        ms += alpha * (yi * yi - ms)
        if yi > mx:
            mx, tmx = yi, ti
        if yi < mn:
            mn = yi
        if ti < warm:
            continue
        amp = float(np.median(exc[-6:])) if len(exc) >= 3 else 2.8 * np.sqrt(ms)
        thr = 0.3 * amp
        if seeking >= 0 and mx - yi > thr:
            if last_ext is not None:
                exc.append(mx - last_ext)
            last_ext = mx
            if seeking == 1:
                ex_t.append(tmx)
                ex_d.append(ti)
            seeking = -1
            mn = yi
        elif seeking <= 0 and yi - mn > thr:
            if last_ext is not None:
                exc.append(last_ext - mn)
            last_ext = mn
            seeking = 1
            mx, tmx = yi, ti
    return np.asarray(ex_t), np.asarray(ex_d)
