"""The pure insight figures: RMSSD with the artifact rule, heart rate, breathing, change lines."""

from __future__ import annotations

import math

import pytest

from psoas_sense.insight import (
    Figure,
    Stretch,
    beat_figures,
    beat_runs,
    breath_figures,
    change_line,
    clean_rr,
    heart_figures,
    rmssd,
    stretch,
    successive_differences,
    verdict,
)


def test_rmssd_of_alternating_series() -> None:
    assert rmssd([800, 810, 800, 810, 800]) == pytest.approx(10.0)


def test_rmssd_of_mixed_differences() -> None:
    # differences +20, -20, -20, +20, +40 -> sqrt((400*4 + 1600)/5) = sqrt(640)
    assert rmssd([1000, 1020, 1000, 980, 1000, 1040]) == pytest.approx(math.sqrt(640.0))


def test_constant_series_has_zero_rmssd() -> None:
    assert rmssd([900.0] * 10) == pytest.approx(0.0)


def test_premature_beat_and_compensatory_pause_are_dropped() -> None:
    rr = [800, 810, 800, 810, 500, 1100, 800, 810, 800, 810]
    keep = clean_rr(rr)
    assert keep == [True, True, True, True, False, False, True, True, True, True]
    # no difference across the gap: 810 -> 800 around the ectopic pair is not a successive pair
    assert successive_differences(rr) == [10, -10, 10, 10, -10, 10]
    assert rmssd(rr) == pytest.approx(10.0)


def test_missed_beat_is_dropped() -> None:
    rr = [1000, 1010, 1000, 2000, 1000, 1010, 1000]
    assert clean_rr(rr)[3] is False
    assert rmssd(rr) == pytest.approx(10.0)


def test_out_of_range_intervals_are_dropped() -> None:
    rr = [250, 800, 810, 800, 2500, 810, 800]
    keep = clean_rr(rr)
    assert keep[0] is False and keep[4] is False
    assert rmssd(rr) == pytest.approx(10.0)
    assert heart_figures(rr).kept == 5


def test_mean_heart_rate_from_kept_intervals() -> None:
    fig = heart_figures([800, 810, 800, 810, 500, 1100, 800, 810, 800, 810])
    assert fig.beats == 10 and fig.kept == 8
    assert fig.hr_bpm.value == pytest.approx(60000.0 / 805.0)
    assert fig.rmssd_ms.n == 6


def test_no_intervals_gives_no_figures() -> None:
    fig = heart_figures([])
    assert fig.hr_bpm.value is None and fig.rmssd_ms.value is None
    assert rmssd([800]) is None


def _cycles(period: float, inhale: float, n: int, t0: float = 0.0) -> list[tuple[float, str]]:
    out = []
    for i in range(n):
        t = t0 + i * period
        out += [(t, "inhale"), (t + inhale, "exhale")]
    return out


def test_breathing_rate_share_and_ie() -> None:
    fig = breath_figures(_cycles(4.0, 1.5, 6))
    assert fig.breaths == 5
    assert fig.rate_bpm.value == pytest.approx(15.0)
    assert fig.exhale_share.value == pytest.approx(2.5 / 4.0)
    assert fig.ie_ratio == pytest.approx(1.5 / 2.5)


def _jittered(period: float, n: int, t0: float = 0.0) -> list[tuple[float, str]]:
    out, t = [], t0
    for i in range(n):
        p = period * (1.0 + (0.05 if i % 2 else -0.05))
        out += [(t, "inhale"), (t + p * 0.4, "exhale")]
        t += p
    return out


def test_change_line_clear_change() -> None:
    a = Stretch(breath_figures(_jittered(60 / 14, 8)), heart_figures([850, 860] * 20))
    b = Stretch(breath_figures(_jittered(60 / 9, 8)), heart_figures([780, 840] * 20))
    line = change_line("first hold against last", a, b)
    assert line.startswith("first hold against last: breathing slowed from 14 to 9 per minute")
    assert "HRV rose from 10 to 60 ms" in line
    assert "heart rate rose from 70 to 74 per minute" in line


def test_change_line_no_clear_change() -> None:
    a = Stretch(breath_figures(_jittered(5.0, 8)), None)
    b = Stretch(breath_figures(_jittered(5.05, 8)), None)
    line = change_line("left against right", a, b)
    assert line == "left against right: breathing: no clear change (12 to 12 per minute)"


def test_change_line_too_little_data() -> None:
    a = Stretch(breath_figures(_jittered(4.0, 3)), heart_figures([800, 810, 800]))
    b = Stretch(breath_figures(_jittered(6.0, 10)), heart_figures([800, 900] * 10))
    line = change_line("first minute against last", a, b)
    assert line == ("first minute against last: breathing: too little data; heart rate: too little data; "
                    "HRV: too little data")


def test_verdict_needs_enough_samples_and_a_difference_beyond_noise() -> None:
    assert verdict(Figure(10.0, 1.0, 3), Figure(20.0, 1.0, 10)).kind == "too little data"
    assert verdict(Figure(10.0, 1.0, 10), Figure(12.0, 1.0, 10)).kind == "no clear change"
    assert verdict(Figure(10.0, 1.0, 10), Figure(13.0, 1.0, 10)).kind == "clear"


def test_stretch_cuts_by_time() -> None:
    phases = _cycles(4.0, 1.5, 30)
    rr = [(i * 0.8, 800.0 + (10.0 if i % 2 else 0.0)) for i in range(150)]
    s = stretch(phases, rr, 0.0, 60.0)
    assert s.heart is not None and s.heart.rmssd_ms.value == pytest.approx(10.0)
    assert s.breath.rate_bpm.value == pytest.approx(15.0)
    assert stretch(phases, None, 0.0, 60.0).heart is None


def _timed(rr: list[float], t0: float = 0.0) -> list[tuple[float, float]]:
    out, t = [], t0
    for v in rr:
        t += v / 1000.0
        out.append((t, v))
    return out


def test_lost_beats_break_the_chain_but_jitter_does_not() -> None:
    rr = [800.0, 810.0] * 20
    beats = _timed(rr)
    assert beat_runs(beats) == [rr]
    jittered = [(t + (0.9 if i % 3 == 0 else 0.0), v) for i, (t, v) in enumerate(beats)]
    assert len(beat_runs(jittered)) == 1
    # a link drop: 5 beats (4 s) missing in the middle; no difference is taken across it
    dropped = beats[:20] + beats[25:]
    runs = beat_runs(dropped)
    assert [len(r) for r in runs] == [20, 15]
    fig = beat_figures(dropped)
    assert fig.rmssd_ms.n == 19 + 14 and fig.rmssd_ms.value == pytest.approx(10.0)
