"""The accelerometer path on a real chest (issue 12): polarity evidence, motion, chunk invariance.

The real-data check uses a DEV excerpt of ``shared/data/hexoskin_chest`` (Hexoskin shirt, MIT,
LMU HAR Lab `Har-Lab/HumanActivityData`): subject 002, 600-900 s, walking, then a resting stretch
(759-837 s) breathing about 28 times a minute, then walking again. It is skipped when the shared
data folder is absent. The synthetic checks cover the RR-evidence weighting by breath period.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from psoas_sense.dsp.pipeline import Pipeline
from psoas_sense.dsp.polarity import RR_EXPECTED_LAG_S, RR_FAST_LAG_SHARE, RR_LAGS_S, PolarityTracker
from psoas_sense.model import AccFrame, BreathEvent, CoreEvent, RRFrame, SignalNotice

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
HEXO = DATA / "hexoskin_chest" / "002"
MG_PER_COUNT = 3.90625
EXCERPT_S = (600.0, 900.0)


def _fed_tracker(period_s: float, corr_sign: int = 1) -> PolarityTracker:
    """A tracker fed 60 s of heart rate that follows the axis signal exactly (strong RSA)."""
    tr = PolarityTracker()
    tr.period_s = period_s
    lags = np.asarray(RR_LAGS_S)
    for k in range(240):
        t = k * 0.25
        axis = np.sin(2 * math.pi * (t - lags) / period_s)  # the axis signal at the paired lags
        hr = corr_sign * math.sin(2 * math.pi * (t - RR_EXPECTED_LAG_S) / period_s)
        tr.add_rr_pairs(hr, axis, 0.25)
    return tr


def test_rr_trust_full_at_slow_breathing_none_at_fast() -> None:
    lo, hi = RR_FAST_LAG_SHARE
    assert PolarityTracker().rr_trust == pytest.approx(0.75)  # default period 4 s (15/min)
    slow = _fed_tracker(6.0)
    assert slow.rr_trust == 1.0
    assert slow.score() > 3.0 and slow.source == "rr"
    fast = _fed_tracker(RR_EXPECTED_LAG_S / hi)  # 24 breaths/min: the fixed lag is 0.4 of a period
    assert fast.rr_trust == 0.0
    assert fast.score() == 0.0 and fast.confidence == 0.0
    mid = PolarityTracker()
    mid.period_s = RR_EXPECTED_LAG_S / ((lo + hi) / 2)
    assert mid.rr_trust == pytest.approx(0.5)


def test_rr_evidence_keeps_its_sign_and_decides_when_slow() -> None:
    tr = _fed_tracker(5.0, corr_sign=-1)
    assert tr.score() < -3.0
    assert tr.decide(100.0)
    assert tr.polarity == -1 and tr.confidence > 0.7


def _load_excerpt() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    wavfile = pytest.importorskip("scipy.io.wavfile")
    ax = [wavfile.read(HEXO / f"acceleration_{k}.wav") for k in "XYZ"]
    fs = float(ax[0][0])
    n = min(a[1].shape[0] for a in ax)
    acc = np.stack([a[1][:n] for a in ax], axis=1).astype(float) * MG_PER_COUNT
    t = np.arange(n) / fs
    keep = (t >= EXCERPT_S[0]) & (t < EXCERPT_S[1])
    rr = np.loadtxt(HEXO / "RR_interval.csv", delimiter=",", skiprows=1, ndmin=2)
    ok = (rr[:, 1] > 0) & (rr[:, 0] >= EXCERPT_S[0]) & (rr[:, 0] < EXCERPT_S[1])
    _, act = wavfile.read(HEXO / "activity.wav")
    return t[keep], acc[keep], rr[ok, 0], rr[ok, 1] / 256.0 * 1000.0, act.astype(float)


def _run(t: np.ndarray, acc: np.ndarray, bt: np.ndarray, rr: np.ndarray, chunk_s: float) -> list[CoreEvent]:
    items: list[tuple[float, int, AccFrame | RRFrame]] = []
    for a in np.arange(t[0], t[-1] + chunk_s, chunk_s):
        m = (t >= a) & (t < a + chunk_s)
        if m.any():
            items.append((float(t[m][-1]), 0, AccFrame(t[m], acc[m])))
        mb = (bt >= a) & (bt < a + chunk_s)
        if mb.any():
            items.append((float(bt[mb][-1]), 1, RRFrame(bt[mb], rr[mb])))
    items.sort(key=lambda p: (p[0], p[1]))
    pipe = Pipeline(signal="acc", streams={"acc": {"rate_hz": 64.0}, "rr": {}})
    out: list[CoreEvent] = []
    for _, _, f in items:
        out.extend(pipe.feed(f))
    return out


@pytest.mark.shared_data
def test_hexoskin_excerpt_motion_polarity_and_chunks() -> None:
    if not HEXO.is_dir():
        pytest.skip(f"hexoskin_chest DEV data not found at {HEXO}")
    t, acc, bt, rr, act = _load_excerpt()
    ev = _run(t, acc, bt, rr, 1.0)
    exh = [e for e in ev if isinstance(e, BreathEvent) and e.kind == "exhale"]
    # device activity >= 30 (walking): no confident exhale there
    moving_s = np.nonzero(act >= 30)[0].astype(float)
    for e in exh:
        if e.quality is not None and e.quality >= 0.5:
            assert np.min(np.abs(moving_s + 0.5 - e.t_s)) > 1.0, f"confident exhale at {e.t_s} while walking"
    # motion is flagged, and breathing is followed in the resting stretch (759-837 s)
    assert any(isinstance(e, SignalNotice) and e.kind == "motion" for e in ev)
    rest = [e for e in exh if 775.0 <= e.t_s <= 837.0]
    assert 20 <= len(rest) <= 40  # about 28 breaths/min over 62 s
    # polarity: at most 2 flips in these 5 minutes, each with a reason
    flips = [e for e in ev if isinstance(e, SignalNotice) and e.kind == "polarity" and e.detail.get("flipped")]
    assert len(flips) <= 2 and all(f.detail.get("reason") for f in flips)
    # at ~28 breaths/min the RR evidence is not trusted: no confidence from it alone
    pol = [e for e in ev if isinstance(e, SignalNotice) and e.kind == "polarity"]
    assert not any(p.detail["source"] == "rr" and p.detail["confidence"] >= 0.7 and 775 <= p.t_s <= 837 for p in pol)
    # chunk invariance on real data
    ev2 = _run(t, acc, bt, rr, 0.37)
    exh2 = [e for e in ev2 if isinstance(e, BreathEvent) and e.kind == "exhale"]
    assert [round(e.t_s, 6) for e in exh] == [round(e.t_s, 6) for e in exh2]
