"""Command line: ``psoas-sense [COMMAND] ...``, one module per command.

Errors the user can act on are printed as one line, ``psoas-sense: error: FILE:LINE: reason``,
with exit status 2; ``--debug`` shows the traceback instead. Building the parser imports no
signal processing (``--help``, ``history`` and ``safety`` start fast); each command imports
what it needs when it runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from psoas_sense import __version__
from psoas_sense.cli import demo, detect, history, importcmd, record, replay, report, safety, scan, session
from psoas_sense.cli.options import PROG, add_sound_options, seconds_arg, speed_arg
from psoas_sense.errors import PsoasError

if TYPE_CHECKING:
    from psoas_sense.cli.running import TuiRunner

COMMANDS = (detect, replay, importcmd, session, scan, record, history, safety, report)
"""The command modules, in the order ``--help`` lists them."""


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit status 2, and descriptions built only when shown."""

    def __init__(self, *args: Any, lazy_description: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy_description = lazy_description

    def format_help(self) -> str:
        if self._lazy_description is not None:
            self.description = self._lazy_description()
            self._lazy_description = None
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog=PROG,
        description=(
            "Breathing and hold tracker for guided psoas self-massage. With no command: the demo, "
            "a guided session in the terminal UI on a bundled real recording (no hardware needed; "
            "JSON lines when not run in a terminal)."
        ),
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    p.add_argument("--speed", type=speed_arg, default=1.0, help="demo pace: 1, 4, ... or max (default 1)")
    p.add_argument("--duration", type=seconds_arg, default=None, help="stop the demo after S seconds of data")
    add_sound_options(p)
    p.add_argument("--save", action="store_true", help="save the demo in the history (it is not, by default)")
    p.set_defaults(func=demo.cmd_demo)
    sub = p.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for module in COMMANDS:
        module.add_parser(sub)
    return p


def _one_line_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                      file: Any = None, line: str | None = None) -> None:
    """Warnings for the user (a cut last line, ...) as one line, like errors."""
    print(f"{PROG}: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None, *, tui: TuiRunner | None = None) -> int:
    """Run the command line; ``tui`` runs the terminal UI (without it, every run prints JSON lines).

    Returns:
        The exit status: 0, 2 for an error the user can act on, 1 for a bug, 130 for Ctrl-C.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    if not debug:
        import warnings

        from psoas_sense.recording.format import TruncatedLineWarning

        warnings.showwarning = _one_line_warning
        warnings.simplefilter("always", TruncatedLineWarning)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.tui = tui
    try:
        return int(args.func(args) or 0)
    except PsoasError as exc:
        if debug:
            raise
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # the reader went away (e.g. '| head'): not an error
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: one line, traceback with --debug
        if debug:
            raise
        print(f"{PROG}: error: internal error: {type(exc).__name__}: {exc} (run with --debug for details)",
              file=sys.stderr)
        return 1
