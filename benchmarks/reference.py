"""Offline, zero-phase reference breaths (benchmark only; never used in the live path).

Method (documented in README.md):

1. Band-pass the reference waveform 0.05-1.0 Hz with a 2nd-order Butterworth run forward and
   backward (``sosfiltfilt``: zero phase, so the extremes keep their time).
2. Find every local maximum and minimum, keep them alternating (of two maxima in a row keep the
   higher, of two minima the lower).
3. Repeatedly remove the smallest peak-trough-peak excursion while it is below
   ``MIN_EXCURSION_SHARE`` x the median excursion (the amplitude rule of Khodadad et al. 2018,
   as NeuroKit applies it, re-implemented here) and merge its neighbours.
4. Refine each maximum onto a 1.5 Hz zero-phase low-pass of the raw waveform (the band-pass
   shifts nothing, but its narrower band flattens sharp end-inspiratory corners), searching
   +-0.25 s.

The maxima are the exhale onsets (end of inspiration) for waveforms where larger = more air in.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

MIN_EXCURSION_SHARE = 0.3
BAND_HZ = (0.05, 1.0)
REFINE_LP_HZ = 1.5
REFINE_WINDOW_S = 0.25


def _alternate(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pk, _ = sps.find_peaks(y)
    tr, _ = sps.find_peaks(-y)
    idx = np.concatenate((pk, tr))
    typ = np.concatenate((np.ones(pk.size, int), -np.ones(tr.size, int)))
    order = np.argsort(idx)
    idx, typ = idx[order], typ[order]
    out_i: list[int] = []
    out_t: list[int] = []
    for i, k in zip(idx, typ):
        if out_t and out_t[-1] == k:
            if (k == 1 and y[i] > y[out_i[-1]]) or (k == -1 and y[i] < y[out_i[-1]]):
                out_i[-1] = int(i)
            continue
        out_i.append(int(i))
        out_t.append(int(k))
    return np.asarray(out_i), np.asarray(out_t)


def extremes(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Alternating extremes of ``y`` after removing small excursions: (indexes, +1 max / -1 min)."""
    idx, typ = _alternate(y)
    idx = list(idx)
    typ = list(typ)
    while len(idx) > 3:
        v = y[np.asarray(idx)]
        exc = np.abs(np.diff(v))
        med = float(np.median(exc))
        # an excursion pair j: the extreme j and j+1 removed together
        j = int(np.argmin(exc))
        if exc[j] >= MIN_EXCURSION_SHARE * med:
            break
        # remove the pair (j, j+1), then re-alternate locally
        del idx[j : j + 2]
        del typ[j : j + 2]
        # merge same-type neighbours created by the removal
        k = max(0, j - 1)
        if k + 1 < len(idx) and typ[k] == typ[k + 1]:
            a, b = idx[k], idx[k + 1]
            keep = a if (typ[k] == 1) == (y[a] > y[b]) else b
            idx[k : k + 2] = [keep]
            typ[k : k + 2] = [typ[k]]
    return np.asarray(idx, int), np.asarray(typ, int)


def reference_breaths(
    t: np.ndarray, x: np.ndarray, fs_hz: float, *, invert: bool = False, band_hz: tuple[float, float] = BAND_HZ
) -> tuple[np.ndarray, np.ndarray]:
    """Exhale onsets (times of the maxima) and inhale onsets (times of the minima) of a
    reference waveform, zero-phase."""
    x = np.asarray(x, float)
    if invert:
        x = -x
    sos = sps.butter(2, band_hz, btype="bandpass", fs=fs_hz, output="sos")
    y = sps.sosfiltfilt(sos, x)
    idx, typ = extremes(y)
    lp = sps.sosfiltfilt(sps.butter(2, REFINE_LP_HZ, fs=fs_hz, output="sos"), x)
    w = int(REFINE_WINDOW_S * fs_hz)
    out: tuple[list[float], list[float]] = ([], [])
    for i, k in zip(idx, typ):
        a, b = max(0, i - w), min(x.shape[0], i + w + 1)
        j = int(np.argmax(lp[a:b])) if k == 1 else int(np.argmin(lp[a:b]))
        out[0 if k == 1 else 1].append(t[a + j])
    return np.asarray(out[0]), np.asarray(out[1])


def reference_exhales(
    t: np.ndarray, x: np.ndarray, fs_hz: float, *, invert: bool = False, band_hz: tuple[float, float] = BAND_HZ
) -> np.ndarray:
    """Exhale onsets (times of the maxima) of a reference waveform, zero-phase."""
    return reference_breaths(t, x, fs_hz, invert=invert, band_hz=band_hz)[0]
