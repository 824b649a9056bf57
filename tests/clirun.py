"""The command line called in-process: the same ``main`` the console script runs, its standard
streams swapped for strings, so a test sees exactly what a person would (exit status, stdout,
stderr) without paying for a new interpreter. Keep a real subprocess only where the process
boundary is what the test is about (signals, a closed pipe, the installed entry point)."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from typing import Any

from psoas_sense.cli import main


@dataclass(frozen=True)
class CliResult:
    """What a run of the command line gave: as :class:`subprocess.CompletedProcess` names it."""

    returncode: int
    stdout: str
    stderr: str


def cli(*args: str, stdin: str = "") -> CliResult:
    """Run ``psoas-sense ARGS`` in this process; standard input is ``stdin`` (not a terminal)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin), out, err
    try:
        try:
            rc = main(list(args))
        except SystemExit as exc:  # argparse: --help, --version, a usage error
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    return CliResult(rc, out.getvalue(), err.getvalue())


def events(out: str) -> list[dict[str, Any]]:
    """The JSON lines of an output."""
    return [json.loads(line) for line in out.splitlines() if line.strip()]
