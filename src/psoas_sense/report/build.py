"""The session record from its gathered events: per side, per hold, breath by breath, with totals. Pure.

The headline figures of each hold, side and the session (breaths, mean rate, durations, and the
exhale share, heart rate and RMSSD the coach states as each ends) are the coach's own, carried
by its ``hold_end``/``side_end``/``session_end`` events; the breath rows add the detail (period,
exhale share, cue lag) from the breaths in each window; the rest of the physiology and the change
lines come from :mod:`psoas_sense.report.physio`, which also fills in what an older saved session
does not carry. Without a coach (a plain recording) the totals use the coach's rate definition
(:func:`psoas_sense.coach.state.rate_of`) on the detected exhales.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from bisect import bisect_left, bisect_right

from psoas_sense.coach.state import rate_of
from psoas_sense.events import Cue, HoldEnded, SideEnded
from psoas_sense.insight import Physiology
from psoas_sense.records import PainRecord
from psoas_sense.report.fold import Origin, RecordFold
from psoas_sense.report.physio import Physio, r
from psoas_sense.report.record import BreathRow, Figures, HoldReport, Report, SessionInfo, SideReport, Totals
from psoas_sense.vocab import BreathSource, Meaning

EPS_S = 1e-9
"""Window edges are inclusive."""


def _mean(xs: list[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


class _Breaths:
    """The session's exhales (detected and paced) indexed for the rows of one window."""

    def __init__(self, fold: RecordFold, phases: list[tuple[float, str, float, BreathSource]],
                 rates: dict[float, float | None]) -> None:
        ordered = sorted(phases)
        self.rates = rates
        """The detector's rate at each detected exhale."""
        self.exhales = [t for t, kind, _, _ in ordered if kind == "exhale"]
        self.inhales = [t for t, kind, _, _ in ordered if kind == "inhale"]
        self.detected = {t: at for t, kind, at, _ in ordered if kind == "exhale"}
        self.sources = {t: src for t, kind, _, src in ordered if kind == "exhale"}
        self.cues: dict[float, Cue] = {}
        for c in fold.cues:
            if c.breath_t_s is not None and c.breath_t_s not in self.cues:
                self.cues[c.breath_t_s] = c
        self.pacing = {p.breath_t_s: p.error_s for p in fold.pacing}

    def rows(self, t0: float, t1: float, *, with_pacing: bool = False) -> tuple[BreathRow, ...]:
        exhales, inhales = self.exhales, self.inhales
        rows = []
        lo, hi = bisect_left(exhales, t0 - EPS_S), bisect_right(exhales, t1 + EPS_S)
        for i in range(lo, hi):
            e = exhales[i]
            period = e - exhales[i - 1] if i > 0 else None
            j = bisect_right(inhales, e)
            share = None
            if 0 < j < len(inhales) and inhales[j] > inhales[j - 1]:
                share = (inhales[j] - e) / (inhales[j] - inhales[j - 1])
            cue = self.cues.get(e)
            rows.append(BreathRow(
                breath=i - lo + 1, exhale_t=e, detected_at=self.detected.get(e), period_s=r(period),
                rate_bpm=r(60.0 / period) if period else None, detector_rate_bpm=r(self.rates.get(e)),
                exhale_share=r(share),
                cue=cue.kind if cue else None, cue_latency_s=r(cue.t_s - e) if cue else None,
                pacer_error_s=r(self.pacing.get(e)) if with_pacing else None,
                source=self.sources.get(e, BreathSource.DETECTOR),
            ))
        return tuple(rows)


