"""Is the practice helping, day by day: the saved sessions grouped by local day.

One :class:`Day` per local calendar day: sessions, the mean of their breathing rates and RMSSDs,
and holds per side, each session's figures taken from its record (:mod:`psoas_sense.report`).
``psoas-sense history --trend`` prints and exports them; the history screen plots them.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from psoas_sense.localtime import local_day


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
