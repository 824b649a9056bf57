"""Physiology of a stretch of a session: heart rate, RMSSD, breathing rate, exhale share. Pure.

No I/O and no clock: every function takes the numbers and returns figures.

**Artifact rule for RR intervals** (:func:`clean_rr`), applied before any heart figure:

1. an interval outside 300-2000 ms (200-30 beats per minute) is dropped;
2. an interval that differs by more than 20 % from the median of the up to five in-range
   intervals centred on it (two before, itself, two after) is dropped as an ectopic or missed
   beat; a premature beat and its compensatory pause both fail this test;
3. successive differences (for RMSSD) are taken only between two kept intervals that are
   adjacent in the input (one beat after the other): a dropped interval breaks the chain, and so
   does a gap in timed beats (:func:`beat_runs`: beats lost to a link drop).

Mean heart rate is ``60000 / mean(kept intervals)``; RMSSD is the root mean square of the
successive differences of rule 3. Breathing figures come from breath phase times: rate from
the exhale-to-exhale periods (``60 / mean period``), exhale share as ``(next inhale - exhale) /
(next inhale - previous inhale)`` per breath, and I:E as inhale time over exhale time.

Each figure carries its standard error, used by :func:`change_line` so that a change smaller
than its noise is never called a change.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

RR_MIN_MS = 300.0
"""Shortest plausible RR interval, ms."""
RR_MAX_MS = 2000.0
"""Longest plausible RR interval, ms."""
ECTOPIC_TOLERANCE = 0.20
"""Largest relative difference from the local median of a kept interval."""
MEDIAN_WINDOW = 5
"""Intervals in the local median (centred)."""
GAP_S = 2.5
"""Beat times this far ahead of the sum of the intervals mean lost beats (see :func:`beat_runs`)."""
MIN_SAMPLES = 4
"""Fewer breaths or beat differences than this is "too little data"."""
CLEAR_SE = 2.0
"""A change is clear when larger than this many standard errors of the difference."""


@dataclass(frozen=True, slots=True)
class Figure:
    """A value with its standard error and the number of samples behind it."""

    value: float | None
    """The figure (None: no data)."""
    se: float | None
    """Its standard error (None: fewer than two samples)."""
    n: int
    """Samples (breaths or beat differences)."""


@dataclass(frozen=True, slots=True)
class HeartFigures:
    """Heart figures of a run of RR intervals."""

    beats: int
    """Intervals given."""
    kept: int
    """Intervals kept by the artifact rule."""
    hr_bpm: Figure
    """Mean heart rate, beats per minute."""
    rmssd_ms: Figure
    """RMSSD, ms."""


@dataclass(frozen=True, slots=True)
class BreathFigures:
    """Breathing figures of a run of breath phases."""

    breaths: int
    """Exhale-to-exhale periods."""
    rate_bpm: Figure
    """Breathing rate, breaths per minute."""
    exhale_share: Figure
    """Share of the breath spent breathing out (0-1)."""
    ie_ratio: float | None
    """Inhale time over exhale time."""


def _se(xs: Sequence[float]) -> float | None:
    return statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) >= 2 else None


def clean_rr(rr_ms: Sequence[float]) -> list[bool]:
    """Which intervals the artifact rule keeps (see the module text)."""
    rr = [float(x) for x in rr_ms]
    in_range = [math.isfinite(x) and RR_MIN_MS <= x <= RR_MAX_MS for x in rr]
    good = [x for x, ok in zip(rr, in_range, strict=True) if ok]
    pos = [i for i, ok in enumerate(in_range) if ok]
    keep = [False] * len(rr)
    half = MEDIAN_WINDOW // 2
    for k, i in enumerate(pos):
        window = good[max(0, k - half):k + half + 1]
        med = statistics.median(window)
        keep[i] = abs(rr[i] - med) <= ECTOPIC_TOLERANCE * med
    return keep


def successive_differences(rr_ms: Sequence[float], keep: Sequence[bool] | None = None) -> list[float]:
    """Differences between kept, adjacent intervals, ms."""
    keep = clean_rr(rr_ms) if keep is None else keep
    return [float(rr_ms[i + 1]) - float(rr_ms[i]) for i in range(len(rr_ms) - 1) if keep[i] and keep[i + 1]]


def rmssd(rr_ms: Sequence[float]) -> float | None:
    """RMSSD of RR intervals after the artifact rule, ms (None: no successive pair kept)."""
    return heart_figures(rr_ms).rmssd_ms.value


def heart_figures(rr_ms: Sequence[float]) -> HeartFigures:
    """Mean heart rate and RMSSD, with their standard errors, after the artifact rule."""
    return pooled_heart_figures([rr_ms])


def beat_runs(beats: Sequence[tuple[float, float]]) -> list[list[float]]:
    """``(t_s, rr_ms)`` beats (in time order; ties keep their order) split into runs of consecutive
    beats. Within a run the beat times follow the sum of the intervals, give or take the jitter
    of the notifications that carry them (a second or so); where the times run more than
    :data:`GAP_S` ahead of that sum, beats were lost (a link drop) and the intervals on either
    side are not successive."""
    runs: list[list[float]] = []
    base = 0.0
    elapsed = 0.0
    for t, rr in sorted(beats, key=lambda b: b[0]):
        elapsed += float(rr) / 1000.0
        if not runs or t - elapsed - base > GAP_S:
            runs.append([])
            elapsed = float(rr) / 1000.0
            base = t - elapsed
        base = min(base, t - elapsed)
        runs[-1].append(float(rr))
    return runs


def beat_figures(beats: Sequence[tuple[float, float]]) -> HeartFigures:
    """:func:`heart_figures` of timed ``(t_s, rr_ms)`` beats, not differencing across lost beats."""
    return pooled_heart_figures(beat_runs(beats))


def pooled_heart_figures(runs: Sequence[Sequence[float]]) -> HeartFigures:
    """Heart figures of several runs of consecutive intervals: the artifact rule within each run,
    successive differences never across runs."""
    kept: list[float] = []
    diffs: list[float] = []
    for run in runs:
        keep = clean_rr(run)
        kept += [float(x) for x, k in zip(run, keep, strict=True) if k]
        diffs += successive_differences(run, keep)
    return _heart(sum(len(r) for r in runs), kept, diffs)


def _heart(beats: int, kept: list[float], diffs: list[float]) -> HeartFigures:
    hr = Figure(None, None, 0)
    if kept:
        mean_rr = statistics.fmean(kept)
        se_rr = _se(kept)
        hr = Figure(60000.0 / mean_rr, None if se_rr is None else 60000.0 * se_rr / mean_rr**2, len(kept))
    sq = [d * d for d in diffs]
    rm = Figure(None, None, 0)
    if sq:
        value = math.sqrt(statistics.fmean(sq))
        se_sq = _se(sq)
        # delta method: se(sqrt(m)) = se(m) / (2 sqrt(m))
        se = None if se_sq is None else se_sq / (2.0 * value) if value > 0.0 else 0.0
        rm = Figure(value, se, len(sq))
    return HeartFigures(beats=beats, kept=len(kept), hr_bpm=hr, rmssd_ms=rm)


def breath_figures(phases: Sequence[tuple[float, str]]) -> BreathFigures:
    """Breathing rate, exhale share and I:E from ``(t_s, "inhale"|"exhale")`` phase changes."""
    ordered = sorted(phases)
    exhales = [t for t, kind in ordered if kind == "exhale"]
    inhales = [t for t, kind in ordered if kind == "inhale"]
    periods = [b - a for a, b in zip(exhales, exhales[1:]) if b > a]
    rate = Figure(None, None, 0)
    if periods:
        mean_p = statistics.fmean(periods)
        se_p = _se(periods)
        rate = Figure(60.0 / mean_p, None if se_p is None else 60.0 * se_p / mean_p**2, len(periods))
    shares: list[float] = []
    ins: list[float] = []
    outs: list[float] = []
    for e in exhales:
        before = [t for t in inhales if t < e]
        after = [t for t in inhales if t > e]
        if before and after:
            prev_in, next_in = before[-1], after[0]
            shares.append((next_in - e) / (next_in - prev_in))
            ins.append(e - prev_in)
            outs.append(next_in - e)
    share = Figure(statistics.fmean(shares), _se(shares), len(shares)) if shares else Figure(None, None, 0)
    ie = statistics.fmean(ins) / statistics.fmean(outs) if outs and statistics.fmean(outs) > 0 else None
    return BreathFigures(breaths=len(periods), rate_bpm=rate, exhale_share=share, ie_ratio=ie)


def in_window(points: Sequence[tuple[float, float]], t0: float, t1: float) -> list[float]:
    """The values of ``(t_s, value)`` points with ``t0 <= t_s <= t1``."""
    return [v for t, v in points if t0 - 1e-9 <= t <= t1 + 1e-9]


def phases_in_window(phases: Sequence[tuple[float, str]], t0: float, t1: float) -> list[tuple[float, str]]:
    """The ``(t_s, kind)`` phases with ``t0 <= t_s <= t1``."""
    return [(t, k) for t, k in phases if t0 - 1e-9 <= t <= t1 + 1e-9]


@dataclass(frozen=True, slots=True)
class Verdict:
    """How one figure changed between two stretches."""

    kind: str
    """``clear``, ``no clear change`` or ``too little data``."""
    before: float | None
    """The figure in the first stretch."""
    after: float | None
    """The figure in the second stretch."""


def verdict(a: Figure, b: Figure) -> Verdict:
    """Whether ``b`` differs clearly from ``a``: by more than :data:`CLEAR_SE` standard errors of the
    difference, each figure resting on at least :data:`MIN_SAMPLES` samples."""
    if a.value is None or b.value is None or a.n < MIN_SAMPLES or b.n < MIN_SAMPLES or a.se is None or b.se is None:
        return Verdict("too little data", a.value, b.value)
    noise = math.hypot(a.se, b.se)
    if abs(b.value - a.value) > CLEAR_SE * noise:
        return Verdict("clear", a.value, b.value)
    return Verdict("no clear change", a.value, b.value)


_WORDS = {
    "breathing": ("breathing", "slowed", "quickened", "per minute"),
    "heart": ("heart rate", "rose", "fell", "per minute"),
    "hrv": ("HRV", "rose", "fell", "ms"),
    "exhale": ("exhale share", "rose", "fell", "%"),
}


def phrase(what: str, v: Verdict) -> str:
    """One figure's change in words: ``breathing slowed from 14 to 9 per minute``."""
    name, up, down, unit = _WORDS[what]
    if what == "breathing":
        up, down = down, up  # a rate that goes down is "slowed"
    scale = 100.0 if what == "exhale" else 1.0

    def num(x: float | None) -> str:
        return "-" if x is None else f"{x * scale:.0f}"

    if v.kind == "too little data":
        return f"{name}: too little data"
    span = f"{num(v.before)} to {num(v.after)} {unit}"
    if v.kind == "no clear change":
        return f"{name}: no clear change ({span})"
    assert v.before is not None and v.after is not None
    return f"{name} {up if v.after > v.before else down} from {span}"