def _figures(phys: Physio, rows: tuple[BreathRow, ...], t0: float, t1: float, own: Physiology | None) -> Figures:
    """A window's figures: the detail of its rows, the physiology (the coach's own where it stated
    it: a record never contradicts what the session said), the following of the pacer."""
    det = [b for b in rows if b.source is BreathSource.DETECTOR]
    rates = [b.rate_bpm for b in det if b.rate_bpm is not None]
    lat = [b.cue_latency_s for b in det if b.cue_latency_s is not None]
    s = phys.stretch(t0, t1)
    h = s.heart
    lock = phys.following(t0, t1)

    def mine(said: float | None, computed: float | None) -> float | None:
        return said if said is not None else computed

    return Figures(
        paced_breaths=len(rows) - len(det),
        min_rate_bpm=r(min(rates)) if rates else None,
        max_rate_bpm=r(max(rates)) if rates else None,
        exhale_share=mine(own.exhale_share if own else None, r(s.breath.exhale_share.value)),
        cued_exhales=len(lat),
        mean_cue_latency_s=r(_mean(lat)),
        max_cue_latency_s=r(max(lat)) if lat else None,
        ie_ratio=r(s.breath.ie_ratio),
        depth_rel=r(phys.depth_rel(t0, t1), 2),
        hr_bpm=mine(own.hr_bpm if own else None, r(h.hr_bpm.value, 1) if h else None),
        rmssd_ms=mine(own.rmssd_ms if own else None, r(h.rmssd_ms.value, 1) if h else None),
        beats=h.beats if h else None,
        beats_kept=h.kept if h else None,
        following_pct=r(100.0 * lock.locked, 0) if lock else None,
        rsa_bpm=r(lock.amplitude_bpm, 1) if lock else None,
        rsa_lag_s=r(lock.lag_s, 1) if lock else None,
        paced_cycles=lock.cycles if lock else None,
    )


def _own(ev: HoldEnded | SideEnded) -> Physiology:
    return Physiology(ev.exhale_share, ev.hr_bpm, ev.rmssd_ms)


def _fixed_holds(fold: RecordFold) -> list[HoldEnded]:
    """The holds in order, each starting at its ``hold_start`` (an older line only has its length,
    which puts the start a millisecond off)."""
    starts = list(fold.hold_starts)
    out = []
    for h in sorted(fold.holds, key=lambda h: h.t_start_s):
        match = next((s for s in starts if s.kind == h.kind and s.side == h.side
                      and abs(s.t_s - h.t_start_s) <= 0.0015), None)
        if match is not None:
            starts.remove(match)
            h = dataclasses.replace(h, t_start_s=match.t_s)
        out.append(h)
    return out


def _fixed_sides(fold: RecordFold) -> list[SideEnded]:
    starts = list(fold.side_starts)
    out = []
    for s in fold.sides:
        match = next((x for x in starts if x.side == s.side and abs(x.t_s - s.t_start_s) <= 0.0015), None)
        if match is not None:
            starts.remove(match)
            s = dataclasses.replace(s, t_start_s=match.t_s)
        out.append(s)
    return out


def _window(fold: RecordFold, origin: Origin) -> tuple[float, float]:
    """The session's start and end: the coach's when it had one, else the data's."""
    exhales = [p.t_s for p in fold.phases if p.kind == "exhale"]

    def first(*xs: float | None) -> float:
        return next((float(x) for x in xs if x is not None and math.isfinite(x)), 0.0)

    t0 = first(fold.safety.t_s if fold.safety else None, origin.t_start_s, fold.t_first_s,
               exhales[0] if exhales else None)
    t1 = first(fold.end.t_s if fold.end else None, origin.t_end_s, fold.t_last_s,
               exhales[-1] if exhales else None, t0)
    return t0, t1


