"""``psoas-sense detect INPUT``: the online detector over a file, as fast as possible.

It runs the same session loop as everything else, on the file played at full speed; single
stream files are fed in chunks of up to a minute (identical events: the pipeline is chunk
invariant), which saves the per-frame overhead.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from psoas_sense.cli.options import add_signal
from psoas_sense.errors import PsoasError

COALESCE_S = 60.0
"""``detect`` feeds a single-stream file in chunks of up to this many seconds."""


def add_parser(sub: Any) -> None:
    d = sub.add_parser("detect", help="run the online detector over a file and print events as JSON lines")
    d.add_argument("input", metavar="INPUT", help="recording (.jsonl, .jsonl.gz), generic CSV or supported export")
    add_signal(d)
    d.add_argument("--summary", action="store_true", help="print a summary line at the end")
    d.add_argument("--notices", action="store_true",
                   help="also print the detector's notices (breath_hold, signal_lost, exhale_expected, ...)")
    d.set_defaults(func=cmd_detect)


def cmd_detect(args: argparse.Namespace) -> int:
    """Run the online detector over a file as fast as possible; print one JSON line per event."""
    import asyncio

    from psoas_sense.model import Notification
    from psoas_sense.recording.importers import load_input
    from psoas_sense.session.loop import run_session
    from psoas_sense.session.sinks import JsonPrinter
    from psoas_sense.sources.memory import MemorySource

    header, items = load_input(args.input)
    available = set(header.streams)
    has_raw = any(isinstance(it, Notification) for _, it in items[:200])
    if args.signal != "auto" and args.signal not in available and not has_raw:
        raise PsoasError(
            f"{args.input}: has no '{args.signal}' stream (it has: {', '.join(sorted(available)) or 'none'})"
        )
    # the contract: one line per phase change; notices (breath hold, signal loss, predictions)
    # only when asked for
    printer = JsonPrinter(phases_only=not args.notices)
    items = coalesced(items)  # merged frames replace the originals: one copy of the samples in memory
    source = MemorySource(header, items)
    result = asyncio.run(run_session(source, signal=args.signal, sinks=[printer]))
    if args.summary:
        print(json.dumps({"event": "summary", "events": printer.lines, "decode_errors": result.decode_errors}))
    sys.stdout.flush()
    return 0


def coalesced(items: list[tuple[float, Any]]) -> list[tuple[float, Any]]:
    """The items of a file, with runs of frames of one stream merged into longer chunks.

    Only files with a single sample stream and no raw notifications are merged, so the
    interleaving of streams is never touched.
    """
    import numpy as np

    from psoas_sense.model import AccFrame, RespFrame, RRFrame

    kinds = {type(it) for _, it in items}
    frame_kinds = kinds & {RespFrame, AccFrame, RRFrame}
    if len(frame_kinds) != 1 or kinds - frame_kinds:
        return items
    (cls,) = frame_kinds
    field = {RespFrame: "resp", AccFrame: "acc_mg", RRFrame: "rr_ms"}[cls]
    out: list[tuple[float, Any]] = []
    run: list[Any] = []

    def flush() -> None:
        frame = cls(np.concatenate([f.t_s for f in run]), np.concatenate([getattr(f, field) for f in run]))
        out.append((float(frame.t_s[-1]) if frame.t_s.size else 0.0, frame))

    for _, it in items:
        if run and float(it.t_s[-1]) - float(run[0].t_s[0]) > COALESCE_S:
            flush()
            run = []
        run.append(it)
    if run:
        flush()
    return out