@dataclass(frozen=True, slots=True)
class Stretch:
    """The figures of one stretch of a session (a hold, a side, a minute)."""

    breath: BreathFigures
    """Breathing figures."""
    heart: HeartFigures | None
    """Heart figures (None: no RR intervals in the session)."""


def stretch(phases: Sequence[tuple[float, str]], rr: Sequence[tuple[float, float]] | None,
            t0: float, t1: float) -> Stretch:
    """The figures of the stretch ``t0..t1`` of a session's phases and ``(t_s, rr_ms)`` beats."""
    heart = None if rr is None else beat_figures([(t, v) for t, v in rr if t0 - 1e-9 <= t <= t1 + 1e-9])
    return Stretch(breath=breath_figures(phases_in_window(phases, t0, t1)), heart=heart)


def change_line(label: str, a: Stretch, b: Stretch) -> str:
    """A plain-language line: ``first hold against last: breathing slowed from 14 to 9 per minute;
    HRV rose from 32 to 45 ms``. A change within its noise reads ``no clear change``; a stretch
    with fewer than :data:`MIN_SAMPLES` breaths (or beat differences) reads ``too little data``."""
    parts = [phrase("breathing", verdict(a.breath.rate_bpm, b.breath.rate_bpm))]
    if a.heart is not None and b.heart is not None:
        parts.append(phrase("heart", verdict(a.heart.hr_bpm, b.heart.hr_bpm)))
        parts.append(phrase("hrv", verdict(a.heart.rmssd_ms, b.heart.rmssd_ms)))
    return f"{label}: " + "; ".join(parts)
