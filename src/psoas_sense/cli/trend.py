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
import datetime as _dt
import io
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class DayRow:
    """One day of the trend, as shown and written to the CSV."""

    day: str
    """``YYYY-MM-DD``, local time."""
    sessions: int
    """Sessions that day."""
    rate_bpm: float | None
    """Mean of the sessions' breathing rates, breaths per minute."""
    rmssd_ms: float | None
    """Mean of the sessions' RMSSD, ms."""
    holds_per_side: float | None
    """Holds per side."""
    minutes: float
    """Minutes of practice."""


TREND_COLUMNS = tuple(f.name for f in dataclasses.fields(DayRow))
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

    def row(self) -> DayRow:
        rate = round(statistics.fmean(self.rates), 1) if self.rates else None
        rmssd = round(statistics.fmean(self.rmssds), 1) if self.rmssds else None
        per_side = round(self.holds / self.sides, 1) if self.sides else None
        return DayRow(self.day, self.sessions, rate, rmssd, per_side, round(self.seconds / 60.0, 1))


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
    from psoas_sense.report.data import record_of
    from psoas_sense.store import HistoryStore, default_path

    path = path or default_path()
    if not path.exists():
        return []
    days: dict[str, Day] = {}
    with HistoryStore(path, create=False) as store:
        for row in reversed(store.sessions()):
            tot = record_of(store.load(row.id)).totals
            d = days.setdefault(local_day(row.started_at), Day(local_day(row.started_at)))
            d.sessions += 1
            d.seconds += row.duration_s
            if tot.mean_rate_bpm is not None:
                d.rates.append(tot.mean_rate_bpm)
            if tot.figures.rmssd_ms is not None:
                d.rmssds.append(tot.figures.rmssd_ms)
            d.holds += tot.holds
            d.sides += tot.sides
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
