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

import bisect
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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
        i, j = bisect.bisect_left(inhales, e), bisect.bisect_right(inhales, e)
        if i > 0 and j < len(inhales):
            prev_in, next_in = inhales[i - 1], inhales[j]
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


@dataclass(frozen=True, slots=True)
class Physiology:
    """The physiology a hold, a side and a session carry (rounded as every report shows it)."""

    exhale_share: float | None
    """Share of the breaths spent breathing out (0-1, three decimals), over the detected breaths."""
    hr_bpm: float | None
    """Mean heart rate over the beats, beats per minute (one decimal; None without RR)."""
    rmssd_ms: float | None
    """RMSSD over the beats, ectopic and missed beats removed, ms (one decimal; None without RR)."""


def _round(x: float | None, nd: int) -> float | None:
    return None if x is None or not math.isfinite(x) else round(x, nd)


def physiology(phases: Sequence[tuple[float, str]], rr: Sequence[tuple[float, float]] | None,
               t0: float, t1: float) -> Physiology:
    """The :class:`Physiology` of the stretch ``t0..t1`` (the one computation: the coach's hold, side
    and session figures, and a report's where a saved session lacks them)."""
    s = stretch(phases, rr if rr else None, t0, t1)
    h = s.heart
    return Physiology(_round(s.breath.exhale_share.value, 3), _round(h.hr_bpm.value, 1) if h else None,
                      _round(h.rmssd_ms.value, 1) if h else None)


def change_line(label: str, a: Stretch, b: Stretch) -> str:
    """A plain-language line: ``first hold against last: breathing slowed from 14 to 9 per minute;
    HRV rose from 32 to 45 ms``. A change within its noise reads ``no clear change``; a stretch
    with fewer than :data:`MIN_SAMPLES` breaths (or beat differences) reads ``too little data``."""
    parts = [phrase("breathing", verdict(a.breath.rate_bpm, b.breath.rate_bpm))]
    if a.heart is not None and b.heart is not None:
        parts.append(phrase("heart", verdict(a.heart.hr_bpm, b.heart.hr_bpm)))
        parts.append(phrase("hrv", verdict(a.heart.rmssd_ms, b.heart.rmssd_ms)))
    return f"{label}: " + "; ".join(parts)


# --------------------------------------------------------------------------- following a pacer (RSA)

FOLLOW_MIN_CYCLES = 3
"""Paced breaths (exhale to exhale) a window needs before a following figure is stated."""
FOLLOW_MIN_BEATS = 15
"""Kept beats a window needs."""
FOLLOW_WINDOW_CYCLES = 9
"""Paced breaths per window when a long stretch is cut into windows (about 90 s at 6 a minute)."""
FOLLOW_GAP_FACTOR = 1.5
"""Two pacer exhales further apart than this many typical periods are not one paced breath (the
pacer stopped in between): beats there have no pacer phase."""


@dataclass(frozen=True, slots=True)
class RsaLock:
    """How the heart's rhythm follows a pacer: the heart-rate swing at the pacer's rhythm.

    Breathing in speeds the heart and breathing out slows it (respiratory sinus arrhythmia), so
    someone breathing with the pacer shows a heart rate that rises and falls at the pacer's
    rhythm, at a steady place in its cycle. Heart rate (beat by beat, at the middle of each
    interval, the artifact rule applied) is fitted by least squares with a straight line plus a
    sine and cosine of the pacer's phase (0 at each "breathe out", running linearly to the next
    one): ``locked`` is the share of the heart rate's variation around the line that the
    pacer's rhythm explains (R^2 against the line alone), ``amplitude_bpm`` the swing from
    trough to peak, and ``lag_s`` where the peak falls: seconds after the pacer's "breathe out"
    (negative: before it, during the paced inhale), within half a period either way.
    """

    locked: float
    """Share of the heart rate's variation at the pacer's rhythm, 0-1."""
    amplitude_bpm: float
    """Heart-rate swing at the pacer's rhythm, trough to peak, beats per minute."""
    lag_s: float
    """Heart-rate peak after the pacer's "breathe out", seconds (negative: before)."""
    period_s: float
    """The pacer's typical period, seconds."""
    cycles: int
    """Paced breaths behind the figure."""
    beats: int
    """Beats behind the figure."""


