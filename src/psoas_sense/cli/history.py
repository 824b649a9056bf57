"""``psoas-sense history``: the saved sessions, newest first (local times)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from psoas_sense.cli.options import PROG
from psoas_sense.localtime import fmt_duration, local_time


def add_parser(sub: Any) -> None:
    h = sub.add_parser("history", help="list saved sessions", description="List saved sessions, newest first.")
    h.add_argument("--json", action="store_true", help="one JSON object per session")
    h.add_argument("--limit", type=int, default=None, metavar="N", help="show only the newest N sessions")
    h.add_argument("--trend", action="store_true",
                   help="day by day (local time): breathing rate, RMSSD and holds per side, with a small plot")
    h.add_argument("--csv", metavar="OUT.csv", default=None, help="with --trend: also write the days to a new CSV file")
    h.add_argument("--force", action="store_true", help="with --csv: replace an existing regular file")
    h.set_defaults(func=cmd_history)


def cmd_history(args: argparse.Namespace) -> int:
    from psoas_sense.store import HistoryStore, default_path

    if args.trend:
        from psoas_sense.cli.trend import cmd_trend

        return cmd_trend(args)
    path = default_path()
    if not path.exists():
        if not args.json:
            print("No sessions saved yet.")
        return 0
    with HistoryStore(path, create=False) as store:
        rows = store.sessions(limit=args.limit)
        for notice in store.notices:  # a side file set aside
            print(f"{PROG}: warning: {notice}", file=sys.stderr)
    if args.json:
        for r in rows:
            print(json.dumps({"id": r.id, "started_at": r.started_at, "protocol": r.protocol, "practised": r.practised,
                              "safety": r.safety, "ended_by": r.ended_by, "interrupted": r.interrupted,
                              "duration_s": round(r.duration_s, 3), "sides": r.sides, "holds": r.holds,
                              "breaths": r.breaths, "pain_stops": r.pain_stops, "source": dict(r.source)}))
        return 0
    if not rows:
        print("No sessions saved yet.")
        return 0
    print(f"{'ID':>4}  {'started (local)':<19}  {'protocol':<9}  {'practised':<9}  {'time':>6}  {'sides':>5}  "
          f"{'holds':>5}  {'breaths':>7}  {'pain':>4}  ended")
    for r in rows:
        print(
            f"{r.id:>4}  {local_time(r.started_at):<19}  {r.protocol:<9}  {r.practised:<9}  "
            f"{fmt_duration(r.duration_s):>6}  {r.sides:>5}  {r.holds:>5}  {r.breaths:>7}  "
            f"{r.pain_stops:>4}  {r.ended_by or 'interrupted'}"
        )
    return 0
