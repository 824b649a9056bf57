"""Renderings of a session record: plain text, JSON, CSV rows, and a PNG plot (matplotlib, the
``plot`` extra). Each reads the typed :class:`~psoas_sense.report.record.Report`."""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path
from typing import IO, Any

from psoas_sense.errors import PsoasError
from psoas_sense.report.data import Waveform
from psoas_sense.report.record import BreathRow, Figures, Report
from psoas_sense.report.record import to_json as record_json
from psoas_sense.safefile import discard, open_private
from psoas_sense.vocab import BreathSource

CSV_COLUMNS = ("session", "side", "hold", "hold_kind", "point", *(f.name for f in dataclasses.fields(BreathRow)))
"""The CSV's columns: the session and the hold, then a breath row's fields."""


def value(x: Any, unit: str = "", fmt: str = "{:.1f}") -> str:
    """A figure for a text table: ``-`` when missing."""
    if x is None:
        return "-"
    if isinstance(x, float):
        return fmt.format(x) + unit
    return f"{x}{unit}"


def to_json(report: Report) -> dict[str, Any]:
    """The ``report --json`` object."""
    out = record_json(report)
    assert isinstance(out, dict)
    return out


def _name(report: Report) -> str:
    s = report.session
    return str(s.id) if s.id is not None else s.file or ""


def render_text(report: Report) -> str:
    """A plain-text report (what ``psoas-sense report`` prints)."""
    v = value
    s = report.session
    tot = report.totals
    fig = tot.figures
    out: list[str] = []
    name = f"Session {s.id}" if s.id is not None else f"Recording {s.file or ''}"
    out.append(f"{name}  started {s.started_at or '-'}")
    if s.protocol:
        practised = s.practised
        out.append(f"Protocol: {s.protocol}" + (f" (practised: {practised})" if practised and practised != s.protocol
                                               else ""))
    ended = s.ended_by or ("interrupted" if s.interrupted else "-")
    out.append(f"Ended: {ended}   Duration: {v(tot.duration_s, ' s')}   Breaths: {tot.breaths}   "
               f"Mean rate: {v(tot.mean_rate_bpm, '/min')}   "
               f"Exhale share: {v(fig.exhale_share, '', '{:.2f}')}")
    if fig.hr_bpm is not None:
        out.append(f"Heart rate: {v(fig.hr_bpm, '/min')}   RMSSD: {v(fig.rmssd_ms, ' ms')}   "
                   f"(beats kept {fig.beats_kept} of {fig.beats})")
    if fig.following_pct is not None:
        out.append(f"Heart follows the pacer: {following_words(fig)}")
    if report.changes:
        out.append("Changes:")
        out.extend(f"  {line}" for line in report.changes)
    if tot.adherence_pct is not None:
        out.append(f"Pacer adherence: {tot.adherence_pct:.0f}%")
    for p in report.pain_stops:
        out.append(f"PAIN STOP at {v(p.t_s, ' s')} ({p.stage or '-'}, {p.side or '-'} side)")
    if report.sides:
        out.append("")
        out.append("Sides")
        out.append(f"  {'side':<6} {'time':>8} {'holds':>5} {'in holds':>9} {'breaths':>7} {'rate':>8} "
                   f"{'cue lag':>8}  ended")
        for sd in report.sides:
            out.append(
                f"  {sd.side:<6} {v(sd.duration_s, ' s'):>8} {sd.holds:>5} {v(sd.hold_s, ' s'):>9} "
                f"{sd.breaths:>7} {v(sd.mean_rate_bpm, '/min'):>8} "
                f"{v(sd.figures.mean_cue_latency_s, ' s', '{:.2f}'):>8}  {sd.ended_by}"
            )
    for h in report.holds:
        f = h.figures
        out.append("")
        out.append(
            f"Hold {h.hold}: {h.kind}, {h.side} side, point {h.point}, {v(h.duration_s, ' s')} "
            f"from {v(h.t_start_s, ' s')}, {h.breaths} breaths, {v(h.mean_rate_bpm, '/min')}, "
            f"ended by {h.ended_by}"
            + (", softened" if h.softened else "")
            + (f", heart {v(f.hr_bpm, '/min')}, RMSSD {v(f.rmssd_ms, ' ms')}" if f.hr_bpm is not None else "")
            + (f", breaths {f.depth_rel:.2f}x the usual depth" if f.depth_rel is not None else "")
            + (f", heart follows the pacer {f.following_pct:.0f}%" if f.following_pct is not None else "")
        )
        if f.paced_breaths:
            out.append(f"  ({f.paced_breaths} breaths paced by the clock: the pacer led)")
        out.append(f"  {'#':>3} {'exhale at':>10} {'period':>8} {'rate':>9} {'exh.share':>9} {'cue':<14} "
                   f"{'cue lag':>8}")
        for b in h.breath_rows:
            out.append(
                f"  {b.breath:>3} {v(b.exhale_t, ' s'):>10} {v(b.period_s, ' s'):>8} "
                f"{v(b.rate_bpm, '/min'):>9} {v(b.exhale_share, '', '{:.2f}'):>9} {(b.cue or '-'):<14} "
                f"{v(b.cue_latency_s, ' s', '{:.2f}'):>8}"
                + ("  (paced)" if b.source is not BreathSource.DETECTOR else "")
            )
    if not report.holds:
        out.append("")
        out.append("No holds in this session. Breath by breath:")
        out.append(f"  {'#':>3} {'exhale at':>10} {'period':>8} {'rate':>9} {'exh.share':>9} {'vs pacer':>9}")
        for b in report.breath_rows:
            out.append(
                f"  {b.breath:>3} {v(b.exhale_t, ' s'):>10} {v(b.period_s, ' s'):>8} "
                f"{v(b.rate_bpm, '/min'):>9} {v(b.exhale_share, '', '{:.2f}'):>9} "
                f"{v(b.pacer_error_s, ' s', '{:+.1f}'):>9}"
            )
    return "\n".join(out) + "\n"