def rsa_lock(beats: Sequence[tuple[float, float]], exhales_s: Sequence[float], t0: float = -math.inf,
             t1: float = math.inf) -> RsaLock | None:
    """The heart's following of the pacer whose exhale onsets are ``exhales_s``, over the paced
    breaths within ``t0..t1``, from ``(t_s, rr_ms)`` beats (see :class:`RsaLock`). None with
    fewer than :data:`FOLLOW_MIN_CYCLES` paced breaths or :data:`FOLLOW_MIN_BEATS` beats."""
    ex = sorted(float(e) for e in exhales_s if t0 - 1e-9 <= e <= t1 + 1e-9)
    periods = [b - a for a, b in zip(ex, ex[1:]) if b > a]
    if len(periods) < FOLLOW_MIN_CYCLES:
        return None
    period = statistics.median(periods)
    ordered = sorted(beats, key=lambda b: b[0])
    near = [(t, rr) for t, rr in ordered if ex[0] - 3.0 <= t <= ex[-1] + 3.0]
    keep = clean_rr([rr for _, rr in near])
    xs: list[float] = []
    phases: list[float] = []
    hrs: list[float] = []
    cycles: set[int] = set()
    for (t, rr), ok in zip(near, keep, strict=True):
        mid = t - rr / 2000.0
        k = bisect.bisect_right(ex, mid) - 1
        if not ok or k < 0 or k >= len(ex) - 1 or ex[k + 1] - ex[k] > FOLLOW_GAP_FACTOR * period:
            continue
        xs.append(mid)
        phases.append(2.0 * math.pi * (mid - ex[k]) / (ex[k + 1] - ex[k]))
        hrs.append(60000.0 / rr)
        cycles.add(k)
    if len(hrs) < FOLLOW_MIN_BEATS or len(cycles) < FOLLOW_MIN_CYCLES:
        return None
    x = np.asarray(xs) - statistics.fmean(xs)
    ph = np.asarray(phases)
    y = np.asarray(hrs)
    line = np.column_stack([np.ones_like(x), x])
    full = np.column_stack([line, np.cos(ph), np.sin(ph)])
    coef, *_ = np.linalg.lstsq(full, y, rcond=None)
    base, *_ = np.linalg.lstsq(line, y, rcond=None)
    ss_line = float(np.sum((y - line @ base) ** 2))
    ss_full = float(np.sum((y - full @ coef) ** 2))
    locked = 0.0 if ss_line <= 0 else min(1.0, max(0.0, 1.0 - ss_full / ss_line))
    a, b = float(coef[2]), float(coef[3])
    lag = math.atan2(b, a) / (2.0 * math.pi) * period
    return RsaLock(locked=locked, amplitude_bpm=2.0 * math.hypot(a, b), lag_s=lag, period_s=period,
                   cycles=len(cycles), beats=len(hrs))


def rsa_following(beats: Sequence[tuple[float, float]], exhales_s: Sequence[float], t0: float = -math.inf,
                  t1: float = math.inf) -> RsaLock | None:
    """:func:`rsa_lock` of a stretch of any length: cut into windows of
    :data:`FOLLOW_WINDOW_CYCLES` paced breaths (slow drifts of the heart rate over minutes would
    otherwise swamp the breath's rhythm), pooled: ``locked`` and the swing weighted by beats, the
    lag as the circular mean weighted by the swing."""
    ex = sorted(float(e) for e in exhales_s if t0 - 1e-9 <= e <= t1 + 1e-9)
    n = FOLLOW_WINDOW_CYCLES
    parts = [rsa_lock(beats, ex[i:i + n + 1]) for i in range(0, max(1, len(ex) - 1), n)]
    locks = [p for p in parts if p is not None]
    if not locks:
        return None
    w = sum(p.beats for p in locks)
    period = statistics.fmean(p.period_s for p in locks)
    c = sum(p.amplitude_bpm * math.cos(2 * math.pi * p.lag_s / p.period_s) for p in locks)
    s = sum(p.amplitude_bpm * math.sin(2 * math.pi * p.lag_s / p.period_s) for p in locks)
    return RsaLock(
        locked=sum(p.locked * p.beats for p in locks) / w,
        amplitude_bpm=sum(p.amplitude_bpm * p.beats for p in locks) / w,
        lag_s=math.atan2(s, c) / (2 * math.pi) * period, period_s=period,
        cycles=sum(p.cycles for p in locks), beats=w,
    )
