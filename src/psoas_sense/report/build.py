"""The report: per side, per hold, breath by breath, with totals. Pure.

The headline figures of each hold, side and the session (breaths, mean rate, durations) are
the coach's own, carried by its ``hold_end``/``side_end``/``session_end`` events; the breath
rows add the detail (period, exhale share, cue lag) from the breaths in each window; heart rate,
RMSSD and the change lines come from :mod:`psoas_sense.report.physio`. Without a
coach (a plain recording) the totals use the same rate definition
(:func:`psoas_sense.coach.state.rate_of`) on the detected exhales.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from typing import Any

from psoas_sense.coach.state import rate_of
from psoas_sense.events import Cue, HoldEnded, SideEnded
from psoas_sense.report.data import SessionData
from psoas_sense.report.physio import Physio

CSV_COLUMNS = (
    "session", "side", "hold", "hold_kind", "point", "breath", "exhale_t", "detected_at", "period_s",
    "rate_bpm", "exhale_share", "cue", "cue_latency_s", "pacer_error_s", "source",
)


def r3(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 3)


def _mean(xs: list[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


class _Breaths:
    """The session's breaths indexed for the rows of one window."""

    def __init__(self, data: SessionData) -> None:
        all_b = sorted(data.breaths, key=lambda b: b.t_s)
        self.exhales = [b.t_s for b in all_b if b.kind == "exhale"]
        self.inhales = [b.t_s for b in all_b if b.kind == "inhale"]
        self.detected = {round(b.t_s, 3): b.detected_at_s for b in all_b if b.kind == "exhale"}
        self.sources = {round(b.t_s, 3): b.source or "detector" for b in all_b if b.kind == "exhale"}
        self.cues: dict[float, Cue] = {}
        for c in data.cues:
            if c.breath_t_s is not None and round(c.breath_t_s, 3) not in self.cues:
                self.cues[round(c.breath_t_s, 3)] = c
        self.pacing = {round(p.breath_t_s, 3): p.error_s for p in data.pacing}

    def rows(self, t0: float, t1: float, *, with_pacing: bool = False) -> list[dict[str, Any]]:
        exhales, inhales = self.exhales, self.inhales
        rows = []
        lo, hi = bisect_left(exhales, t0 - 1e-9), bisect_right(exhales, t1 + 1e-9)
        for i in range(lo, hi):
            e = exhales[i]
            period = e - exhales[i - 1] if i > 0 else None
            j = bisect_right(inhales, e)
            share = None
            if 0 < j < len(inhales):
                prev_in, next_in = inhales[j - 1], inhales[j]
                if next_in > prev_in:
                    share = (next_in - e) / (next_in - prev_in)
            cue = self.cues.get(round(e, 3))
            rows.append({
                "breath": i - lo + 1,
                "exhale_t": r3(e),
                "detected_at": r3(self.detected.get(round(e, 3))),
                "period_s": r3(period),
                "rate_bpm": r3(60.0 / period) if period else None,
                "exhale_share": r3(share),
                "cue": cue.kind if cue else None,
                "cue_latency_s": r3(cue.t_s - e) if cue else None,
                "pacer_error_s": r3(self.pacing.get(round(e, 3))) if with_pacing else None,
                "source": self.sources.get(round(e, 3), "detector"),
            })
        return rows


