"""``psoas-sense session --device D``: a live session with a strap, the emulated strap or a phone."""

from __future__ import annotations

import argparse
from typing import Any

from psoas_sense.cli.options import add_coach_options, add_device_options, add_run_options, device_help, run_config
from psoas_sense.cli.running import run


def add_parser(sub: Any) -> None:
    s = sub.add_parser(
        "session",
        help="live session with a strap, the emulated strap or a phone",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        lazy_description=device_help,
    )
    add_device_options(s)
    add_run_options(s, speed_help="emulated devices only: 1, 4, ... or max (default 1)")
    s.add_argument("--record", metavar="FILE", default=None, help="record raw traffic to FILE (.jsonl or .jsonl.gz)")
    add_coach_options(s)
    s.set_defaults(func=cmd_session)


def cmd_session(args: argparse.Namespace) -> int:
    """A live session with a strap, the emulated strap or a phone."""
    return run(run_config(args, "session"), args.tui)
