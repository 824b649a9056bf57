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


def test_polarity_asymmetry_votes_at_fast_breathing_and_calibration_overrides():
    p = PolarityTracker()
    for _ in range(6):
        p.add_breath(inhale_s=1.5, exhale_s=0.75)  # looks like exhales are short: inverted
    assert p.score() == 0.0  # at rest (default period 4 s) the durations do not count ...
    p.period_s = 2.25  # ... breathing fast (27/min) they do
    assert p.decide() is True and p.polarity == -1
    assert p.confidence > 0.5
    p.calibrate(+1)  # the deep breath went along +axis
    p.decide()
    assert p.polarity == 1 and p.source == "calibration"


def test_polarity_rr_correlation():
    p = PolarityTracker()
    t = np.arange(0, 60, 0.25)
    from psoas_sense.dsp.polarity import RR_LAGS_S

    for ti in t:
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


def _with_gap(kind: str) -> tuple[np.ndarray, np.ndarray]:
    """30 s of input with nothing between 10 s and 20 s."""
    if kind == "rr":
        t = np.arange(0.8, 30.0, 0.8)
        v = np.full(t.shape, 800.0)
    else:
        t = np.arange(0, 1500) / 50.0
        v = np.sin(2 * np.pi * 0.25 * t)
        if kind == "acc":
            v = np.stack([v, 0.5 * v, 1000.0 + v], axis=1)
    keep = (t < 10.0) | (t >= 20.0)
    return t[keep], v[keep]


@pytest.mark.parametrize("kind", ["resp", "acc", "rr"])
def test_extractors_meet_the_protocol_and_report_gaps(kind):
    from psoas_sense.dsp.extract import AccExtractor, Extracted, Extractor, RespExtractor, RRExtractor

    ex: Extractor = {"resp": RespExtractor(50.0), "acc": AccExtractor(50.0), "rr": RRExtractor()}[kind]
    t, v = _with_gap(kind)
    out = ex.process(t, v)
    assert isinstance(out, Extracted)
    assert out.t.shape == out.y.shape == out.available.shape and out.t.size > 0
    assert np.all(out.available >= out.t - 1e-9)
    # one gap, reported by the extractor and as an index into its output
    assert len(ex.gaps) == 1
    start_s, end_s = ex.gaps[0]
    assert start_s < 10.0 and end_s >= 20.0
    assert len(out.gap_starts) == 1
    g = out.gap_starts[0]
    assert out.t[g - 1] < 10.0 and out.t[g] >= 20.0
    steps = np.diff(out.t)
    assert np.allclose(np.delete(steps, g - 1), 1.0 / ex.fs_hz)


def test_extract_package_exports_every_name():
    import psoas_sense.dsp.extract as extract

    for name in extract.__all__:
        assert hasattr(extract, name), name
    from psoas_sense.dsp.extract.acc import AccExtractor
    from psoas_sense.dsp.extract.resp import RespExtractor
    from psoas_sense.dsp.extract.ripple import RippleGuard
    from psoas_sense.dsp.extract.rr import RRExtractor

    assert extract.AccExtractor is AccExtractor and extract.RespExtractor is RespExtractor
    assert extract.RRExtractor is RRExtractor and extract.RippleGuard is RippleGuard


def test_breath_stats_amplitude_decays_to_a_floor():
    from psoas_sense.dsp.breath_stats import AMPLITUDE_FLOOR_SHARE, DECAY_AFTER_PERIODS, BreathStats

    st = BreathStats(25.0)
    st.ms = 0.5
    assert st.amplitude == pytest.approx(2.0)  # a sine of RMS 0.5 ** 0.5 is 2 peak to peak
    for exc in (1.0, 1.2, 0.8):
        st.add_excursion(exc)
    st.refresh()
    assert st.amplitude == pytest.approx(1.0)  # the median, once three are known
    per = st.period_s
    assert st.effective_amplitude(10.0, 10.0 - DECAY_AFTER_PERIODS * per) == pytest.approx(1.0)
    assert st.effective_amplitude(10.0, 10.0 - (DECAY_AFTER_PERIODS + 1.0) * per) == pytest.approx(0.5)
    assert st.effective_amplitude(1e6, 0.0) == pytest.approx(AMPLITUDE_FLOOR_SHARE * st.long_amp)


