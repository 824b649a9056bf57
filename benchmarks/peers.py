"""NeuroKit2 as an offline peer (the ``bench`` extra: ``pip install neurokit2``).

Waveforms (belts, impedance): ``nk.rsp_process`` on the whole waveform, its ``RSP_Peaks`` are
the exhale onsets. Accelerometers have no single waveform, so NeuroKit2 gets an offline, hindsight
one in each scored window: the principal axis of the zero-phase band-passed (0.05-0.8 Hz) 3-axis
signal over the window (plus 20 s before it), its sign chosen by correlation with the reference
lung volume (hindsight polarity: no online detector can know it). This is the "offline
zero-phase method with a per-stretch principal axis and hindsight polarity" of issue 12.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from datasets import Case

LEAD_S = 20.0
"""Seconds before each scored window given to NeuroKit2 as well (its filters settle)."""


def _nk_peaks(x: np.ndarray, fs: float) -> np.ndarray:
    import neurokit2 as nk  # optional `bench` extra

    _, info = nk.rsp_process(x, sampling_rate=int(round(fs)))
    return np.asarray(info["RSP_Peaks"], int)


def neurokit2_exhales(case: Case) -> np.ndarray | None:
    """Exhale onset times from NeuroKit2, or None when it does not apply to the case."""
    if case.kind == "resp":
        pk = _nk_peaks(np.asarray(case.x, float), float(case.fs_hz or 100.0))
        return np.asarray(case.t_s[pk])
    if case.kind != "acc" or case.score_windows is None or case.ref_signal is None or not case.fs_hz:
        return None
    fs = float(case.fs_hz)
    acc = np.asarray(case.x, float)
    sos = sps.butter(2, [0.05, 0.8], btype="bandpass", fs=fs, output="sos")
    tr, vol = case.ref_signal
    out: list[np.ndarray] = []
    for a, b in case.score_windows:
        m = (case.t_s >= a - LEAD_S) & (case.t_s <= b + 2.0)
        if m.sum() < fs * 20:
            continue
        seg = sps.sosfiltfilt(sos, acc[m], axis=0)
        ax = np.linalg.eigh(np.cov(seg.T))[1][:, -1]
        y = seg @ ax
        v = np.interp(case.t_s[m], tr, sps.sosfiltfilt(sps.butter(2, [0.05, 0.8], btype="bandpass",
                                                                   fs=1.0 / (tr[1] - tr[0]), output="sos"), vol))
        if float(np.corrcoef(y, v)[0, 1]) < 0:
            y = -y
        pk = _nk_peaks(y, fs)
        out.append(case.t_s[m][pk])
    return np.sort(np.concatenate(out)) if out else np.zeros(0)
