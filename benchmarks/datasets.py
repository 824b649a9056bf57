"""Loaders for the shared recordings used by the detection benchmark.

Only DEV files are listed in the default sets; HOLDOUT files are reachable only through the
``*-holdout`` sets, which are for a final, separate evaluation (never for tuning). Nothing here
copies data into the project: every file is read in place from ``shared/data``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
"""``shared/data`` beside the project clone."""

BIDMC_DEV = tuple(range(1, 16))
BIDMC_HOLDOUT = tuple(range(16, 54))
BIDMC_AGREEMENT_MIN = 0.8
"""Records whose annotators agree on fewer breaths than this are left out (README)."""
BIDMC_AGREE_TOL_S = 0.5
"""Two annotators' marks within this many seconds are the same breath."""


@dataclass
class Case:
    """One recording prepared for the benchmark."""

    name: str
    kind: str
    """Which input the detector gets: ``resp``, ``acc`` or ``rr``."""
    t_s: np.ndarray
    x: np.ndarray
    """Samples: (n,) for resp and rr (rr in ms at beat times ``t_s``), (n, 3) mG for acc."""
    fs_hz: float | None
    ref_exhale_s: np.ndarray | None = None
    """Reference exhale onsets (end of inspiration), when known."""
    ref_inhale_s: np.ndarray | None = None
    """Reference inhale onsets (end of expiration), when known: a run whose exhales match these
    better than ``ref_exhale_s`` is inverted."""
    ref_ignore_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """Breaths marked by only one annotator: detections near them are neither TP nor FP."""
    ref_rate_bpm: float | None = None
    """Known paced rate (phone set)."""
    ref_signal: tuple[np.ndarray, np.ndarray] | None = None
    """(t_s, waveform) of a reference belt, for rate windows (rr set)."""
    rr: tuple[np.ndarray, np.ndarray] | None = None
    """(beat_t_s, rr_ms) from the same body, fed beside the accelerometer."""
    true_polarity: int | None = None
    """+1 when the accelerometer's principal axis positive = inhale, as the harness built it."""
    score_from_s: float = 10.0
    """References and detections before this time are not scored (warm-up)."""
    score_to_s: float = np.inf
    score_windows: list[tuple[float, float]] | None = None
    """Where references and detections are scored, ``(start_s, end_s)``; None: from
    ``score_from_s`` to ``score_to_s`` (and 2 s before the end)."""
    rest_stretches: list[tuple[float, float]] = field(default_factory=list)
    """Whole resting stretches (hexoskin), including their unscored start."""
    motion_windows: list[tuple[float, float]] = field(default_factory=list)
    """Stretches of body motion (hexoskin: device activity >= 30)."""


def _bidmc_case(rec: int) -> Case | None:
    d = DATA_DIR / "bidmc"
    with gzip.open(d / f"bidmc_{rec:02d}_Signals.csv.gz", "rt") as fh:
        arr = np.loadtxt(fh, delimiter=",", skiprows=1, usecols=(0, 1))
    t, resp = arr[:, 0], arr[:, 1]
    fs = 125.0
    marks = np.genfromtxt(d / f"bidmc_{rec:02d}_Breaths.csv", delimiter=",", skip_header=1)
    marks = np.atleast_2d(marks)
    a1 = marks[:, 0][~np.isnan(marks[:, 0])] / fs
    a2 = marks[:, 1][~np.isnan(marks[:, 1])] / fs
    both: list[float] = []
    used2 = np.zeros(a2.shape[0], bool)
    only: list[float] = []
    for m in a1:
        j = int(np.argmin(np.abs(a2 - m))) if a2.size else -1
        if j >= 0 and abs(a2[j] - m) <= BIDMC_AGREE_TOL_S and not used2[j]:
            used2[j] = True
            both.append(0.5 * (m + a2[j]))
        else:
            only.append(m)
    only.extend(a2[~used2].tolist())
    # the README's agreement: the smaller of the two annotators' shares of marks matched within 0.5 s
    s1 = np.mean([np.min(np.abs(a2 - m)) <= BIDMC_AGREE_TOL_S for m in a1]) if a1.size and a2.size else 0.0
    s2 = np.mean([np.min(np.abs(a1 - m)) <= BIDMC_AGREE_TOL_S for m in a2]) if a1.size and a2.size else 0.0
    agreement = float(min(s1, s2))
    if agreement < BIDMC_AGREEMENT_MIN:
        return None
    return Case(
        name=f"bidmc_{rec:02d}",
        kind="resp",
        t_s=t,
        x=resp,
        fs_hz=fs,
        ref_exhale_s=np.sort(np.asarray(both)),
        ref_ignore_s=np.sort(np.asarray(only)),
    )


def bidmc(records: tuple[int, ...]) -> list[Case]:
    out = []
    for r in records:
        c = _bidmc_case(r)
        if c is not None:
            out.append(c)
    return out


