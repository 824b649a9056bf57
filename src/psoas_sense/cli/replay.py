"""``psoas-sense replay FILE``: a recording through the live pipeline (and the coach), paced."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from psoas_sense.cli.options import add_coach_options, add_run_options, run_config
from psoas_sense.cli.running import run


def add_parser(sub: Any) -> None:
    r = sub.add_parser("replay", help="play a recording through the live pipeline")
    r.add_argument("file", metavar="FILE", help="recording (.jsonl, .jsonl.gz) or any file 'detect' reads")
    add_run_options(r, speed_help="1 (real pace), 4, ... or max (default 1)")
    r.add_argument("--loop", action="store_true", help="repeat the recording (for sessions longer than it)")
    r.add_argument("--save", action="store_true",
                   help="save this replay in the history as a session (replays are not saved by default)")
    add_coach_options(r)
    r.set_defaults(func=cmd_replay)


def cmd_replay(args: argparse.Namespace) -> int:
    """Play a recording through the live pipeline (and the coach, with --protocol).

    A headless replay runs the coach on recorded breathing: a simulation, nobody is pressing on
    anything, so the safety check is not asked (the terminal UI and live sessions always ask).

    The file is streamed (:class:`~psoas_sense.sources.replay.ReplaySource`): a problem in its
    first lines is refused before the session starts; one further on (a bad value on line
    9,000,000) ends the session there, as at the end of its input (its end said, and saved with
    ``--save``), then gives the one-line ``FILE:LINE`` error and exit status 2.
    """
    from psoas_sense.cli.running import tui_possible

    config = run_config(args, "replay", simulated_safety=args.headless or not tui_possible(args.tui))
    if not args.save:  # a replay is not a session the person did: kept out of the history unless asked
        config = dataclasses.replace(config, coach=dataclasses.replace(config.coach, save_history=False))
    return run(config, args.tui)
