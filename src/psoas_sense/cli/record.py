"""``psoas-sense record``: a strap's or belt's raw BLE traffic into a recording, for replay or a bug report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from psoas_sense.cli.options import PROG, add_device_options, device_help, run_config, seconds_arg, speed_arg
from psoas_sense.errors import PsoasError


def add_parser(sub: Any) -> None:
    rc = sub.add_parser(
        "record",
        help="record a strap's or belt's raw BLE traffic for replay or a bug report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        lazy_description=lambda: "Store every notification's raw bytes (Heart Rate Measurement, Polar PMD\n"
        "control point and data, a Go Direct belt's replies and measurement packets, and\n"
        "the commands written to the belt) with their arrival times in a format-v1\n"
        "recording; `psoas-sense replay FILE` re-runs the decoders on it.\n\n" + device_help(),
    )
    add_device_options(rc)
    rc.add_argument("--out", required=True, metavar="FILE", help="new recording (.jsonl or .jsonl.gz)")
    rc.add_argument("--duration", type=seconds_arg, default=None, help="stop after S seconds (default: until Ctrl-C)")
    rc.add_argument("--speed", type=speed_arg, default=1.0, help="emulated devices only: 1, 4, ... or max")
    rc.set_defaults(func=cmd_record)


def cmd_record(args: argparse.Namespace) -> int:
    """Record a device's raw traffic (every notification's bytes, and a belt's command writes) to a
    format-v1 recording."""
    from psoas_sense.cli.running import run_with_signals
    from psoas_sense.dsp.pipeline import Pipeline
    from psoas_sense.events import SessionEvent
    from psoas_sense.model import Status
    from psoas_sense.session.loop import run_session
    from psoas_sense.session.setup import make_sinks, open_source
    from psoas_sense.session.sinks import CallbackSink

    config = run_config(args, "record")
    out = config.record_path
    assert out is not None
    if out.exists() or out.is_symlink():
        raise PsoasError(f"{out}: already exists; choose a new file (recordings are never overwritten)")
    if not out.parent.exists():
        raise PsoasError(f"{out.parent}: folder does not exist")
    source = open_source(config)

    def show(ev: SessionEvent) -> None:
        if isinstance(ev, Status):
            detail = f" ({ev.detail})" if ev.detail else ""
            print(f"{PROG}: {ev.t_s:8.2f} s  {ev.state}{detail}", file=sys.stderr)

    async def go() -> int:
        pipe = Pipeline()  # decodes as the recording is made, to say what a belt lost
        result = await run_session(source, sinks=[CallbackSink(show), *make_sinks(config, None, None)],
                                   duration_s=config.duration_s, pipeline=pipe)
        gaps = pipe.decoder.gdx.timer.gaps
        lost = sum(n for _, _, n in gaps)
        print(
            f"{PROG}: recorded {result.items} items, {result.last_t_s:.1f} s, to {out}"
            + (f"; {result.decode_errors} malformed notifications" if result.decode_errors else "")
            + (f"; the belt lost {lost} samples in {len(gaps)} gaps" if gaps else ""),
            file=sys.stderr,
        )
        return 0

    return run_with_signals(go, "strap stopped and disconnected, recording closed")
