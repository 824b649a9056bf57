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
    """Convert a supported input into a format-v1 recording.

    The input is streamed into a hidden owner-only file beside OUT, which becomes OUT only when
    the whole input has been read: a bad line part-way leaves nothing behind, and with
    ``--force`` the old OUT stays until the new one is complete.
    """
    import os

    from psoas_sense.errors import OutputError
    from psoas_sense.recording.format import Header, RecordingWriter
    from psoas_sense.recording.importers import open_input
    from psoas_sense.safefile import check_new, discard

    out = Path(args.output)
    check_new(out, force=args.force)  # refused before reading anything
    header, items = open_input(args.input)
    extra = dict(header.extra)
    extra.setdefault("imported_from", Path(args.input).name)
    header = Header(streams=header.streams, device=header.device, recorded_at=header.recorded_at, extra=extra)
    part = out.parent / f".{out.name}.{os.getpid()}.part{''.join(out.suffixes[-2:])}"
    n = 0
    try:
        with RecordingWriter(part, header) as w:
            for t, item in items:
                w.write(item, t_s=t)
                n += 1
        check_new(out, force=args.force)  # (a link or a file may have appeared meanwhile)
        if args.force:
            os.replace(part, out)
        else:
            try:
                os.link(part, out)  # never overwrites: fails if OUT appeared meanwhile
            except FileExistsError:
                raise OutputError(out, "already exists; not overwritten (use --force to replace it)") from None
            except OSError:  # a file system without hard links: the check just above stands
                os.replace(part, out)
    finally:
        discard(part)
    print(f"{args.output}: {n} items written", file=sys.stderr)
    return 0