def _csv_columns(path: Path) -> dict[str, np.ndarray]:
    with path.open() as fh:
        names = fh.readline().strip().split(",")
    arr = np.loadtxt(path, delimiter=",", skiprows=1)
    return {n: arr[:, i] for i, n in enumerate(names)}


def belt() -> list[Case]:
    """Belt and airflow-like waveforms (DEV), with zero-phase references (see reference.py)."""
    from reference import reference_exhales

    cases = []
    nk = DATA_DIR / "neurokit2"
    for fname in ("bio_resting_5min_100hz.csv", "bio_eventrelated_100hz.csv"):
        cols = _csv_columns(nk / fname)
        x = cols["RSP"]
        t = np.arange(x.shape[0]) / 100.0
        cases.append(Case(fname.removesuffix(".csv"), "resp", t, x, 100.0, reference_exhales(t, x, 100.0)))
    # BioSPPy piezo belt at 1000 Hz
    x = np.loadtxt(DATA_DIR / "biosppy_resp" / "resp.txt", comments="#")
    t = np.arange(x.shape[0]) / 1000.0
    cases.append(Case("biosppy_resp", "resp", t, x, 1000.0, reference_exhales(t, x, 1000.0)))
    # CEBS respiration excerpt and MIMIC II respiration (scg_ppg_resp_lin DEV files)
    import scipy.io as sio

    for fname in ("SCGwithResp", "fingerPPGwithRIIV"):
        m = sio.loadmat(DATA_DIR / "scg_ppg_resp_lin" / f"{fname}.mat")
        x = np.asarray(m["resp"], float).ravel()
        t = np.arange(x.shape[0]) / 100.0
        cases.append(Case(f"{fname}.resp", "resp", t, x, 100.0, reference_exhales(t, x, 100.0), score_from_s=8.0))
    return cases


def r_peaks(ecg: np.ndarray, fs: float) -> np.ndarray:
    """Offline R-peak times (zero-phase band-pass + prominence peaks): stands in for a strap."""
    from scipy import signal as sps

    sos = sps.butter(2, [5.0, 25.0], btype="bandpass", fs=fs, output="sos")
    y = sps.sosfiltfilt(sos, ecg)
    if np.abs(np.min(y)) > np.abs(np.max(y)):
        y = -y
    # robust height: a high percentile of the filtered ECG
    h = 0.35 * np.percentile(y, 99.5)
    pk, _ = sps.find_peaks(y, height=h, distance=int(0.33 * fs))
    return pk / fs


def rr() -> list[Case]:
    """RR intervals from the NeuroKit DEV ECG, scored against the belt of the same recording."""
    cases = []
    nk = DATA_DIR / "neurokit2"
    for fname in ("bio_resting_5min_100hz.csv", "bio_eventrelated_100hz.csv"):
        cols = _csv_columns(nk / fname)
        t = np.arange(cols["RSP"].shape[0]) / 100.0
        beats = r_peaks(cols["ECG"], 100.0)
        rr_ms = np.diff(beats) * 1000.0
        from reference import reference_exhales

        cases.append(
            Case(
                fname.removesuffix(".csv") + ".rr",
                "rr",
                beats[1:],
                rr_ms,
                None,
                reference_exhales(t, cols["RSP"], 100.0),
                ref_signal=(t, cols["RSP"]),
                score_from_s=20.0,
            )
        )
    return cases


def phone(pos: str = "pos1") -> list[Case]:
    """Phone accelerometer on the thorax, paced breathing (pos1 = DEV, pos2 = HOLDOUT)."""
    cases = []
    d = DATA_DIR / "phone_imu_paced_breathing"
    for period in (2, 4, 6, 8, 10, 12, 16, 20):
        path = d / f"{pos}_accelerometer_data_{period}sbreathing.txt"
        arr = np.loadtxt(path, delimiter=",")
        t = arr[:, 0]
        keep = np.concatenate(([True], np.diff(t) > 0))
        t, acc = t[keep], arr[keep, 1:4] * 1000.0
        cases.append(
            Case(
                path.stem,
                "acc",
                t - t[0],
                acc,
                None,
                ref_rate_bpm=60.0 / period,
                score_from_s=5.0,
                score_to_s=float(t[-1] - t[0] - 5.0),
            )
        )
    return cases


