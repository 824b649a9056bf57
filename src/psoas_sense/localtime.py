"""Times as a person reads them: saved sessions' times in the local time zone, and durations.

The history keeps ISO 8601 times with their zone (older ones without a zone are UTC); the
command line's ``history`` and ``history --trend`` and the history screen all show them in the
machine's local time, through these functions. Reading the time zone is the only thing here
that looks outside the program (no clock is read).
"""

from __future__ import annotations

import datetime as _dt


def _parsed(stamp: str) -> _dt.datetime | None:
    try:
        t = _dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return t.replace(tzinfo=_dt.UTC) if t.tzinfo is None else t


def local_time(stamp: str) -> str:
    """An ISO 8601 time as local ``YYYY-MM-DD HH:MM:SS`` (times saved without a zone are UTC)."""
    t = _parsed(stamp)
    if t is None:
        return stamp.replace("T", " ")[:19]
    return t.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def local_day(stamp: str) -> str:
    """The local calendar day of an ISO 8601 time (a time without zone is UTC)."""
    t = _parsed(stamp)
    if t is None:
        return stamp[:10]
    return t.astimezone().strftime("%Y-%m-%d")


def fmt_duration(s: float | None) -> str:
    """``m:ss`` (or ``XhYY`` past an hour); ``-`` for none."""
    if s is None:
        return "-"
    n = int(round(max(0.0, float(s))))  # 59.7 s is 1:00, never 0:60
    return f"{n // 60}:{n % 60:02d}" if n < 3600 else f"{n // 3600}h{n % 3600 // 60:02d}"
