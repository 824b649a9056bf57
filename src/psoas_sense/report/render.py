"""Renderings of a report: plain text, CSV rows, and a PNG plot (matplotlib, the ``plot`` extra)."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from psoas_sense.errors import PsoasError
from psoas_sense.report.build import CSV_COLUMNS, value
from psoas_sense.report.data import SessionData
from psoas_sense.safefile import discard, open_private


def render_text(report: Mapping[str, Any]) -> str:
    """A plain-text report (what ``psoas-sense report`` prints)."""
    v = value
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
    out.append(f"Ended: {ended}   Duration: {v(tot['duration_s'], ' s')}   Breaths: {tot['breaths']}   "
               f"Mean rate: {v(tot['mean_rate_bpm'], '/min')}   "
               f"Exhale share: {v(tot['exhale_share'], '', '{:.2f}')}")
    if tot.get("hr_bpm") is not None:
        out.append(f"Heart rate: {v(tot['hr_bpm'], '/min')}   RMSSD: {v(tot.get('rmssd_ms'), ' ms')}   "
                   f"(beats kept {tot.get('beats_kept')} of {tot.get('beats')})")
    if tot.get("following_pct") is not None:
        out.append(f"Heart follows the pacer: {following_words(tot)}")
    if report.get("changes"):
        out.append("Changes:")
        out.extend(f"  {line}" for line in report["changes"])
    if tot.get("adherence") is not None:
        out.append(f"Pacer adherence: {tot['adherence']:.0f}%")
    if tot["pain_stops"]:
        for p in report["pain_stops"]:
            where = f"{p.get('stage') or '-'}, {p.get('side') or '-'} side"
            out.append(f"PAIN STOP at {v(p.get('t'), ' s')} ({where})")
    if report["sides"]:
        out.append("")
        out.append("Sides")
        out.append(f"  {'side':<6} {'time':>8} {'holds':>5} {'in holds':>9} {'breaths':>7} {'rate':>8} "
                   f"{'cue lag':>8}  ended")
        for sd in report["sides"]:
            out.append(
                f"  {sd['side']:<6} {v(sd['duration_s'], ' s'):>8} {sd['holds']:>5} {v(sd['hold_s'], ' s'):>9} "
                f"{sd['breaths']:>7} {v(sd['mean_rate_bpm'], '/min'):>8} "
                f"{v(sd['mean_cue_latency_s'], ' s', '{:.2f}'):>8}  {sd['ended_by']}"
            )
    for h in report["holds"]:
        out.append("")
        out.append(
            f"Hold {h['hold']}: {h['kind']}, {h['side']} side, point {h['point']}, {v(h['duration_s'], ' s')} "
            f"from {v(h['t_start'], ' s')}, {h['breaths']} breaths, {v(h['mean_rate_bpm'], '/min')}, "
            f"ended by {h['ended_by']}"
            + (", softened" if h["softened"] else "")
            + (f", heart {v(h['hr_bpm'], '/min')}, RMSSD {v(h.get('rmssd_ms'), ' ms')}"
               if h.get("hr_bpm") is not None else "")
            + (f", breaths {h['depth_rel']:.2f}x the usual depth" if h.get("depth_rel") is not None else "")
            + (f", heart follows the pacer {h['following_pct']:.0f}%" if h.get("following_pct") is not None else "")
        )
        if h["paced_breaths"]:
            out.append(f"  ({h['paced_breaths']} breaths paced by the clock: the pacer led)")
        out.append(f"  {'#':>3} {'exhale at':>10} {'period':>8} {'rate':>9} {'exh.share':>9} {'cue':<14} "
                   f"{'cue lag':>8}")
        for b in h["breath_rows"]:
            out.append(
                f"  {b['breath']:>3} {v(b['exhale_t'], ' s'):>10} {v(b['period_s'], ' s'):>8} "
                f"{v(b['rate_bpm'], '/min'):>9} {v(b['exhale_share'], '', '{:.2f}'):>9} {(b['cue'] or '-'):<14} "
                f"{v(b['cue_latency_s'], ' s', '{:.2f}'):>8}"
                + ("  (paced)" if b["source"] != "detector" else "")
            )
    if not report["holds"]:
        out.append("")
        out.append("No holds in this session. Breath by breath:")
        out.append(f"  {'#':>3} {'exhale at':>10} {'period':>8} {'rate':>9} {'exh.share':>9} {'vs pacer':>9}")
        for b in report.get("breath_rows", []):
            out.append(
                f"  {b['breath']:>3} {v(b['exhale_t'], ' s'):>10} {v(b['period_s'], ' s'):>8} "
                f"{v(b['rate_bpm'], '/min'):>9} {v(b['exhale_share'], '', '{:.2f}'):>9} "
                f"{v(b['pacer_error_s'], ' s', '{:+.1f}'):>9}"
            )
    return "\n".join(out) + "\n"


def following_words(fig: Mapping[str, Any]) -> str:
    """How the heart followed the pacer, in words: ``72% of the heart-rate swing at the pacer's
    rhythm (4.1 bpm, peak 1.2 s after "breathe out"), over 30 paced breaths``."""
    return (f"{fig['following_pct']:.0f}% of the heart rate's variation at the pacer's rhythm "
            f"(swing {fig['rsa_bpm']:.1f} bpm, peak {fig['rsa_lag_s']:+.1f} s from \"breathe out\"), "
            f"over {fig['paced_cycles']} paced breaths")


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


def plot_png(data: SessionData, report: Mapping[str, Any], path: Path, *, force: bool = False) -> None:
    """Plot breathing with exhales, cues and holds (needs matplotlib, the ``plot`` extra).

    The PNG is created owner-only, never through a symbolic link and never over an existing
    file unless ``force`` (:mod:`psoas_sense.safefile`); a plot that fails is removed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PsoasError("--png needs matplotlib: pip install 'psoas-sense[plot]'") from None
    fig, ax = plt.subplots(figsize=(14, 4.5), dpi=100)
    ex = [b.t_s for b in data.breaths if b.kind == "exhale" and b.source == "detector"]
    if data.waveform is not None:
        t, y = data.waveform
        ax.plot(t, y, lw=0.8, color="#333333", label="breathing")
        ax.set_ylabel("breathing (larger = more air in)")
        yv = np.interp(ex, t, y) if ex else []
        ax.plot(ex, yv, "v", ms=4, color="#c0392b", label="exhale")
    else:
        rates = [(b, 60.0 / (b - a)) for a, b in zip(ex, ex[1:]) if b > a]
        if rates:
            ax.plot([r[0] for r in rates], [r[1] for r in rates], "-o", ms=2.5, lw=0.8, color="#333333",
                    label="breath rate")
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
    cue_t = [c.t_s for c in data.cues if c.breath_t_s is not None]
    if cue_t:
        ax.plot(cue_t, [0.02] * len(cue_t), "|", ms=8, color="#2e86c1", transform=ax.get_xaxis_transform(), label="cue")
    for p in data.pain_stops:
        ax.axvline(p.t_s, color="red", lw=2, label="pain stop")
    ax.set_xlabel("session time (s)")
    title = report["session"].get("id", report["session"].get("file", ""))
    ax.set_title(f"psoas-sense session {title}")
    ax.legend(loc="upper right", fontsize=7, ncol=3)
    fig.tight_layout()
    try:
        with open_private(path, "wb", force=force) as out:
            try:
                fig.savefig(out, format="png")
            except (OSError, ValueError) as e:
                discard(path)
                raise PsoasError(f"{path}: cannot write the plot: {e}") from None
    finally:
        plt.close(fig)


def write_csv_file(report: Mapping[str, Any], path: Path, *, force: bool = False) -> None:
    """:func:`write_csv` into a new owner-only file (no symlink followed, no file overwritten
    unless ``force``)."""
    with open_private(path, "w", force=force) as out:
        write_csv(report, out)
