"""Small units of the streaming DSP: filters, resampler, polarity evidence."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from psoas_sense.dsp.filters import GridResampler, StreamingSOS, design_lowpass
from psoas_sense.dsp.polarity import PolarityTracker


@pytest.mark.parametrize("size", [1, 5, 64])
def test_streaming_sos_equals_offline(size):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 3)) + 100.0
    sos = design_lowpass(2.0, 100.0)
    f = StreamingSOS(sos, channels=3)
    y = np.concatenate([f.process(x[i : i + size]) for i in range(0, 500, size)], axis=0)
    ref, _ = sps.sosfilt(sos, x, axis=0, zi=sps.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :])
    assert np.allclose(y, ref, atol=1e-9)


@pytest.mark.parametrize("size", [1, 3, 50])
def test_resampler_chunk_invariant_with_repeated_stamps(size):
    rng = np.random.default_rng(4)
    t = np.cumsum(rng.uniform(0.004, 0.006, 600))
    t[100] = t[99]  # a phone app repeats a stamp
    y = np.sin(t)
    whole = GridResampler(25.0).process(t, y)
    parts = [GridResampler(25.0)]
    outs = [parts[0].process(t[i : i + size], y[i : i + size]) for i in range(0, 600, size)]
    gt = np.concatenate([o[0] for o in outs])
    ga = np.concatenate([o[2] for o in outs])
    assert np.array_equal(gt, whole[0])
    assert np.array_equal(ga, whole[2])
    assert np.all(ga >= gt - 1e-9)  # a grid point is never known before a sample at/after it


def test_polarity_asymmetry_votes_and_calibration_overrides():
    p = PolarityTracker()
    for _ in range(6):
        p.add_breath(inhale_s=3.0, exhale_s=1.5)  # looks like exhales are short: inverted
    assert p.decide() is True and p.polarity == -1
    assert p.confidence > 0.5
    p.calibrate(+1)  # the deep breath went along +axis
    p.decide()
    assert p.polarity == 1 and p.source == "calibration"


def test_polarity_rr_correlation():
    p = PolarityTracker()
    t = np.arange(0, 60, 0.25)
    breath = np.sin(2 * np.pi * t / 5.0)
    from psoas_sense.dsp.polarity import RR_LAGS_S

    for i, ti in enumerate(t):
        hr = np.sin(2 * np.pi * (ti - 0.5) / 5.0)  # HR follows the inhale-positive signal
        axis = -np.sin(2 * np.pi * (ti - np.asarray(RR_LAGS_S)) / 5.0)  # the axis is inverted
        p.period_s = 5.0
        p.add_rr_pairs(hr, axis, 0.25)
    assert p.rr_correlation < -0.7  # -cos(2 pi (1.0 - 0.5) / 5) at the expected lag
    assert p.decide() and p.polarity == -1


def _breathing_with_ripple(seconds: float = 120.0, fs: float = 25.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Breathing at 15/min with heartbeat ripple at 90/min (plus a 2nd harmonic) twice as strong."""
    t = np.arange(int(seconds * fs)) / fs
    breath = np.sin(2 * np.pi * 0.25 * t)
    heart = 1.4 * np.sin(2 * np.pi * 1.5 * t) + 0.6 * np.sin(2 * np.pi * 3.0 * t + 0.7)
    return t, breath, breath + heart


@pytest.mark.parametrize("size", [1, 7, 64])
def test_ripple_guard_chunk_invariant(size):
    from psoas_sense.dsp.extract import RippleGuard

    _, _, x = _breathing_with_ripple(60.0)
    whole = RippleGuard(25.0, 0.0).process(x)
    g = RippleGuard(25.0, 0.0)
    parts = [g.process(x[i : i + size]) for i in range(0, x.shape[0], size)]
    for k in range(3):
        assert np.allclose(np.concatenate([p[k] for p in parts]), whole[k], rtol=0, atol=1e-12)


def test_ripple_guard_notches_remove_ripple_with_less_delay_than_comb():
    from psoas_sense.dsp.extract import RippleGuard

    t, breath, x = _breathing_with_ripple()
    late = t > 40.0  # the heart period and the fade have settled
    for method, max_delay_s in (("notch", 0.15), ("comb", 0.4)):
        out, delay, _ = RippleGuard(25.0, 0.0, method).process(x)
        # ripple gone: the output is the breath, delayed by the reported delay (+- a grid step)
        d = float(np.median(delay[late]))
        expected = np.interp(t - d, t, breath)
        assert np.sqrt(np.mean((out[late] - expected[late]) ** 2)) < 0.1, method
        assert d < max_delay_s, method
    notch_d = float(np.median(RippleGuard(25.0, 0.0, "notch").process(x)[1][late]))
    comb_d = float(np.median(RippleGuard(25.0, 0.0, "comb").process(x)[1][late]))
    assert notch_d < 0.5 * comb_d
