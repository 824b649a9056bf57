"""``psoas-sense report ID|last|FILE``: a breath-by-breath report per hold and side."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from psoas_sense.cli.options import SIGNALS, add_coach_options, run_config
from psoas_sense.errors import PsoasError


def add_parser(sub: Any) -> None:
    r = sub.add_parser(
        "report",
        help="breath-by-breath report of a session (history ID, 'last', or a recording file)",
        description="A breath-by-breath report per hold and side, from the history (ID or 'last') or from a "
                    "recording file (its hold and side markers; or, with --protocol, the coach run over it).",
    )
    r.add_argument("target", metavar="ID|FILE", help="session ID from 'psoas-sense history', 'last', or a recording")
    fmt = r.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the report as one JSON object")
    fmt.add_argument("--csv", action="store_true", help="one CSV row per breath in a hold")
    r.add_argument("--png", metavar="OUT.png", default=None,
                   help="also plot breathing with exhales, cues and holds (needs the 'plot' extra: matplotlib)")
    r.add_argument("--force", action="store_true", help="with --png: replace an existing regular file (never a link)")
    r.add_argument("--signal", choices=SIGNALS, default="auto", help="signal for a recording")
    add_coach_options(r)
    r.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from psoas_sense import report as rep

    target = str(args.target)
    path = Path(target)
    if args.png:
        from psoas_sense.safefile import check_new

        check_new(Path(args.png), force=args.force)  # refused before any work, and before any output
    if path.exists() and not target.isdigit():
        config = None
        if args.protocol is not None:
            args.file = target
            args.no_history = True
            config = run_config(args, "report")
        report, waveform = rep.read_recording(path, signal=args.signal, config=config, with_waveform=bool(args.png))
    elif target.isdigit() or target == "last":
        report, waveform = rep.from_history(None if target == "last" else int(target)), None
    else:
        raise PsoasError(f"{target}: no such recording, and not a session ID (see 'psoas-sense history')")
    if args.json:
        print(json.dumps(rep.to_json(report)))
    elif args.csv:
        rep.write_csv(report, sys.stdout)
    else:
        sys.stdout.write(rep.render_text(report))
    if args.png:
        rep.plot_png(report, waveform, Path(args.png), force=args.force)
        print(f"plot written to {args.png}", file=sys.stderr)
    return 0
