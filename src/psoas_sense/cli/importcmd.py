"""``psoas-sense import INPUT -o OUT``: a CSV or phone-app export as a format-v1 recording."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    im = sub.add_parser("import", help="convert a CSV or export into a format-v1 recording")
    im.add_argument("input", metavar="INPUT")
    im.add_argument("-o", "--output", metavar="OUT.jsonl", required=True, help="new recording (.jsonl or .jsonl.gz)")
    im.add_argument("--force", action="store_true", help="replace OUT if it is an existing regular file (never a link)")
    im.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    """Convert a supported input into a format-v1 recording."""
    from psoas_sense.recording.format import Header, RecordingWriter
    from psoas_sense.recording.importers import load_input

    header, items = load_input(args.input)
    extra = dict(header.extra)
    extra.setdefault("imported_from", Path(args.input).name)
    header = Header(streams=header.streams, device=header.device, recorded_at=header.recorded_at, extra=extra)
    with RecordingWriter(args.output, header, force=args.force) as w:
        for t, item in items:
            w.write(item, t_s=t)
    print(f"{args.output}: {len(items)} items written", file=sys.stderr)
    return 0