def test_breath_stats_rejects_implausible_periods_and_predicts_only_regular_breathing():
    from psoas_sense.dsp.breath_stats import BreathStats
    from psoas_sense.model import BreathEvent

    st = BreathStats(25.0)
    for p in (4.0, 4.0, 4.0):
        st.add_period(p)
        st.add_excursion(1.0)
        st.refresh()
    st.add_period(10.0)  # more than twice the recent period: a missed breath, not a period
    st.refresh()
    assert list(st.periods) == [4.0, 4.0, 4.0] and st.rate_bpm == pytest.approx(15.0)
    inhale = BreathEvent(kind="inhale", t_s=100.0, detected_at_s=100.3, signal="resp")
    for d in (1.6, 1.6):
        st.add_inhale(d)
    st.update_quality()
    assert st.quality == pytest.approx(1.0)
    assert st.predict_exhale(inhale, "resp") is None  # two inhales are not enough
    st.add_inhale(1.6)
    note = st.predict_exhale(inhale, "resp")
    assert note is not None and note.kind == "exhale_expected" and note.detail["at"] == pytest.approx(101.6)
    st.tracked_period_s = 5.0
    assert st.rate_bpm == pytest.approx(12.0)  # the extractor's tracked period wins


def test_hold_watch_reports_a_hold_and_the_resumption():
    from psoas_sense.dsp.hold import HOLD_SLOPE_LAG_S, HoldWatch

    fs = 25.0
    w = HoldWatch(fs, 10.0, "resp")
    notes = []
    t = np.arange(0, int(30 * fs)) / fs
    y = np.where(t < 20.0, 0.0, 0.5 * (t - 20.0))  # still for 20 s, then breathing again
    for ti, yi in zip(t, y):
        w.history.append(float(yi))
        n = w.step(float(ti), float(yi), float(ti) + 0.1, long_amp=1.0, long_period=4.0)
        if n is not None:
            notes.append(n)
    assert [n.kind for n in notes] == ["breath_hold", "breathing_resumed"]
    hold, resumed = notes
    assert hold.detail["since"] == pytest.approx(w.lag / fs - HOLD_SLOPE_LAG_S, abs=1e-9)
    assert hold.t_s == pytest.approx(10.0 + w.lag / fs - HOLD_SLOPE_LAG_S + 0.1, abs=1.5 / fs)
    assert 20.0 < resumed.t_s < 21.0


def test_detector_hold_after_s_reaches_the_hold_watch():
    from psoas_sense.dsp.detector import PhaseDetector

    d = PhaseDetector(25.0, signal="resp", hold_after_s=12.0)
    assert d.hold_after_s == 12.0 == d.hold.hold_after_s
    d.hold_after_s = 8.0
    assert d.hold.hold_after_s == 8.0


def test_event_quality_is_zero_until_settled_and_scaled_by_polarity_confidence():
    from psoas_sense.dsp.breath_stats import POLARITY_SURE, SETTLE_EXHALES, BreathStats

    st = BreathStats(25.0)
    st.quality = 0.9
    lo, hi = POLARITY_SURE
    assert st.event_quality(SETTLE_EXHALES - 1, None) == 0.0  # just after a reset
    assert st.event_quality(SETTLE_EXHALES, None) == pytest.approx(0.9)  # belts: regularity only
    assert st.event_quality(SETTLE_EXHALES, hi) == pytest.approx(0.9)
    assert st.event_quality(SETTLE_EXHALES, (lo + hi) / 2) == pytest.approx(0.45)  # below the cue bar of 0.5
    assert st.event_quality(SETTLE_EXHALES, lo) == 0.0
