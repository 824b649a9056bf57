"""Breath-by-breath session reports per hold and side: text, JSON, CSV and a PNG plot.

A report is built from :class:`SessionData`, which comes either from the history database
(:func:`from_history`) or from a recording file (:func:`from_recording`: the breaths are
detected again with the live pipeline and the holds come from the coach markers in the file,
or from running a coach over it). :func:`build_report` is pure.
"""

from __future__ import annotations

import csv
import math
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from psoas_sense.errors import PsoasError

CSV_COLUMNS = (
    "session", "side", "hold", "hold_kind", "point", "breath", "exhale_t", "detected_at", "period_s",
    "rate_bpm", "exhale_share", "cue", "cue_latency_s", "pacer_error_s", "source",
)


@dataclass
class SessionData:
    """Everything a report needs, whatever it came from."""

    meta: dict[str, Any]
    """``id`` or ``file``, ``protocol``, ``practised``, ``started_at``, ``ended_by``, ``summary``..."""
    breaths: list[dict[str, Any]] = field(default_factory=list)
    """Breath phases: ``t``, ``kind``, ``detected_at``, ``source`` (detector or pacer), ``rate_bpm``, ``quality``."""
    holds: list[dict[str, Any]] = field(default_factory=list)
    """``kind``, ``side``, ``point``, ``t_start``, ``t_end``, ``duration_s``, ``ended_by``..."""
    sides: list[dict[str, Any]] = field(default_factory=list)
    """``side``, ``t_start``, ``t_end``, ``duration_s``, ``ended_by``..."""
    cues: list[dict[str, Any]] = field(default_factory=list)
    """Coach cue lines (``t``, ``kind``, ``breath_t``...), when known."""
    pain_stops: list[dict[str, Any]] = field(default_factory=list)
    pacing: list[dict[str, Any]] = field(default_factory=list)
    """Paced breathing: per detected exhale, its ``breath_t`` and ``error_s`` against the pacer."""
    waveform: tuple[np.ndarray, np.ndarray] | None = None
    """Breathing signal (times, values) for the plot, when the source has one."""


# --------------------------------------------------------------------------- sources


def from_history(session_id: int | None, path: Path | None = None) -> SessionData:
    """A session from the history (``None``: the newest one)."""
    from psoas_sense.store import HistoryStore, StoreError, default_path

    db = path or default_path()
    if not db.exists():
        raise StoreError("no sessions saved yet (the history is empty)")
    with HistoryStore(db, create=False) as store:
        if session_id is None:
            session_id = store.latest_id()
            if session_id is None:
                raise StoreError("no sessions saved yet (the history is empty)")
        s = store.session(session_id)
    meta = {k: s[k] for k in ("id", "started_at", "protocol", "practised", "safety", "ended_by", "summary", "source", "settings")}
    meta["interrupted"] = s["ended_by"] is None
    meta["t_start"] = s["t_start"]
    meta["t_end"] = s["t_end"] if s["t_end"] is not None else s["t_last"]
    cues = [ln for ln in s["lines"] if ln["event"] == "cue"]
    pacing = [ln for ln in s["lines"] if ln["event"] == "pacing"]
    return SessionData(meta=meta, breaths=s["breaths"], holds=s["holds"], sides=s["sides"], cues=cues,
                       pain_stops=s["pain_stops"], pacing=pacing)


