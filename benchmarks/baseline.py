"""The plain causal baseline the targets are stated against: a band-pass with hysteresis.

A 2nd-order Butterworth band-pass (0.1-1.0 Hz) run causally with ``sosfilt``, then a hysteresis
extreme tracker: a maximum is confirmed once the signal has fallen from it by 30 % of the median
of the last six peak-to-trough excursions (before three are seen, of 2.8 x the running RMS).
Exhale time = the confirmed maximum; detected at the confirming sample. No ripple handling, no
delay correction. Benchmark only: it puts our scoring next to the figures quoted in the issues.

Accelerometers (``baseline_acc_exhales``): each axis band-passed the same way, projected on the
principal axis of an exponentially weighted covariance (20 s), re-estimated every 0.5 s with its
sign kept continuous, the first sign chosen so that the axis's largest component is positive
(a plain detector has no polarity evidence), then the same tracker.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

BAND_HZ = (0.1, 1.0)
PCA_TC_S = 20.0
PCA_EVERY_S = 0.5


def _bandpass(x: np.ndarray, fs_hz: float) -> np.ndarray:
    sos = sps.butter(2, list(BAND_HZ), btype="bandpass", fs=fs_hz, output="sos")
    zi = sps.sosfilt_zi(sos)
    if x.ndim == 1:
        y, _ = sps.sosfilt(sos, x, zi=zi * x[0])
        return np.asarray(y)
    y, _ = sps.sosfilt(sos, x, axis=0, zi=zi[:, :, None] * x[0][None, None, :])
    return np.asarray(y)


def track(t: np.ndarray, y: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """The hysteresis extreme tracker: exhale times and detection times."""
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
    for yi, ti in zip(y.tolist(), t.tolist()):
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


def baseline_exhales(t: np.ndarray, x: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Exhale times and detection times of the plain causal detector on a waveform."""
    return track(t, _bandpass(np.asarray(x, float), fs_hz), fs_hz)


def baseline_acc_exhales(t: np.ndarray, acc: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """The same on a 3-axis accelerometer, projected on a causal running principal axis."""
    b = _bandpass(np.asarray(acc, float), fs_hz)
    prods = np.stack([b[:, i] * b[:, j] for i, j in ((0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2))], axis=1)
    w = 1.0 / (PCA_TC_S * fs_hz)
    cov = sps.lfilter([w], [1.0, -(1.0 - w)], prods, axis=0)
    every = max(1, int(round(PCA_EVERY_S * fs_hz)))
    y = np.empty(b.shape[0])
    axis: np.ndarray | None = None
    for a in range(0, b.shape[0], every):
        c = cov[a]
        mat = np.array([[c[0], c[3], c[4]], [c[3], c[1], c[5]], [c[4], c[5], c[2]]])
        if np.trace(mat) > 0:
            ax = np.linalg.eigh(mat)[1][:, -1]
            if axis is None:
                ax = ax if ax[int(np.argmax(np.abs(ax)))] > 0 else -ax
            elif float(ax @ axis) < 0:
                ax = -ax
            axis = ax
        y[a : a + every] = b[a : a + every] @ (axis if axis is not None else np.array([0.0, 0.0, 1.0]))
    return track(t, y, fs_hz)