def following_words(fig: Figures) -> str:
    """How the heart followed the pacer, in words: ``72% of the heart rate's variation at the
    pacer's rhythm (swing 4.1 bpm, peak +1.2 s from "breathe out"), over 30 paced breaths``."""
    return (f"{fig.following_pct or 0:.0f}% of the heart rate's variation at the pacer's rhythm "
            f"(swing {fig.rsa_bpm or 0:.1f} bpm, peak {fig.rsa_lag_s or 0:+.1f} s from \"breathe out\"), "
            f"over {fig.paced_cycles} paced breaths")


def _row_cells(b: BreathRow) -> list[Any]:
    return [getattr(b, c) for c in CSV_COLUMNS[5:]]


def write_csv(report: Report, stream: IO[str]) -> None:
    """One CSV row per breath in a hold (or per breath, when there are no holds)."""
    w = csv.writer(stream, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    sess = _name(report)
    if report.holds:
        for h in report.holds:
            for b in h.breath_rows:
                w.writerow([sess, h.side, h.hold, h.kind, h.point, *_row_cells(b)])
    else:
        for b in report.breath_rows:
            w.writerow([sess, "", "", "", "", *_row_cells(b)])


HOLD_COLOURS = {"static": "#8fb8de", "active": "#f5c07a", "tool": "#a6d9a0"}


def plot_png(report: Report, waveform: Waveform | None, path: Path, *, force: bool = False) -> None:
    """Plot breathing with exhales, cues and holds (needs matplotlib, the ``plot`` extra): the
    breathing signal when there is one (a recording), else the breathing rate.

    The PNG is created owner-only, never through a symbolic link and never over an existing
    file unless ``force`` (:mod:`psoas_sense.safefile`); a plot that fails is removed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PsoasError("--png needs matplotlib: pip install 'psoas-sense[plot]'") from None
    import numpy as np

    fig, ax = plt.subplots(figsize=(14, 4.5), dpi=100)
    ex = [b.exhale_t for b in report.breath_rows if b.source is BreathSource.DETECTOR]
    if waveform is not None:
        t, y = waveform
        ax.plot(t, y, lw=0.8, color="#333333", label="breathing")
        ax.set_ylabel("breathing (larger = more air in)")
        yv = np.interp(ex, t, y) if ex else np.zeros(0)
        ax.plot(ex, yv, "v", ms=4, color="#c0392b", label="exhale")
    else:
        rates = report.rate_points()
        if rates:
            ax.plot([p[0] for p in rates], [p[1] for p in rates], "-o", ms=2.5, lw=0.8, color="#333333",
                    label="breath rate")
        ax.set_ylabel("breaths per minute")
        for e in ex:
            ax.axvline(e, color="#c0392b", lw=0.3, alpha=0.5)
    seen: set[str] = set()
    for h in report.holds:
        kind = h.kind or "hold"
        ax.axvspan(h.t_start_s, h.t_end_s, color=HOLD_COLOURS.get(kind, "#dddddd"), alpha=0.35,
                   label=f"{kind} hold" if kind not in seen else None)
        seen.add(kind)
    for sd in report.sides:
        ax.axvline(sd.t_start_s, color="#555555", ls="--", lw=0.8)
        ax.text(sd.t_start_s, 1.0, f" {sd.side}", transform=ax.get_xaxis_transform(), va="top", fontsize=8)
    cue_t = [b.exhale_t + b.cue_latency_s for b in report.breath_rows if b.cue_latency_s is not None]
    if cue_t:
        ax.plot(cue_t, [0.02] * len(cue_t), "|", ms=8, color="#2e86c1", transform=ax.get_xaxis_transform(), label="cue")
    for p in report.pain_stops:
        ax.axvline(p.t_s, color="red", lw=2, label="pain stop")
    ax.set_xlabel("session time (s)")
    ax.set_title(f"psoas-sense session {_name(report)}")
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


def write_csv_file(report: Report, path: Path, *, force: bool = False) -> None:
    """:func:`write_csv` into a new owner-only file (no symlink followed, no file overwritten
    unless ``force``)."""
    with open_private(path, "w", force=force) as out:
        write_csv(report, out)
