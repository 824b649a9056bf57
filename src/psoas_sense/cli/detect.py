"""``psoas-sense detect INPUT``: the online detector over a file, as fast as possible.

It runs the same session loop as everything else, on the file played at full speed. The file
is streamed: read in bounded blocks and fed to the pipeline as it is read, so memory does not
grow with its length. Single stream files are fed in chunks of up to a minute (identical
events: the pipeline is chunk invariant), which saves the per-frame overhead.

A problem found late in a long file (a bad value on line 9,000,000) ends the run with the
usual one-line ``FILE:LINE`` error and exit status 2; the events of the data before it have
been printed by then.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterable, Iterator
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
    from psoas_sense.recording.importers import open_input
    from psoas_sense.session.loop import run_session
    from psoas_sense.session.sinks import JsonPrinter
    from psoas_sense.sources.memory import MemorySource

    header, stream = open_input(args.input, frame_s=COALESCE_S)
    available = set(header.streams)
    if args.signal != "auto" and args.signal not in available:
        # raw notifications may carry it: look at the first items (kept, then fed)
        first = list(itertools.islice(stream, 200))
        if not any(isinstance(it, Notification) for _, it in first):
            raise PsoasError(
                f"{args.input}: has no '{args.signal}' stream (it has: {', '.join(sorted(available)) or 'none'})"
            )
        stream = itertools.chain(first, stream)
    # the contract: one line per phase change; notices (breath hold, signal loss, predictions)
    # only when asked for
    printer = JsonPrinter(phases_only=not args.notices)
    source = MemorySource(header, coalesced(stream))
    result = asyncio.run(run_session(source, signal=args.signal, sinks=[printer]))
    if args.summary:
        print(json.dumps({"event": "summary", "events": printer.lines, "decode_errors": result.decode_errors}))
    sys.stdout.flush()
    return 0


def coalesced(items: Iterable[tuple[float, Any]]) -> Iterator[tuple[float, Any]]:
    """The items of a file, lazily, with runs of frames of one stream merged into chunks of up
    to :data:`COALESCE_S`.

    Only a file with a single sample stream and no other items is merged: once another kind of
    item shows up, the rest passes unchanged, so the interleaving of streams is never touched.
    At most one chunk is held.
    """
    import numpy as np

    from psoas_sense.model import AccFrame, RespFrame, RRFrame

    fields = {RespFrame: "resp", AccFrame: "acc_mg", RRFrame: "rr_ms"}
    cls: type[Any] | None = None
    run: list[Any] = []

    def flush() -> tuple[float, Any]:
        assert cls is not None
        if len(run) == 1:
            frame = run[0]
        else:
            field = fields[cls]
            frame = cls(np.concatenate([f.t_s for f in run]), np.concatenate([getattr(f, field) for f in run]))
        run.clear()
        return (float(frame.t_s[-1]) if frame.t_s.size else 0.0, frame)

    first_t: float | None = None  # the first sample time of the run
    it = iter(items)
    for t, item in it:
        kind = type(item)
        if kind not in fields or (cls is not None and kind is not cls):
            if run:  # a single stream no longer: what is merged goes out, the rest unchanged
                yield flush()
            yield t, item
            yield from it
            return
        cls = kind
        if item.t_s.size:
            if first_t is not None and float(item.t_s[-1]) - first_t > COALESCE_S:
                yield flush()
                first_t = None
            if first_t is None:
                first_t = float(item.t_s[0])
        run.append(item)
    if run:
        yield flush()
