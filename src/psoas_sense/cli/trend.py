"""``psoas-sense history --trend``: is the practice helping, day by day?

One row per local day: sessions, the mean of their breathing rates and RMSSDs, and holds per
side, each session's figures taken from its record (:mod:`psoas_sense.report`: the coach's own
breathing rate, RMSSD with ectopic and missed beats removed); a small text plot of rate and
RMSSD; ``--csv OUT`` writes the rows to a new, owner-only file.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import sys
from pathlib import Path

from psoas_sense.report.trend import TREND_COLUMNS, Day, DayRow, trend_days

__all__ = ["Day", "DayRow", "TREND_COLUMNS", "cmd_trend", "spark", "trend_days"]


def spark(values: list[float | None]) -> str:
    """One row of blocks, scaled to the values' own range (gaps for missing days)."""
    blocks = " ▁▂▃▄▅▆▇█"
    present = [v for v in values if v is not None]
    if not present:
        return ""
    lo, hi = min(present), max(present)
    span = hi - lo or 1.0
    return "".join(" " if v is None else blocks[1 + int((v - lo) / span * 7)] for v in values)


def cmd_trend(args: argparse.Namespace) -> int:
    rows = [d.row() for d in trend_days()]
    if not rows:
        print("No sessions saved yet: nothing to show a trend of.")
        return 0
    print(f"{'day (local)':<11}  {'sessions':>8}  {'rate/min':>8}  {'RMSSD ms':>8}  {'holds/side':>10}  {'minutes':>7}")
    for r in rows:
        print(f"{r.day:<11}  {r.sessions:>8}  {'-' if r.rate_bpm is None else r.rate_bpm:>8}  "
              f"{'-' if r.rmssd_ms is None else r.rmssd_ms:>8}  "
              f"{'-' if r.holds_per_side is None else r.holds_per_side:>10}  {r.minutes:>7}")
    if len(rows) > 1:
        print(f"\nbreathing rate  {spark([r.rate_bpm for r in rows])}   (lower: slower breathing)")
        print(f"RMSSD           {spark([r.rmssd_ms for r in rows])}   (higher: more heart-rate variability)")
    if args.csv:
        from psoas_sense.safefile import open_private

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(TREND_COLUMNS)
        w.writerows(dataclasses.astuple(r) for r in rows)
        with open_private(Path(args.csv), "w", force=args.force) as f:
            f.write(buf.getvalue())
        print(f"trend written to {args.csv}", file=sys.stderr)
    return 0
