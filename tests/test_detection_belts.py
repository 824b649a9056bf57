"""Waveform belts and impedance (issue 12, points 4-5): the envelope path for strong heartbeat
ripple, the shallow half-breath rule, and quality on clean breathing.

The unit checks run on synthetic signals; the DEV checks read ``../shared/data`` (marked
``shared_data``, skipped when it is absent) and sit a little under the figures measured with
``benchmarks/evaluate.py --set bidmc-dev,belt``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from chunking import irregular, lone_samples_in, regular
from psoas_sense.dsp.detector import PhaseDetector
from psoas_sense.dsp.extract import RespExtractor
from psoas_sense.dsp.pipeline import Pipeline
from psoas_sense.model import BreathEvent, RespFrame

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _spiky_impedance(seconds: float = 120.0, fs: float = 125.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Breathing at 15/min seen only as the height of sharp heartbeat spikes (91 beats/min): the
    signal's mean hardly moves, its envelope does. Returns (t, x, true exhale onsets)."""
    t = np.arange(int(seconds * fs)) / fs
    breath = np.sin(2 * np.pi * 0.25 * t)  # maxima at 1 s + 4k s
    hp = 60.0 / 91.0
    phase = (t % hp) / hp
    spike = np.exp(-0.5 * ((phase - 0.2) / 0.02) ** 2)
    x = 0.3 + (0.2 + 0.06 * breath) * spike - 0.002 * breath
    onsets = 1.0 + 4.0 * np.arange(int(seconds / 4.0))
    return t, x, onsets


def _events(t: np.ndarray, x: np.ndarray, fs: float, chunk: int | list[slice]) -> list[BreathEvent]:
    cuts = chunk if isinstance(chunk, list) else regular(t.shape[0], chunk)
    frames = [RespFrame(t[c], x[c]) for c in cuts]
    ev = Pipeline(signal="resp", streams={"resp": {"rate_hz": fs}}).feed_all(frames)
    return [e for e in ev if isinstance(e, BreathEvent)]


def test_envelope_path_follows_spike_heights():
    """The breath that shows only in the heartbeat spikes' height is found (the mean-preserving
    notches and comb alone lose it)."""
    t, x, onsets = _spiky_impedance()
    ex = np.asarray([e.t_s for e in _events(t, x, 125.0, 125) if e.kind == "exhale"])
    ex = ex[ex > 40.0]  # the fade-in follows 10 s power estimates
    ref = onsets[(onsets > 40.0) & (onsets < t[-1] - 2.0)]
    hits = sum(1 for r in ref if ex.size and np.min(np.abs(ex - r)) <= 0.6)
    assert hits >= 0.9 * ref.size
    assert ex.size <= ref.size + 2


def test_envelope_path_is_chunk_invariant():
    t, x, _ = _spiky_impedance(60.0)
    whole = _events(t, x, 125.0, t.shape[0])
    n = t.shape[0]
    # one sample at a time through the first 12 s (the envelope's first power estimates), irregular
    # chunks of 1 to 25 samples (seeded), and chunks of 125 and 333, over the whole
    for chunk in (lone_samples_in(n, (0, 1500)), irregular(n, seed=9), 125, 333):
        assert _events(t, x, 125.0, chunk) == whole


def test_raw_envelope_extractor_chunks():
    """The extractor's output (envelope path included) does not depend on the chunking."""
    t, x, _ = _spiky_impedance(40.0)
    a = RespExtractor(125.0).process(t, x)
    ex = RespExtractor(125.0)
    parts = [ex.process(t[i : i + 37], x[i : i + 37]) for i in range(0, t.shape[0], 37)]
    y = np.concatenate([p.y for p in parts])
    assert np.allclose(y, a.y, atol=1e-9)


def test_quality_regular_breathing_is_confident():
    """Regular breathing with natural depth variation (CV 0.2) reaches quality 0.5."""
    fs = 25.0
    rng = np.random.default_rng(3)
    t = np.arange(int(180 * fs)) / fs
    depth = np.repeat(1.0 + 0.2 * rng.standard_normal(60), int(3.5 * fs))[: t.shape[0]]
    y = depth * np.sin(2 * np.pi * t / 3.5)
    ev = PhaseDetector(fs, signal="resp").process(t, y, t)
    q = np.asarray([e.quality for e in ev if isinstance(e, BreathEvent) and e.kind == "exhale" and e.t_s > 30])
    assert q.size > 30
    assert np.mean(q >= 0.5) >= 0.9


# --- DEV recordings -------------------------------------------------------------------------


def _bench():
    if not DATA.is_dir():
        pytest.skip(f"shared data folder not found at {DATA}")
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    import datasets
    import evaluate

    return datasets, evaluate


