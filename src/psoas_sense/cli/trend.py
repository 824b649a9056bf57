"""``psoas-sense history --trend``: is the practice helping, day by day?

One row per local day: sessions, the mean breathing rate of their detected breaths (the coach's
own figure), RMSSD over their beats (ectopic and missed beats removed: :mod:`psoas_sense.insight`)
and holds per side; a small text plot of rate and RMSSD; ``--csv OUT`` writes the rows to a new,
owner-only file.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import io
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

TREND_COLUMNS = ("day", "sessions", "rate_bpm", "rmssd_ms", "holds_per_side", "minutes")
"""The CSV columns."""


@dataclass
class Day:
    """One local day of practice."""

    day: str
    """``YYYY-MM-DD``, local time."""
    sessions: int = 0
    rates: list[float] = field(default_factory=list)
    rmssds: list[float] = field(default_factory=list)
    holds: int = 0
    sides: int = 0
    seconds: float = 0.0

    def row(self) -> tuple[str, int, float | None, float | None, float | None, float]:
        rate = round(statistics.fmean(self.rates), 1) if self.rates else None
        rmssd = round(statistics.fmean(self.rmssds), 1) if self.rmssds else None
        per_side = round(self.holds / self.sides, 1) if self.sides else None
        return self.day, self.sessions, rate, rmssd, per_side, round(self.seconds / 60.0, 1)


def local_day(stamp: str) -> str:
    """The local calendar day of an ISO 8601 time (a time without zone is UTC)."""
    try:
        t = _dt.datetime.fromisoformat(stamp)
    except ValueError:
        return stamp[:10]
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return t.astimezone().strftime("%Y-%m-%d")


def trend_days(path: Path | None = None) -> list[Day]:
    """The saved sessions grouped by local day, oldest first (default: the user's history)."""
    from psoas_sense.insight import beat_figures
    from psoas_sense.store import HistoryStore, default_path

    path = path or default_path()
    if not path.exists():
        return []
    days: dict[str, Day] = {}
    with HistoryStore(path, create=False) as store:
        for row in reversed(store.sessions()):
            s = store.load(int(row["id"]))
            d = days.setdefault(local_day(s.started_at), Day(local_day(s.started_at)))
            d.sessions += 1
            d.seconds += max(0.0, s.t_end_s - s.t_start_s)
            if s.summary is not None and s.summary.mean_rate_bpm is not None:
                d.rates.append(s.summary.mean_rate_bpm)
            if s.beats:
                rm = beat_figures(s.beats).rmssd_ms.value
                if rm is not None:
                    d.rmssds.append(rm)
            d.holds += len(s.holds)
            d.sides += len(s.sides)
    return sorted(days.values(), key=lambda d: d.day)


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
    for day, n, rate, rmssd, per_side, minutes in rows:
        print(f"{day:<11}  {n:>8}  {'-' if rate is None else rate:>8}  {'-' if rmssd is None else rmssd:>8}  "
              f"{'-' if per_side is None else per_side:>10}  {minutes:>7}")
    if len(rows) > 1:
        print(f"\nbreathing rate  {spark([r[2] for r in rows])}   (lower: slower breathing)")
        print(f"RMSSD           {spark([r[3] for r in rows])}   (higher: more heart-rate variability)")
    if args.csv:
        from psoas_sense.safefile import open_private

        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(TREND_COLUMNS)
        w.writerows(rows)
        with open_private(Path(args.csv), "w", force=args.force) as f:
            f.write(buf.getvalue())
        print(f"trend written to {args.csv}", file=sys.stderr)
    return 0
