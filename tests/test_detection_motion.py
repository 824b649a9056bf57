"""Accelerometer detection through body motion: flagged, never confident, resumed after.

Synthetic chests (seeded) with walking added: steps are a 1.8 Hz bounce with harmonics plus a
slow sway, the thing that made a walking person look like 40 breaths a minute. And one real
chest (hexoskin DEV, read in place from ``shared/data``) walking, then resting.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.io import wavfile

from chunking import irregular, lone_samples_in, regular
from conftest import SHARED_DATA
from psoas_sense.dsp.pipeline import Pipeline
from psoas_sense.model import AccFrame, BreathEvent, RRFrame, SignalNotice
from psoas_sense.simulate import Breather, synthesize

FS = 50.0
CONFIDENT = 0.5


def walking(t: np.ndarray, start_s: float, end_s: float, rng: np.random.Generator) -> np.ndarray:
    """(n, 3) mG of walking between ``start_s`` and ``end_s`` (steps at 1.8 Hz, sway)."""
    out = np.zeros((t.shape[0], 3))
    m = (t >= start_s) & (t < end_s)
    tt = t[m]
    step = 250 * np.sin(2 * np.pi * 1.8 * tt) + 120 * np.sin(2 * np.pi * 3.6 * tt + 0.7)
    sway = 60 * np.sin(2 * np.pi * 0.9 * tt + rng.uniform(0, 6))
    out[m] = np.stack([step + sway, 0.5 * step, sway], axis=1) + 20 * rng.standard_normal((tt.size, 3))
    return out


def run(t: np.ndarray, acc: np.ndarray, beats: np.ndarray | None = None, rr: np.ndarray | None = None,
        rate_hz: float = FS) -> list:
    streams: dict = {"acc": {"rate_hz": rate_hz}}
    p = Pipeline(signal="acc", streams=streams)
    items: list[tuple[float, object]] = []
    step = int(rate_hz)
    for a in range(0, t.shape[0], step):
        items.append((float(t[min(a + step, t.shape[0]) - 1]), AccFrame(t[a : a + step], acc[a : a + step])))
    if beats is not None and rr is not None:
        for a in range(0, beats.shape[0], 2):
            items.append((float(beats[min(a + 2, beats.shape[0]) - 1]), RRFrame(beats[a : a + 2], rr[a : a + 2])))
    items.sort(key=lambda p: p[0])
    out: list = []
    for _, it in items:
        out.extend(p.feed(it))
    return out


@pytest.fixture(scope="module")
def walk_then_rest() -> tuple[object, list]:
    syn = synthesize(300.0, seed=31, breather=Breather(rate_bpm=14.0), fs_hz=FS, noise=0.05)
    rng = np.random.default_rng(5)
    acc = syn.acc_mg + walking(syn.t_s, 100.0, 160.0, rng)
    return syn, run(syn.t_s, acc, syn.beat_t_s, syn.rr_ms)


def test_walking_is_flagged_as_motion(walk_then_rest):
    _, events = walk_then_rest
    starts = [e.t_s for e in events if isinstance(e, SignalNotice) and e.kind == "motion"]
    ends = [e.t_s for e in events if isinstance(e, SignalNotice) and e.kind == "motion_ended"]
    assert starts and 100.0 <= starts[0] <= 101.0
    assert len(starts) <= 3  # one walk, not one episode per step
    assert ends and 160.0 <= ends[-1] <= 164.0


def test_no_confident_exhale_while_walking(walk_then_rest):
    _, events = walk_then_rest
    during = [e for e in events if isinstance(e, BreathEvent) and e.kind == "exhale" and 100.5 <= e.t_s <= 160.0]
    assert sum(e.quality >= CONFIDENT for e in during) == 0
    assert len(during) <= 2  # steps are not breaths


def test_detection_resumes_within_a_few_breaths(walk_then_rest):
    syn, events = walk_then_rest
    ex = [e for e in events if isinstance(e, BreathEvent) and e.kind == "exhale"]
    after = [e for e in ex if e.t_s > 160.0]
    period = 60.0 / 14.0
    first = next(e for e in after if any(abs(e.t_s - r) < 0.25 * period for r in syn.exhale_onsets_s))
    assert first.t_s < 160.0 + 4 * period
    first_conf = next(e for e in after if e.quality >= CONFIDENT)
    assert first_conf.t_s < 160.0 + 8 * period
    # and those events are right
    conf = [e for e in after if e.quality >= CONFIDENT]
    hits = sum(any(abs(e.t_s - r) < 0.25 * period for r in syn.exhale_onsets_s) for e in conf)
    assert hits >= 0.9 * len(conf)


def test_polarity_is_not_relearnt_after_motion_without_a_posture_change(walk_then_rest):
    _, events = walk_then_rest
    pol = [e for e in events if isinstance(e, SignalNotice) and e.kind == "polarity"]
    flips = [e for e in pol if e.detail["flipped"]]
    assert len(flips) <= 1  # the first decision only
    assert all("reason" in e.detail for e in pol)


def test_motion_handling_is_chunk_invariant():
    syn = synthesize(150.0, seed=8, breather=Breather(rate_bpm=12.0), fs_hz=FS, noise=0.05)
    acc = syn.acc_mg + walking(syn.t_s, 60.0, 90.0, np.random.default_rng(2))
    whole = Pipeline(signal="acc", streams={"acc": {"rate_hz": FS}}).feed_all([AccFrame(syn.t_s, acc)])
    assert any(isinstance(e, SignalNotice) and e.kind == "motion_ended" for e in whole)
    n = syn.t_s.size
    # one sample at a time across the walking's start (55-65 s), irregular chunks of 1 to 25
    # samples (seeded) and chunks of 200 over the whole
    a, b = int(55 * FS), int(65 * FS)
    ways = {"one sample at a time as the walking starts": lone_samples_in(n, (a, b)),
            "irregular": irregular(n, seed=8), "chunks of 200": regular(n, 200)}
    for label, cuts in ways.items():
        p = Pipeline(signal="acc", streams={"acc": {"rate_hz": FS}})
        assert p.feed_all([AccFrame(syn.t_s[c], acc[c]) for c in cuts]) == whole, label


@pytest.mark.slow
def test_flips_stay_rare_on_a_long_noisy_recording():
    """Ten minutes of shallow, noisy breathing with RR: at most 2 polarity flips."""
    syn = synthesize(600.0, seed=12, breather=Breather(rate_bpm=16.0), fs_hz=FS, noise=0.3, acc_amplitude_mg=6.0)
    events = run(syn.t_s, syn.acc_mg, syn.beat_t_s, syn.rr_ms)
    flips = [e for e in events if isinstance(e, SignalNotice) and e.kind == "polarity" and e.detail["flipped"]]
    assert len(flips) <= 2


HEX = SHARED_DATA / "hexoskin_chest" / "002"


@pytest.mark.shared_data
def test_real_chest_walking_gives_no_confident_exhales():
    """Hexoskin DEV subject 002, 300-600 s: walking (device activity >= 30 nearly throughout)."""
    if not HEX.is_dir():
        pytest.skip(f"hexoskin data not found at {HEX}")
    fs, ax = wavfile.read(HEX / "acceleration_X.wav")
    _, ay = wavfile.read(HEX / "acceleration_Y.wav")
    _, az = wavfile.read(HEX / "acceleration_Z.wav")
    _, act = wavfile.read(HEX / "activity.wav")
    a, b = 300 * fs, 600 * fs
    acc = np.stack([ax[a:b], ay[a:b], az[a:b]], axis=1).astype(float) * 3.90625
    t = np.arange(a, b) / float(fs)
    events = run(t, acc, rate_hz=float(fs))
    moving_s = float(np.sum(act[300:600] >= 30))
    assert moving_s > 200
    ex = [e for e in events if isinstance(e, BreathEvent) and e.kind == "exhale"]
    confident = [e for e in ex if e.quality >= CONFIDENT and act[int(e.t_s)] >= 30]
    assert len(confident) <= moving_s / 60.0  # at most one a minute
    assert len(ex) <= 0.2 * moving_s / 60.0 * 40  # far fewer than the ~40 steps a minute
