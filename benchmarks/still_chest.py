"""The still_chest DEV recordings as benchmark cases: chest accelerometers of people lying or
sitting still (the practice's own situation), each run with and without RR.

* **wendexd** (subject B, 3 repeats x supine and sitting, ~100 s each): an ADXL345 on the
  sternum (values in g, 50 Hz nominal, microsecond timestamps) and a single-lead ECG (500 Hz).
  The reference is the wearer's own spacebar (``Manual``), held while breathing in: its falling
  edge is an exhale onset, its rising edge an inhale onset (a human mark with a reaction lag of
  roughly 0.1-0.5 s). RR comes from the ECG's R peaks (offline, standing in for a strap). The
  whole recording is scored from ``SCORE_FROM_S`` (the detector settles).
* **hexoskin_lsl record_289810** (one person upright, 31 min, some movement): the shirt's
  3-axis accelerometer (64 Hz, 1/256 g), RIP bands (128 Hz; lung volume rises as their sum
  falls) and ECG (256 Hz). Reference exhale onsets are the maxima of ``-(thoracic +
  abdominal)`` (``reference.reference_exhales``, as for hexoskin_chest); scored in still
  stretches (accelerometer activity low for at least ``STILL_MIN_S``), their first
  ``STILL_SKIP_S`` left out.

Nothing is copied: every file is read in place from ``shared/data/still_chest``.
"""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal as sps
from scipy.io import wavfile

from datasets import DATA_DIR, Case, r_peaks

BASE = DATA_DIR / "still_chest"
WENDEXD = ("B1_Supine", "B2_Supine", "B3_Supine", "B1_Sitting", "B2_Sitting", "B3_Sitting")
"""All DEV recordings of ``still_chest/wendexd``."""
SCORE_FROM_S = 15.0
"""References and detections before this are not scored (the detector settles)."""
HEX_RECORD = "record_289810"
ACTIVITY_HZ = (1.0, 20.0)
"""Band of the accelerometer that shows body activity (above breathing, below aliasing)."""
ACTIVITY_MOVING_MG = 40.0
"""Moving: the 1 s RMS of that band (over the axes) above this (still: 4-10 mG here, 1259 s of the 1874 s still) ..."""
ACTIVITY_PAD_S = 2
"""... and this many seconds either side of it."""
STILL_MIN_S = 45.0
"""Still for at least this long makes a scored stretch..."""
STILL_SKIP_S = 15.0
"""... its first seconds not scored."""


def _volume_from_marks(t: np.ndarray, rises: np.ndarray, falls: np.ndarray) -> np.ndarray:
    """A lung-volume proxy from inhale marks: rising linearly while the key is held (inhale),
    falling linearly until the next press (exhale). Only its sign against a breathing signal is
    used (NeuroKit2's hindsight polarity)."""
    knots_t = np.sort(np.concatenate((rises, falls)))
    knots_v = np.asarray([1.0 if k in set(falls.tolist()) else 0.0 for k in knots_t])
    if knots_t.size < 2:
        return np.zeros_like(t)
    return np.interp(t, knots_t, knots_v)


def load_wendexd(name: str, with_rr: bool) -> Case:
    """One wendexd recording as an ``acc`` case (mG), with or without RR from its ECG."""
    imu: list[list[float]] = []
    ecg_t: list[float] = []
    ecg_v: list[float] = []
    man_t: list[float] = []
    man_v: list[int] = []
    with gzip.open(BASE / "wendexd" / f"{name}.csv.gz", "rt") as fh:
        rows = csv.reader(fh)
        next(rows)
        for row in rows:
            parts = row[0].split(",")
            us = float(parts[0])
            if parts[1] == "IMU":
                imu.append([us, float(parts[2]), float(parts[3]), float(parts[4])])
            else:
                ecg_t.append(us)
                ecg_v.append(float(parts[-1]))
            man_t.append(us)
            man_v.append(int(row[1]))
    a = np.asarray(imu)
    t0 = a[0, 0]
    t = (a[:, 0] - t0) / 1e6
    keep = np.concatenate(([True], np.diff(t) > 0))
    t, acc = t[keep], a[keep, 1:4] * 1000.0
    mt = (np.asarray(man_t) - t0) / 1e6
    mv = np.asarray(man_v)
    d = np.diff(mv)
    falls = mt[1:][d < 0]
    rises = mt[1:][d > 0]
    et = (np.asarray(ecg_t) - t0) / 1e6
    ev = np.asarray(ecg_v)
    fs_e = 500.0
    grid = np.arange(et[0], et[-1], 1.0 / fs_e)
    beats = r_peaks(np.interp(grid, et, ev), fs_e) + grid[0]
    vol = _volume_from_marks(t, rises, falls)
    return _acc_case(
        name, with_rr, beats, t, acc, 50.0, falls, rises, (t, vol),
        score_from_s=SCORE_FROM_S, score_windows=[(SCORE_FROM_S, float(t[-1]) - 2.0)],
    )


