"""The hexoskin_chest DEV recordings as benchmark cases: a real chest accelerometer with RR.

Each subject's shirt gives 3-axis ACC (64 Hz, 1/256 g), two RIP bands (thorax, abdomen, 128 Hz;
values fall on inhalation), per-beat RR and 1 Hz device activity and breathing rate, all on one
clock. The detector gets the accelerometer (in mG) and the RR intervals; the bands only make the
reference:

* **Reference exhale onsets**: maxima of the lung volume ``-(thoracic + abdominal)`` after a
  zero-phase 2nd-order Butterworth band-pass 0.05-0.8 Hz (``reference.reference_exhales``:
  alternating extremes, excursions below 0.3 x the median removed, each maximum refined on a
  1.5 Hz zero-phase low-pass within +-0.25 s). Checked against the device's own
  ``expiration.csv``: median distance to our maxima 0.06-0.12 s, to our minima 0.64-1.0 s, so the
  sign is right.
* **Resting stretches** (the only place F1 is counted): device activity < 30 and breathing rate
  >= 6 for at least 45 s; the first ``REST_SKIP_S`` of each stretch are skipped (the body settles,
  the detector re-acquires); a stretch is scored only when its breaths look regular: the
  reference breath periods in it have a coefficient of variation <= ``REGULAR_CV_MAX``.
* **Motion**: device activity >= 30 (walking, stairs, jogging); confident exhales (quality
  >= 0.5) are counted there per minute.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import wavfile

from datasets import DATA_DIR, Case

SUBJECTS = ("002", "005", "006", "007", "008", "009", "011")
"""All DEV subjects of ``shared/data/hexoskin_chest``."""
MG_PER_COUNT = 3.90625
"""Accelerometer unit: 1/256 g."""
STILL_ACTIVITY_MAX = 30
"""Device activity below this is still (README)."""
MIN_DEVICE_RATE = 6
"""Device breathing rate below this means the shirt lost the signal."""
REST_MIN_S = 45.0
"""Still for at least this long makes a resting stretch."""
REST_SKIP_S = 15.0
"""The first seconds of each resting stretch are not scored."""
REGULAR_CV_MAX = 0.35
"""A stretch is scored when the CV of its reference breath periods is at most this."""
REF_BAND_HZ = (0.05, 0.8)
"""Zero-phase band-pass of the lung-volume reference."""


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, end)`` index runs where ``mask`` is true."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist()))


def rest_windows(activity: np.ndarray, rate: np.ndarray, ref: np.ndarray) -> tuple[list, list]:
    """(scored resting windows, all resting stretches) as ``(start_s, end_s)`` on the 1 Hz clock."""
    still = (activity < STILL_ACTIVITY_MAX) & (rate >= MIN_DEVICE_RATE)
    stretches, scored = [], []
    for a, b in _runs(still):
        if b - a < REST_MIN_S:
            continue
        stretches.append((float(a), float(b)))
        lo, hi = a + REST_SKIP_S, float(b)
        r = ref[(ref >= lo) & (ref <= hi)]
        if r.size < 4:
            continue
        p = np.diff(r)
        if float(np.std(p) / np.mean(p)) <= REGULAR_CV_MAX:
            scored.append((float(lo), hi))
    return scored, stretches


def motion_windows(activity: np.ndarray) -> list[tuple[float, float]]:
    """Stretches of device activity >= 30 (walking, stairs, jogging), seconds."""
    return [(float(a), float(b)) for a, b in _runs(activity >= STILL_ACTIVITY_MAX)]


def read_shirt(d: Path) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, np.ndarray, float]:
    """A Hexoskin record's accelerometer and lung volume: ``(t, acc mG, fs, t_resp, volume, fs_resp)``,
    the volume being ``-(thoracic + abdominal)`` (the RIP bands fall on inhalation)."""
    fs_acc, ax = wavfile.read(d / "acceleration_X.wav")
    _, ay = wavfile.read(d / "acceleration_Y.wav")
    _, az = wavfile.read(d / "acceleration_Z.wav")
    n = min(ax.shape[0], ay.shape[0], az.shape[0])
    acc = np.stack([ax[:n], ay[:n], az[:n]], axis=1).astype(float) * MG_PER_COUNT
    fs_r, th = wavfile.read(d / "respiration_thoracic.wav")
    _, ab = wavfile.read(d / "respiration_abdominal.wav")
    m = min(th.shape[0], ab.shape[0])
    vol = -(th[:m].astype(float) + ab[:m].astype(float))
    return np.arange(n) / float(fs_acc), acc, float(fs_acc), np.arange(m) / float(fs_r), vol, float(fs_r)


def load(subject: str) -> Case:
    """One subject as an ``acc`` case with RR, reference, resting and motion windows."""
    from reference import reference_breaths

    d = DATA_DIR / "hexoskin_chest" / subject
    t, acc, fs_acc, tr, vol, fs_r = read_shirt(d)
    ref, ref_in = reference_breaths(tr, vol, fs_r, band_hz=REF_BAND_HZ)
    _, act = wavfile.read(d / "activity.wav")
    _, rate = wavfile.read(d / "breathing_rate.wav")
    rr = np.loadtxt(d / "RR_interval.csv", delimiter=",", skiprows=1, ndmin=2)
    ok = rr[:, 1] > 0
    beats, rr_ms = rr[ok, 0], rr[ok, 1] / 256.0 * 1000.0
    scored, stretches = rest_windows(act.astype(float), rate.astype(float), ref)
    return Case(
        f"hexoskin_{subject}",
        "acc",
        t,
        acc,
        float(fs_acc),
        ref,
        ref_inhale_s=ref_in,
        rr=(beats, rr_ms),
        ref_signal=(tr, vol),
        score_windows=scored,
        rest_stretches=stretches,
        motion_windows=motion_windows(act.astype(float)),
    )


def hexoskin(subjects: tuple[str, ...] = SUBJECTS) -> list[Case]:
    """The DEV subjects present under ``shared/data`` (all of them when the data is there)."""
    base: Path = DATA_DIR / "hexoskin_chest"
    return [load(s) for s in subjects if (base / s).is_dir()]