@pytest.mark.shared_data
def test_bidmc_02_ripple_dominated_dev():
    """bidmc_02: breathing shows in the heartbeat spikes' height (F1 0.67 before the envelope
    path, baseline 0.31; 0.955 measured)."""
    datasets, evaluate = _bench()
    r = evaluate.ours(datasets.bidmc((2,))[0], 1.0)
    assert r["f1"] >= 0.92
    assert r["lat_med_s"] <= 0.6


@pytest.mark.shared_data
def test_bidmc_05_ventilator_plateau_dev():
    """bidmc_05: a bump before each square inspiration is not confirmed (0.925 before, 0.989
    measured; the baseline 0.969)."""
    datasets, evaluate = _bench()
    r = evaluate.ours(datasets.bidmc((5,))[0], 1.0)
    assert r["f1"] >= 0.97


@pytest.mark.shared_data
def test_resting_belt_quality_dev():
    """NeuroKit2 5 min resting belt: most exhales reach quality 0.5 (cSe 0.68 before, 0.91
    measured) and those are right."""
    datasets, evaluate = _bench()
    case = next(c for c in datasets.belt() if c.name == "bio_resting_5min_100hz")
    r = evaluate.ours(case, 1.0)
    assert r["f1"] >= 0.97
    assert r["conf_se"] >= 0.85
    assert r["conf_ppv"] >= 0.95


@pytest.mark.shared_data
def test_bidmc_record_unchanged_by_envelope_path_dev():
    """A record with little ripple (bidmc_01) is not touched by the envelope path."""
    datasets, evaluate = _bench()
    r = evaluate.ours(datasets.bidmc((1,))[0], 1.0)
    assert r["f1"] >= 0.99
    assert r["lat_med_s"] <= 0.4



def _sighing_belt(seconds: float = 300.0, fs: float = 25.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Regular breaths (4 s, unit depth) with a two-stage sigh every 40 s: a first stage a little
    deeper than a breath, a pause with a small dip, then a second stage to 2.5x and a long
    exhale. Returns (t, y, true exhale onsets = the real peaks)."""
    pieces: list[np.ndarray] = []
    ref: list[float] = []
    n = 0
    k = 0
    while n < seconds * fs:
        if k % 10 == 9:
            up1 = 1.2 * (0.5 - 0.5 * np.cos(np.pi * np.arange(40) / 40))
            dip = 1.2 - 0.15 * np.sin(np.pi * np.arange(12) / 12)
            up2 = 1.2 + 1.3 * (0.5 - 0.5 * np.cos(np.pi * np.arange(25) / 25))
            down = 2.5 * (0.5 + 0.5 * np.cos(np.pi * np.arange(150) / 150))
            seg = np.concatenate((up1, dip, up2, down))
            ref.append((n + 40 + 12 + 24) / fs)
        else:
            seg = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(100) / 100)
            ref.append((n + 50) / fs)
        pieces.append(seg)
        n += seg.shape[0]
        k += 1
    y = np.concatenate(pieces)
    return np.arange(y.shape[0]) / fs, y, np.asarray(ref)


def test_two_stage_sigh_reports_the_real_peak():
    """A sigh's first stage is confirmed as the maximum; when the signal then rises well past it,
    the dip is reported as an inhale (quality 0, events still alternate) and the real peak as
    the exhale. Without this every sigh cost a false exhale and a missed one."""
    fs = 25.0
    t, y, ref = _sighing_belt()
    ev = [e for e in PhaseDetector(fs, signal="resp").process(t, y, t) if isinstance(e, BreathEvent)]
    kinds = [e.kind for e in ev]
    assert all(a != b for a, b in zip(kinds, kinds[1:]))  # exhales and inhales alternate
    ex = np.asarray([e.t_s for e in ev if e.kind == "exhale"])
    ref = ref[ref > 20.0]
    hits = sum(1 for r in ref if np.min(np.abs(ex - r)) <= 0.5)
    assert hits == ref.size  # every sigh's real peak is found
    assert sum(1 for e in ev if e.kind == "inhale" and e.quality == 0.0 and e.t_s > 20.0) >= 5
    # accelerometers do not re-arm (their polarity evidence was tuned without it)
    acc = PhaseDetector(fs, signal="acc").process(t, y, t)
    acc_ex = np.asarray([e.t_s for e in acc if isinstance(e, BreathEvent) and e.kind == "exhale"])
    assert sum(1 for r in ref if np.min(np.abs(acc_ex - r)) <= 0.5) < ref.size


def test_two_stage_sigh_is_chunk_invariant():
    fs = 25.0
    t, y, _ = _sighing_belt(120.0)
    whole = PhaseDetector(fs, signal="resp").process(t, y, t)
    for chunk in (1, 7, 25):
        det = PhaseDetector(fs, signal="resp")
        parts = [det.process(t[i : i + chunk], y[i : i + chunk], t[i : i + chunk]) for i in range(0, t.shape[0], chunk)]
        assert [e for p in parts for e in p] == whole