def _detail(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """What the breath rows add to the coach's figures: spread, exhale share, cue lag."""
    det = [r for r in rows if r["source"] == "detector"]
    rates = [r["rate_bpm"] for r in det if r["rate_bpm"] is not None]
    shares = [r["exhale_share"] for r in det if r["exhale_share"] is not None]
    lat = [r["cue_latency_s"] for r in det if r["cue_latency_s"] is not None]
    return {
        "paced_breaths": len(rows) - len(det),
        "min_rate_bpm": r3(min(rates)) if rates else None,
        "max_rate_bpm": r3(max(rates)) if rates else None,
        "exhale_share": r3(_mean(shares)),
        "cued_exhales": len(lat),
        "mean_cue_latency_s": r3(_mean(lat)),
        "max_cue_latency_s": r3(max(lat)) if lat else None,
    }


def _own(ev: HoldEnded | SideEnded) -> dict[str, Any]:
    """The figures the session itself gave a hold or side (as it ended), where it gave them: a
    report never contradicts what the session said."""
    own = {"exhale_share": ev.exhale_share, "hr_bpm": ev.hr_bpm, "rmssd_ms": ev.rmssd_ms}
    return {k: v for k, v in own.items() if v is not None}


def build_report(data: SessionData) -> dict[str, Any]:
    """The report: per side, per hold, breath by breath, with totals (the ``report --json`` object)."""
    idx = _Breaths(data)
    phys = Physio(data)
    holds = []
    for n, h in enumerate(sorted(data.holds, key=lambda h: h.t_start_s), start=1):
        rows = idx.rows(h.t_start_s, h.t_s)
        holds.append({
            "hold": n, "kind": h.kind, "side": h.side, "point": h.point,
            "t_start": r3(h.t_start_s), "t_end": r3(h.t_s), "duration_s": r3(h.duration_s),
            "ended_by": h.ended_by, "softened": h.softened,
            "breaths": h.breaths, "mean_rate_bpm": r3(h.mean_rate_bpm), **_detail(rows),
            "t_start_s": r3(h.t_start_s), "t_end_s": r3(h.t_s), "rate_bpm": r3(h.mean_rate_bpm),
            **phys.fields(h.t_start_s, h.t_s), **_own(h), "breath_rows": rows,
        })
    sides = []
    for s in data.sides:
        mine = [h for h in data.holds if h.side == s.side]
        rows = [r for h in mine for r in idx.rows(h.t_start_s, h.t_s)]
        rate = s.mean_rate_bpm
        if rate is None and all(h.exhales_s for h in mine if h.breaths):
            rate = rate_of(sorted(x for h in mine for x in h.exhales_s))
        sides.append({
            "side": s.side, "t_start": r3(s.t_start_s), "t_end": r3(s.t_s), "duration_s": r3(s.duration_s),
            "ended_by": s.ended_by, "holds": s.holds, "hold_s": r3(s.hold_s),
            "breaths": s.breaths, "mean_rate_bpm": r3(rate), **_detail(rows),
            "t_start_s": r3(s.t_start_s), "t_end_s": r3(s.t_s), "rate_bpm": r3(rate), **phys.fields(s.t_start_s, s.t_s),
            **_own(s),
        })
    t0 = float(data.meta.get("t_start") or (idx.exhales[0] if idx.exhales else 0.0))
    t1 = float(data.meta.get("t_end") or (idx.exhales[-1] if idx.exhales else 0.0))
    whole = idx.rows(-math.inf, math.inf, with_pacing=True)
    summary = data.summary
    if summary is not None:
        breaths, rate, duration = summary.breaths, summary.mean_rate_bpm, summary.duration_s
    else:
        det_ex = [b.t_s for b in data.breaths if b.kind == "exhale" and b.source == "detector"]
        breaths, rate, duration = len(det_ex), rate_of(det_ex), t1 - t0
    meta = {k: v for k, v in data.meta.items() if k not in ("summary", "settings")}
    report: dict[str, Any] = {
        "session": meta,
        "totals": {"duration_s": r3(duration), "holds": len(holds), "sides": len(sides),
                   "pain_stops": len(data.pain_stops), "breaths": breaths, "mean_rate_bpm": r3(rate),
                   **_detail(whole), "rate_bpm": r3(rate), **phys.fields(t0, t1)},
        "sides": sides,
        "holds": holds,
        "pain_stops": [{"t": p.t_s, "stage": p.stage, "side": p.side, "hold": p.hold} for p in data.pain_stops],
        "changes": phys.changes(data, t0, t1),
    }
    if summary is not None and summary.adherence_pct is not None:
        report["totals"]["adherence"] = summary.adherence_pct
    if not holds:
        report["breath_rows"] = whole
    return report


def value(x: Any, unit: str = "", fmt: str = "{:.1f}") -> str:
    """A figure for a text table: ``-`` when missing."""
    if x is None:
        return "-"
    if isinstance(x, float):
        return fmt.format(x) + unit
    return f"{x}{unit}"

