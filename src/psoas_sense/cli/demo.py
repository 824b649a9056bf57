"""No command: the demo, a guided session on a bundled real recording, at real pace.

In a terminal it opens the terminal UI (the safety check first); otherwise it prints one JSON
line per breath phase.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from psoas_sense.cli.options import PROG
from psoas_sense.recording.bundled import demo_recording

if TYPE_CHECKING:
    from psoas_sense.session.setup import RunConfig


def demo_config(args: argparse.Namespace) -> RunConfig:
    """The demo's configuration: the manual protocol on the bundled recording, looped."""
    from psoas_sense.session.setup import CoachConfig, RunConfig

    path = demo_recording()
    return RunConfig(
        command="demo", file=path, speed=args.speed, loop=True, duration_s=args.duration,
        mute=args.mute, speak=args.speak, coach=CoachConfig(protocol="manual", save_history=args.save),
        subtitle=f"demo: {path.name}",
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """No command: the demo, a guided session on the bundled recording at real pace."""
    import dataclasses

    from psoas_sense.cli.running import run_headless, tui_possible
    from psoas_sense.session.setup import CoachConfig

    if args.tui is not None and tui_possible(args.tui):
        from psoas_sense.session.choices import StartOptions

        start = StartOptions(speed=args.speed, duration_s=args.duration, save=args.save, mute=args.mute,
                             speak=args.speak)
        return int(args.tui(None, start))  # the start screen, the demo focused
    config = demo_config(args)
    print(
        f"{PROG}: demo: replaying {config.file.name if config.file else ''} at real pace; one JSON line per "
        "breath phase. Ctrl-C to stop. 'psoas-sense --help' lists the commands.",
        file=sys.stderr,
    )
    return run_headless(dataclasses.replace(config, coach=CoachConfig()), phases_only=False)