def _acc_case(
    name: str, with_rr: bool, beats: np.ndarray, t: np.ndarray, acc: np.ndarray, fs: float,
    ref: np.ndarray, ref_in: np.ndarray, ref_signal: tuple[np.ndarray, np.ndarray], **scoring: Any,
) -> Case:
    """An ``acc`` case, named ``NAME+rr`` and given the strap's RR intervals when ``with_rr``."""
    rr = (beats[1:], np.diff(beats) * 1000.0) if with_rr else None
    return Case(
        f"{name}{'+rr' if with_rr else ''}", "acc", t, acc, fs, ref,
        ref_inhale_s=ref_in, rr=rr, ref_signal=ref_signal, **scoring,
    )


def still_windows(t: np.ndarray, acc_mg: np.ndarray, fs: float) -> list[tuple[float, float]]:
    """Scored still stretches of an accelerometer recording: ``(start_s, end_s)``."""
    sos = sps.butter(2, ACTIVITY_HZ, btype="bandpass", fs=fs, output="sos")
    hf = sps.sosfiltfilt(sos, acc_mg, axis=0)
    n = int(fs)
    k = hf.shape[0] // n
    rms = np.sqrt(np.mean(np.sum(hf[: k * n] ** 2, axis=1).reshape(k, n), axis=1))
    moving = rms > ACTIVITY_MOVING_MG
    for _ in range(ACTIVITY_PAD_S):
        moving = moving | np.roll(moving, 1) | np.roll(moving, -1)
    still = ~moving
    edges = np.diff(np.concatenate(([0], still.astype(np.int8), [0])))
    out = []
    for a, b in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
        if b - a >= STILL_MIN_S:
            out.append((float(t[0] + a + STILL_SKIP_S), float(t[0] + b)))
    return out


def load_hexoskin_lsl(with_rr: bool) -> Case:
    """The 31-minute Hexoskin record as an ``acc`` case, scored in its still stretches."""
    from hexoskin import read_shirt
    from reference import reference_breaths

    d = BASE / "hexoskin_lsl" / HEX_RECORD
    t, acc, fs_acc, tr, vol, fs_r = read_shirt(d)
    ref, ref_in = reference_breaths(tr, vol, fs_r, band_hz=(0.05, 0.8))
    fs_e, ecg = wavfile.read(d / "ECG_I.wav")
    beats = r_peaks(ecg.astype(float), float(fs_e))
    wins = still_windows(t, acc, fs_acc)
    return _acc_case("hexoskin_lsl", with_rr, beats, t, acc, fs_acc, ref, ref_in, (tr, vol), score_windows=wins)


def posture_of(name: str) -> str:
    """``supine``, ``sitting`` or ``upright`` (from the recording's name)."""
    name = name.lower()
    if "supine" in name:
        return "supine"
    if "sitting" in name:
        return "sitting"
    return "upright"


def still_chest() -> list[Case]:
    """Every still_chest DEV recording, without and with RR (the pairs side by side)."""
    cases: list[Case] = []
    if (BASE / "wendexd").is_dir():
        for name in WENDEXD:
            for rr in (False, True):
                cases.append(load_wendexd(name, rr))
    if (BASE / "hexoskin_lsl" / HEX_RECORD).is_dir():
        for rr in (False, True):
            cases.append(load_hexoskin_lsl(rr))
    return cases


def is_present() -> bool:
    """Whether the still_chest folder is there."""
    return Path(BASE).is_dir()


def still_chest_rr() -> list[Case]:
    """The same recordings as RR intervals alone (a plain heart-rate strap on a still body),
    against the same references."""
    out: list[Case] = []
    for c in still_chest():
        if c.rr is None:
            continue
        bt, rr = c.rr
        out.append(Case(c.name.replace("+rr", ".rr"), "rr", bt, rr, None, c.ref_exhale_s,
                        ref_inhale_s=c.ref_inhale_s, ref_signal=c.ref_signal,
                        score_from_s=max(c.score_from_s, 20.0),
                        score_windows=[(max(a, 20.0), b) for a, b in (c.score_windows or [])]))
    return out