def build_report(fold: RecordFold, origin: Origin) -> Report:
    """The record of a session's gathered events (see the module text)."""
    end = fold.end
    summary = end.summary if end is not None else None
    coached = fold.safety is not None or end is not None
    t0, t1 = _window(fold, origin)
    # a coached session's breaths are those it saw: from its start to its end (a recording goes on
    # a little after it, and the detector may find a breath in the batch that ended it)
    detected = [p for p in fold.phases if not coached or t0 - EPS_S <= p.detected_at_s <= t1 + EPS_S]
    phases: list[tuple[float, str, float, BreathSource]] = [
        (p.t_s, p.kind, p.detected_at_s, BreathSource.DETECTOR) for p in detected]
    phases += [(p.t_s, p.kind, p.t_s, BreathSource.PACER) for p in fold.paced]
    idx = _Breaths(fold, phases, {p.t_s: p.rate_bpm for p in detected if p.kind == "exhale"})
    paced = {p.t_s for p in fold.paced if p.kind == "exhale"}
    paced |= {c.t_s if c.breath_t_s is None else c.breath_t_s for c in fold.cues
              if c.source is BreathSource.PACER and c.kind.meaning is Meaning.EXHALE}
    phys = Physio([(p.t_s, p.kind) for p in detected], fold.beats,
                  [(p.t_s, p.depth) for p in detected if p.kind == "exhale" and p.depth is not None], sorted(paced))
    holds = []
    for n, h in enumerate(_fixed_holds(fold), start=1):
        rows = idx.rows(h.t_start_s, h.t_s)
        holds.append(HoldReport(
            hold=n, kind=h.kind, side=h.side, point=h.point, t_start_s=h.t_start_s, t_end_s=h.t_s,
            duration_s=h.duration_s, ended_by=h.ended_by, softened=h.softened, cues=h.cues, breaths=h.breaths,
            mean_rate_bpm=h.mean_rate_bpm, figures=_figures(phys, rows, h.t_start_s, h.t_s, _own(h)), breath_rows=rows,
        ))
    sides = []
    for s in _fixed_sides(fold):
        rows = tuple(b for h in holds if h.side == s.side for b in h.breath_rows)
        sides.append(SideReport(
            side=s.side, t_start_s=s.t_start_s, t_end_s=s.t_s, duration_s=s.duration_s, target_s=s.target_s,
            ended_by=s.ended_by, holds=s.holds, hold_s=s.hold_s, breaths=s.breaths, mean_rate_bpm=s.mean_rate_bpm,
            figures=_figures(phys, rows, s.t_start_s, s.t_s, _own(s)),
        ))
    whole = idx.rows(-math.inf, math.inf, with_pacing=True)
    duration: float | None
    if summary is not None:
        breaths, rate, duration = summary.breaths, summary.mean_rate_bpm, summary.duration_s
        own: Physiology | None = Physiology(summary.exhale_share, summary.hr_bpm, summary.rmssd_ms)
    else:
        det_ex = [p.t_s for p in detected if p.kind == "exhale"]
        breaths, rate, duration, own = len(det_ex), r(rate_of(det_ex)), r(t1 - t0), None
    adherence = summary.adherence_pct if summary is not None else (
        fold.pacing[-1].adherence_pct if fold.pacing else None)
    totals = Totals(
        duration_s=duration, holds=len(holds), sides=len(sides), pain_stops=len(fold.pain_stops), breaths=breaths,
        mean_rate_bpm=rate, cues=summary.cues if summary is not None else (len(fold.cues) if coached else None),
        settled_rate_bpm=summary.settled_rate_bpm if summary is not None else None,
        fallback_s=summary.fallback_s if summary is not None else None, adherence_pct=adherence,
        figures=_figures(phys, whole, t0, t1, own),
    )
    changed = fold.changed
    ended_by = end.ended_by if end is not None else origin.ended_by
    info = SessionInfo(
        id=origin.id, file=origin.file, started_at=origin.started_at,
        protocol=summary.protocol if summary else changed.requested if changed else origin.protocol,
        practised=(summary.practised if summary else changed.protocol if changed
                   else origin.practised or origin.protocol),
        safety=fold.safety.status if fold.safety else origin.safety, ended_by=ended_by, interrupted=ended_by is None,
        source=dict(origin.source), t_start_s=t0, t_end_s=t1,
    )
    return Report(
        session=info, totals=totals, sides=tuple(sides), holds=tuple(holds),
        pain_stops=tuple(PainRecord(p.t_s, p.stage or None, p.side, p.hold) for p in fold.pain_stops),
        changes=phys.changes([(h.t_start_s, h.t_end_s) for h in holds],
                             [(s.side, s.t_start_s, s.t_end_s) for s in sides], t0, t1),
        breath_rows=whole,
    )