def rotation(rng: np.random.Generator) -> np.ndarray:
    """A random rotation matrix (QR of a Gaussian matrix, sign-fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))[None, :]
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def acc_chest() -> list[Case]:
    """Chest accelerometer: the CEBS SCG excerpt (real, one axis) placed in random orientations
    with gravity, plus seeded H10-like synthetic recordings (orientations, posture shifts, a
    stuck axis). RR comes from the ECG (real) or the simulator."""
    import sys

    import scipy.io as sio

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from psoas_sense.simulate import Breather, synthesize
    from reference import reference_breaths

    cases = []
    m = sio.loadmat(DATA_DIR / "scg_ppg_resp_lin" / "SCGwithResp.mat")
    scg = np.asarray(m["scg"], float).ravel()
    resp = np.asarray(m["resp"], float).ravel()
    ecg = np.asarray(m["ecg"], float).ravel()
    t = np.arange(scg.shape[0]) / 100.0
    beats = r_peaks(ecg, 100.0)
    ref, ref_in = reference_breaths(t, resp, 100.0)
    # the SCG's slow component correlates positively with resp (README): scale to mG-ish
    s = (scg - np.mean(scg)) / (np.std(scg) + 1e-12) * 10.0
    for k in range(3):
        rng = np.random.default_rng(100 + k)
        rot = rotation(rng)
        body = np.stack([s, np.zeros_like(s), np.full_like(s, 1000.0)], axis=1)
        acc = body @ rot.T
        cases.append(
            Case(f"cebs_scg.rot{k}", "acc", t, acc, 100.0, ref, rr=(beats[1:], np.diff(beats) * 1000.0),
                 true_polarity=1, score_from_s=8.0, ref_inhale_s=ref_in)
        )
    specs = [
        ("h10_supine_12bpm", Breather(rate_bpm=12.0), {}),
        ("h10_side_20bpm", Breather(rate_bpm=20.0, ie_ratio=0.8), {}),
        ("h10_prone_6bpm_pause", Breather(rate_bpm=6.0, ie_ratio=0.5, pause_share=0.2), {}),
        ("h10_posture_shift", Breather(rate_bpm=14.0), {"posture_shift_s": 120.0}),
        ("h10_stuck_axis", Breather(rate_bpm=10.0), {"stuck_axis": (1, 90.0)}),
        ("h10_motion", Breather(rate_bpm=15.0), {"motion_artifacts": 3}),
    ]
    for i, (name, b, kw) in enumerate(specs):
        syn = synthesize(240.0, seed=200 + i, breather=b, fs_hz=200.0, noise=0.05, **kw)
        cases.append(
            Case(name, "acc", syn.t_s, syn.acc_mg, 200.0, syn.exhale_onsets_s, rr=(syn.beat_t_s, syn.rr_ms),
                 true_polarity=1, ref_inhale_s=syn.inhale_onsets_s)
        )
    return cases


# --- HOLDOUT sets: evaluation only, once, never for tuning (README) ---------------------------


def belt_holdout() -> list[Case]:
    """HOLDOUT belts: NeuroKit2 8 min RSP, systole Task1 respiration (25.6 min, 1000 Hz), the
    FCU respiration of f04sSCGwithResp and wristPPGwithRIIV. (Y6O3_MCH is airflow, whose sign
    convention is undocumented; it is not scored.)"""
    from reference import reference_exhales

    cases = []
    cols = _csv_columns(DATA_DIR / "neurokit2" / "bio_resting_8min_100hz.csv")
    x = cols["RSP"]
    t = np.arange(x.shape[0]) / 100.0
    cases.append(Case("bio_resting_8min_100hz", "resp", t, x, 100.0, reference_exhales(t, x, 100.0)))
    x = np.load(gzip.open(DATA_DIR / "systole_task1" / "Task1_Respiration.npy.gz")).astype(float)
    t = np.arange(x.shape[0]) / 1000.0
    cases.append(Case("systole_task1_resp", "resp", t, x, 1000.0, reference_exhales(t, x, 1000.0)))
    import scipy.io as sio

    for fname in ("f04sSCGwithResp", "wristPPGwithRIIV"):
        m = sio.loadmat(DATA_DIR / "scg_ppg_resp_lin" / f"{fname}.mat")
        x = np.asarray(m["resp"], float).ravel()
        t = np.arange(x.shape[0]) / 100.0
        cases.append(Case(f"{fname}.resp", "resp", t, x, 100.0, reference_exhales(t, x, 100.0)))
    return cases


def rr_holdout() -> list[Case]:
    """HOLDOUT RR: NeuroKit2 8 min ECG and systole Task1 ECG, against their belts."""
    from reference import reference_exhales

    cases = []
    cols = _csv_columns(DATA_DIR / "neurokit2" / "bio_resting_8min_100hz.csv")
    t = np.arange(cols["RSP"].shape[0]) / 100.0
    beats = r_peaks(cols["ECG"], 100.0)
    cases.append(Case("bio_resting_8min_100hz.rr", "rr", beats[1:], np.diff(beats) * 1000.0, None,
                      reference_exhales(t, cols["RSP"], 100.0), ref_signal=(t, cols["RSP"]), score_from_s=20.0))
    ecg = np.load(gzip.open(DATA_DIR / "systole_task1" / "Task1_ECG.npy.gz")).astype(float)
    resp = np.load(gzip.open(DATA_DIR / "systole_task1" / "Task1_Respiration.npy.gz")).astype(float)
    t = np.arange(resp.shape[0]) / 1000.0
    beats = r_peaks(ecg, 1000.0)
    cases.append(Case("systole_task1.rr", "rr", beats[1:], np.diff(beats) * 1000.0, None,
                      reference_exhales(t, resp, 1000.0), ref_signal=(t, resp), score_from_s=20.0))
    return cases