def _waveform(frames: list[Any], kind: str | None, streams: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    from psoas_sense.dsp.extract import AccExtractor, RespExtractor, RRExtractor

    if kind is None:
        return None
    rate = (streams.get(kind) or {}).get("rate_hz") if isinstance(streams.get(kind), Mapping) else None
    ext: Any = {"resp": RespExtractor, "acc": AccExtractor}.get(kind)
    ext = ext(float(rate) if rate else None) if ext else RRExtractor()
    ts: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for fr in frames:
        if fr.kind != kind:
            continue
        values = {"resp": "resp", "acc": "acc_mg", "rr": "rr_ms"}[kind]
        ex = ext.process(fr.t_s, getattr(fr, values))
        if ex.t.shape[0]:
            ts.append(np.asarray(ex.t, float))
            ys.append(np.asarray(ex.y, float))
    if not ts:
        return None
    return np.concatenate(ts), np.concatenate(ys)


def from_recording(
    path: Path,
    *,
    signal: str = "auto",
    coach_factory: Callable[[Any], Any] | None = None,
    with_waveform: bool = True,
) -> SessionData:
    """A session from a recording: breaths detected again; holds from its markers or a coach run."""
    from psoas_sense.dsp.pipeline import Pipeline
    from psoas_sense.model import BreathEvent, Marker, SignalNotice, Status, item_time
    from psoas_sense.recording.format import read_recording

    header, items = read_recording(path)
    pipe = Pipeline(signal=signal, streams=header.streams)
    breaths: list[dict[str, Any]] = []
    markers: list[Marker] = []
    frames: list[Any] = []
    coach = coach_factory(header) if coach_factory is not None else None
    lines: list[dict[str, Any]] = []
    t_first: float | None = None
    t_last = 0.0
    for item in items:
        t = item_time(item)
        if not math.isfinite(t):
            continue
        t_first = t if t_first is None else t_first
        t_last = max(t_last, t)
        if coach is not None and not lines:
            lines += coach.start(t)
        if isinstance(item, Marker):
            markers.append(item)
            continue
        if isinstance(item, Status) and coach is not None:
            lines += coach.on_status(item)
        item_frames = pipe.frames_of(item)
        if with_waveform:
            frames.extend(item_frames)
        events = [ev for fr in item_frames for ev in pipe.feed(fr)]
        for ev in events:
            if isinstance(ev, BreathEvent):
                breaths.append({
                    "t": round(ev.t_s, 3), "kind": ev.kind, "detected_at": round(ev.detected_at_s, 3),
                    "signal": ev.signal, "rate_bpm": None if ev.rate_bpm is None else round(ev.rate_bpm, 3),
                    "quality": None if ev.quality is None else round(ev.quality, 3), "source": "detector",
                })
        if coach is not None:
            if events:
                lines += coach.on_events([e for e in events if isinstance(e, (BreathEvent, SignalNotice))], t)
            lines += coach.tick(t)
            if coach.finished:
                break
    if coach is not None:
        lines += coach.finish(t_last)
    meta: dict[str, Any] = {"file": str(path), "started_at": header.recorded_at, "t_start": t_first or 0.0, "t_end": t_last}
    data = SessionData(meta=meta, breaths=breaths)
    if coach is not None:
        _from_lines(data, lines, coach)
    else:
        _from_markers(data, markers)
    if with_waveform:
        data.waveform = _waveform(frames, pipe.active_signal, header.streams)
    return data


def _from_lines(data: SessionData, lines: list[dict[str, Any]], coach: Any) -> None:
    engine = getattr(coach, "engine", coach)
    data.holds = [dict(h) for h in engine.holds]
    data.sides = [dict(s) for s in engine.sides]
    data.pain_stops = [dict(p) for p in engine.pain_stops]
    data.cues = [ln for ln in lines if ln["event"] == "cue"]
    data.pacing = [ln for ln in lines if ln["event"] == "pacing"]
    end = next((ln for ln in lines if ln["event"] == "session_end"), None)
    data.meta.update(protocol=engine.requested_protocol, practised=engine.protocol, safety=engine.safety.status)
    if end is not None:
        data.meta.update(ended_by=end["ended_by"], summary=end["summary"])


def _from_markers(data: SessionData, markers: list[Any]) -> None:
    open_holds: list[dict[str, Any]] = []
    open_sides: dict[str, float] = {}
    for m in markers:
        d = dict(m.data)
        t = float(m.t_s)
        if m.marker == "hold_start":
            open_holds.append({"t_start": t, **d})
        elif m.marker == "hold_end":
            start = open_holds.pop(0) if open_holds else {}
            dur = d.get("duration_s")
            t0 = start.get("t_start", t - float(dur) if dur is not None else t)
            data.holds.append({**start, **d, "t_start": round(t0, 3), "t_end": round(t, 3),
                               "duration_s": round(float(dur) if dur is not None else t - t0, 3)})
        elif m.marker == "side_start":
            open_sides[str(d.get("side"))] = t
        elif m.marker == "side_end":
            t0 = open_sides.pop(str(d.get("side")), t - float(d.get("duration_s", 0.0)))
            data.sides.append({**d, "t_start": round(t0, 3), "t_end": round(t, 3)})
        elif m.marker == "cue":  # when the recorder also marks cues, the report shows their timing
            data.cues.append({"t": round(t, 3), **d})
        elif m.marker == "pain_stop":
            data.pain_stops.append({"t": round(t, 3), **d})
        elif m.marker == "session_end":
            data.meta.update(ended_by=d.get("ended_by"), summary=d.get("summary"))
            if isinstance(d.get("summary"), Mapping):
                data.meta.setdefault("protocol", d["summary"].get("protocol"))
                data.meta.setdefault("practised", d["summary"].get("practised"))


# --------------------------------------------------------------------------- the report


def _r(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 3)


def _mean(xs: list[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


def _breath_rows(
    t0: float, t1: float, exhales: list[float], inhales: list[float], detected: Mapping[float, float],
    cues_by_breath: Mapping[float, dict[str, Any]], sources: Mapping[float, str],
    pacing: Mapping[float, float] | None = None,
) -> list[dict[str, Any]]:
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
        cue = cues_by_breath.get(round(e, 3))
        rows.append({
            "breath": i - lo + 1,
            "exhale_t": _r(e),
            "detected_at": _r(detected.get(round(e, 3))),
            "period_s": _r(period),
            "rate_bpm": _r(60.0 / period) if period else None,
            "exhale_share": _r(share),
            "cue": cue["kind"] if cue else None,
            "cue_latency_s": _r(cue["t"] - e) if cue else None,
            "pacer_error_s": _r((pacing or {}).get(round(e, 3))),
            "source": sources.get(round(e, 3), "detector"),
        })
    return rows


def _stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    det = [r for r in rows if r["source"] == "detector"]
    rates = [r["rate_bpm"] for r in det if r["rate_bpm"] is not None]
    shares = [r["exhale_share"] for r in det if r["exhale_share"] is not None]
    lat = [r["cue_latency_s"] for r in det if r["cue_latency_s"] is not None]
    return {
        "breaths": len(det),
        "paced_breaths": len(rows) - len(det),
        "mean_rate_bpm": _r(_mean(rates)),
        "min_rate_bpm": _r(min(rates)) if rates else None,
        "max_rate_bpm": _r(max(rates)) if rates else None,
        "exhale_share": _r(_mean(shares)),
        "cued_exhales": len(lat),
        "mean_cue_latency_s": _r(_mean(lat)),
        "max_cue_latency_s": _r(max(lat)) if lat else None,
    }


def build_report(data: SessionData) -> dict[str, Any]:
    """The report: per side, per hold, breath by breath, with totals."""
    all_b = sorted(data.breaths, key=lambda b: b["t"])
    exhales = [float(b["t"]) for b in all_b if b["kind"] == "exhale"]
    inhales = [float(b["t"]) for b in all_b if b["kind"] == "inhale"]
    detected = {round(float(b["t"]), 3): float(b.get("detected_at") or b["t"]) for b in all_b if b["kind"] == "exhale"}
    sources = {round(float(b["t"]), 3): str(b.get("source") or "detector") for b in all_b if b["kind"] == "exhale"}
    cues_by_breath: dict[float, dict[str, Any]] = {}
    for c in data.cues:
        bt = c.get("breath_t")
        if bt is not None and round(float(bt), 3) not in cues_by_breath:
            cues_by_breath[round(float(bt), 3)] = c
    holds = []
    for n, h in enumerate(sorted(data.holds, key=lambda h: h["t_start"]), start=1):
        rows = _breath_rows(float(h["t_start"]), float(h["t_end"]), exhales, inhales, detected, cues_by_breath, sources)
        holds.append({
            "hold": n, "kind": h.get("kind"), "side": h.get("side"), "point": h.get("point"),
            "t_start": _r(float(h["t_start"])), "t_end": _r(float(h["t_end"])),
            "duration_s": _r(float(h.get("duration_s", float(h["t_end"]) - float(h["t_start"])))),
            "ended_by": h.get("ended_by"), "softened": bool(h.get("softened", False)),
            **_stats(rows), "breath_rows": rows,
        })
    sides = []
    for s in data.sides:
        mine = [h for h in holds if h["side"] == s.get("side")]
        rows = _breath_rows(float(s["t_start"]), float(s["t_end"]), exhales, inhales, detected, cues_by_breath, sources)
        sides.append({
            "side": s.get("side"), "t_start": _r(float(s["t_start"])), "t_end": _r(float(s["t_end"])),
            "duration_s": _r(float(s["t_end"]) - float(s["t_start"])), "ended_by": s.get("ended_by"),
            "holds": len(mine), "hold_s": _r(sum(h["duration_s"] or 0.0 for h in mine)),
            **_stats(rows),
        })
    t0 = float(data.meta.get("t_start") or (all_b[0]["t"] if all_b else 0.0))
    t1 = float(data.meta.get("t_end") or (all_b[-1]["t"] if all_b else 0.0))
    pacing = {round(float(p["breath_t"]), 3): float(p["error_s"]) for p in data.pacing if p.get("breath_t") is not None}
    whole = _breath_rows(-math.inf, math.inf, exhales, inhales, detected, cues_by_breath, sources, pacing)
    meta = {k: v for k, v in data.meta.items() if k not in ("summary", "settings")}
    report: dict[str, Any] = {
        "session": meta,
        "totals": {"duration_s": _r(t1 - t0), "holds": len(holds), "sides": len(sides),
                   "pain_stops": len(data.pain_stops), **_stats(whole)},
        "sides": sides,
        "holds": holds,
        "pain_stops": data.pain_stops,
    }
    summary = data.meta.get("summary")
    if isinstance(summary, Mapping) and summary.get("adherence") is not None:
        report["totals"]["adherence"] = summary["adherence"]
    if not holds:
        report["breath_rows"] = whole
    return report


# --------------------------------------------------------------------------- renderers


def _v(x: Any, unit: str = "", fmt: str = "{:.1f}") -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return fmt.format(x) + unit
    return f"{x}{unit}"


def render_text(report: Mapping[str, Any]) -> str:
    """A plain-text report (what ``psoas-sense report`` prints)."""
    s = report["session"]
    tot = report["totals"]
    out: list[str] = []
    name = f"Session {s['id']}" if "id" in s else f"Recording {s.get('file', '')}"
    out.append(f"{name}  started {s.get('started_at') or '-'}")
    prot = s.get("protocol")
    if prot:
        practised = s.get("practised")
        out.append(f"Protocol: {prot}" + (f" (practised: {practised})" if practised and practised != prot else ""))
    ended = s.get("ended_by") or ("interrupted" if s.get("interrupted") else "-")
    out.append(f"Ended: {ended}   Duration: {_v(tot['duration_s'], ' s')}   Breaths: {tot['breaths']}   "
               f"Mean rate: {_v(tot['mean_rate_bpm'], '/min')}   Exhale share: {_v(tot['exhale_share'], '', '{:.2f}')}")
    if tot.get("adherence") is not None:
        out.append(f"Pacer adherence: {tot['adherence']:.0f}%")
    if tot["pain_stops"]:
        for p in report["pain_stops"]:
            out.append(f"PAIN STOP at {_v(p.get('t'), ' s')} ({p.get('stage') or '-'}, {p.get('side') or '-'} side)")
    if report["sides"]:
        out.append("")
        out.append("Sides")
        out.append(f"  {'side':<6} {'time':>8} {'holds':>5} {'in holds':>9} {'breaths':>7} {'rate':>8} {'cue lag':>8}  ended")
        for sd in report["sides"]:
            out.append(
                f"  {sd['side']:<6} {_v(sd['duration_s'], ' s'):>8} {sd['holds']:>5} {_v(sd['hold_s'], ' s'):>9} "
                f"{sd['breaths']:>7} {_v(sd['mean_rate_bpm'], '/min'):>8} {_v(sd['mean_cue_latency_s'], ' s', '{:.2f}'):>8}  {sd['ended_by']}"
            )
    for h in report["holds"]:
        out.append("")
        out.append(
            f"Hold {h['hold']}: {h['kind']}, {h['side']} side, point {h['point']}, {_v(h['duration_s'], ' s')} "
            f"from {_v(h['t_start'], ' s')}, {h['breaths']} breaths, {_v(h['mean_rate_bpm'], '/min')}, ended by {h['ended_by']}"
            + (", softened" if h["softened"] else "")
        )
        if h["paced_breaths"]:
            out.append(f"  ({h['paced_breaths']} breaths paced by the clock: breathing signal lost)")
        out.append(f"  {'#':>3} {'exhale at':>10} {'period':>8} {'rate':>9} {'exh.share':>9} {'cue':<14} {'cue lag':>8}")
        for b in h["breath_rows"]:
            out.append(
                f"  {b['breath']:>3} {_v(b['exhale_t'], ' s'):>10} {_v(b['period_s'], ' s'):>8} {_v(b['rate_bpm'], '/min'):>9} "
                f"{_v(b['exhale_share'], '', '{:.2f}'):>9} {(b['cue'] or '-'):<14} {_v(b['cue_latency_s'], ' s', '{:.2f}'):>8}"
                + ("  (paced)" if b["source"] != "detector" else "")
            )
    if not report["holds"]:
        out.append("")
        out.append("No holds in this session. Breath by breath:")
        out.append(f"  {'#':>3} {'exhale at':>10} {'period':>8} {'rate':>9} {'exh.share':>9} {'vs pacer':>9}")
        for b in report.get("breath_rows", []):
            out.append(
                f"  {b['breath']:>3} {_v(b['exhale_t'], ' s'):>10} {_v(b['period_s'], ' s'):>8} {_v(b['rate_bpm'], '/min'):>9} "
                f"{_v(b['exhale_share'], '', '{:.2f}'):>9} {_v(b['pacer_error_s'], ' s', '{:+.1f}'):>9}"
            )
    return "\n".join(out) + "\n"


def write_csv(report: Mapping[str, Any], stream: IO[str]) -> None:
    """One CSV row per breath in a hold (or per breath, when there are no holds)."""
    w = csv.writer(stream, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    sess = report["session"].get("id", report["session"].get("file", ""))
    if report["holds"]:
        for h in report["holds"]:
            for b in h["breath_rows"]:
                w.writerow([sess, h["side"], h["hold"], h["kind"], h["point"],
                            *[b[c] for c in CSV_COLUMNS[5:]]])
    else:
        for b in report.get("breath_rows", []):
            w.writerow([sess, "", "", "", "", *[b[c] for c in CSV_COLUMNS[5:]]])


HOLD_COLOURS = {"static": "#8fb8de", "active": "#f5c07a", "tool": "#a6d9a0"}


def plot_png(data: SessionData, report: Mapping[str, Any], path: Path) -> None:
    """Plot breathing with exhales, cues and holds (needs matplotlib, the ``plot`` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PsoasError("--png needs matplotlib: pip install 'psoas-sense[plot]'") from None
    fig, ax = plt.subplots(figsize=(14, 4.5), dpi=100)
    ex = [float(b["t"]) for b in data.breaths if b["kind"] == "exhale" and b.get("source", "detector") == "detector"]
    if data.waveform is not None:
        t, y = data.waveform
        ax.plot(t, y, lw=0.8, color="#333333", label="breathing")
        ax.set_ylabel("breathing (larger = more air in)")
        yv = np.interp(ex, t, y) if ex else []
        ax.plot(ex, yv, "v", ms=4, color="#c0392b", label="exhale")
    else:
        rates = [(b, 60.0 / (b - a)) for a, b in zip(ex, ex[1:]) if b > a]
        if rates:
            ax.plot([r[0] for r in rates], [r[1] for r in rates], "-o", ms=2.5, lw=0.8, color="#333333", label="breath rate")
        ax.set_ylabel("breaths per minute")
        for e in ex:
            ax.axvline(e, color="#c0392b", lw=0.3, alpha=0.5)
    seen: set[str] = set()
    for h in report["holds"]:
        kind = h["kind"] or "hold"
        ax.axvspan(h["t_start"], h["t_end"], color=HOLD_COLOURS.get(kind, "#dddddd"), alpha=0.35,
                   label=f"{kind} hold" if kind not in seen else None)
        seen.add(kind)
    for sd in report["sides"]:
        ax.axvline(sd["t_start"], color="#555555", ls="--", lw=0.8)
        ax.text(sd["t_start"], 1.0, f" {sd['side']}", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
    cue_t = [float(c["t"]) for c in data.cues if c.get("breath_t") is not None]
    if cue_t:
        ax.plot(cue_t, [0.02] * len(cue_t), "|", ms=8, color="#2e86c1", transform=ax.get_xaxis_transform(), label="cue")
    for p in data.pain_stops:
        ax.axvline(float(p["t"]), color="red", lw=2, label="pain stop")
    ax.set_xlabel("session time (s)")
    title = report["session"].get("id", report["session"].get("file", ""))
    ax.set_title(f"psoas-sense session {title}")
    ax.legend(loc="upper right", fontsize=7, ncol=3)
    fig.tight_layout()
    try:
        fig.savefig(path)
    except OSError as e:
        raise PsoasError(f"{path}: cannot write the plot: {e}") from None
    finally:
        plt.close(fig)
