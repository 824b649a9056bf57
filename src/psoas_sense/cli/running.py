"""Running a session from the command line: signals, command input, headless or terminal UI.

The command line never imports the terminal UI (``lint-imports``: the two front ends are
independent): the program's entry point (:mod:`psoas_sense.__main__`) hands :func:`psoas_sense.cli.main`
a :data:`TuiRunner`, and without one every run is headless.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, TypeAlias

from psoas_sense.cli.options import PROG
from psoas_sense.errors import PsoasError

if TYPE_CHECKING:
    from psoas_sense.session.choices import StartOptions
    from psoas_sense.session.commands import CommandInput
    from psoas_sense.session.setup import RunConfig

TuiRunner: TypeAlias = "Callable[[RunConfig | None, StartOptions | None], int]"
"""Runs the terminal UI on a configured run (None: its start screen asks, and its runs take the
options) and returns the exit status; given by the entry point."""

LINK_LOST_EXIT = 3
"""Exit status when a live session ends because the sensor's link could not be re-established."""


SIGNAL_REASONS = {"SIGTERM": "signal", "SIGHUP": "signal", "SIGINT": "interrupt"}
"""How a session stopped by each signal says it ended (``signal``: stopped by the system, e.g. a
shutdown or the terminal closing; ``interrupt``: Ctrl-C)."""


def run_with_signals(
    coro_factory: Callable[[], Awaitable[int]],
    stopped: str = "recording and history closed",
) -> int:
    """Run a session coroutine; SIGTERM, SIGHUP (the terminal closing) and Ctrl-C cancel it, so
    sources shut down cleanly (the strap's streams stopped, then disconnected), the recording gets
    its trailer and the history its true ending."""

    async def main() -> int:
        task = asyncio.ensure_future(coro_factory())
        loop = asyncio.get_running_loop()
        got: list[str] = []

        def on_signal(name: str) -> None:
            got.append(name)
            task.cancel(SIGNAL_REASONS[name])

        installed = []
        for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT"),
                          (getattr(signal, "SIGHUP", None), "SIGHUP")):
            if sig is None:
                continue
            try:
                loop.add_signal_handler(sig, on_signal, name)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        try:
            return int(await task)
        except asyncio.CancelledError:
            if got:
                try:
                    print(f"{PROG}: stopped by {got[0]}; {stopped}", file=sys.stderr, flush=True)
                except (OSError, ValueError, AttributeError):
                    pass  # the terminal is gone (SIGHUP): nobody to tell
                return 130 if got[0] == "SIGINT" else 0
            raise
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    return asyncio.run(main())


async def stdin_lines() -> AsyncIterator[str]:
    """Lines of standard input, read in a thread so the event loop never blocks."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(x: str | None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, x)
        except RuntimeError:  # loop closed: the session is over
            pass

    def reader() -> None:
        try:
            for line in sys.stdin:
                put(line)
        except (OSError, ValueError):
            pass
        put(None)

    threading.Thread(target=reader, name="stdin-commands", daemon=True).start()
    while True:
        line = await queue.get()
        if line is None:
            return
        yield line


async def script_lines(lines: Sequence[str]) -> AsyncIterator[str]:
    """Command lines known in advance (a file, or piped input read whole)."""
    for line in lines:
        yield line


def command_input(config: RunConfig) -> AsyncIterator[CommandInput] | None:
    """Headless commands, read from ``--commands FILE`` or standard input, as the loop takes them."""
    from psoas_sense.session.commands import parsed_lines

    lines = command_lines(config)
    return None if lines is None else parsed_lines(lines)


def command_lines(config: RunConfig) -> AsyncIterator[str] | None:
    """Where headless command lines come from: ``--commands FILE``, or standard input."""
    if config.commands_file is not None:
        try:
            text = config.commands_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise PsoasError(f"{config.commands_file}: cannot read commands: {reason}") from None
        return script_lines(text.splitlines())
    if sys.stdin is None or sys.stdin.closed:
        return None
    try:
        is_tty = sys.stdin.isatty()
    except (ValueError, OSError):
        return None
    if not is_tty and config.speed is None:
        # a script piped into an as-fast-as-possible run: read it all first, so timed
        # commands (@T name) apply at the same data time on every run
        return script_lines(sys.stdin.read().splitlines())
    return stdin_lines()


def tui_possible(tui: TuiRunner | None) -> bool:
    """There is a terminal UI to run, and both ends are a terminal."""
    if tui is None:
        return False
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def no_tui_notice() -> None:
    print(f"{PROG}: not a terminal: printing JSON lines (as --headless)", file=sys.stderr)


def run_headless(config: RunConfig, *, phases_only: bool = False) -> int:
    """A session printing JSON lines; commands from stdin (or ``--commands``) when coached."""
    from psoas_sense.session.loop import run_session
    from psoas_sense.session.result import Stopped
    from psoas_sense.session.setup import make_coach, make_sinks, open_source
    from psoas_sense.session.sinks import JsonPrinter

    source = open_source(config)
    header = getattr(source, "header", None)
    coach = make_coach(config, header)
    if config.loop and coach is None and config.duration_s is None:
        raise PsoasError("--loop needs --protocol or --duration, or it would never end")
    commands = command_input(config) if coach is not None else None
    sinks = [JsonPrinter(phases_only=phases_only), *make_sinks(config, coach, header)]

    async def go() -> int:
        result = await run_session(source, signal=config.signal, sinks=sinks, coach=coach, commands=commands,
                                   duration_s=config.duration_s)
        if result.stopped_by is Stopped.LINK_LOST:
            print(f"{PROG}: error: lost the sensor: no link for {config.reconnect_timeout_s:g} s, gave up "
                  "(what was done is saved)", file=sys.stderr)
            return LINK_LOST_EXIT
        if result.stopped_by is Stopped.OUTPUT_CLOSED:
            print(f"{PROG}: the output was closed; session ended, recording and history closed", file=sys.stderr)
        return 0

    return run_with_signals(go)


def run(config: RunConfig, tui: TuiRunner | None) -> int:
    """The terminal UI when there is one, both ends are a terminal and not ``--headless``; else JSON lines."""
    if tui is not None and not config.headless and tui_possible(tui):
        return tui(config, None)
    if not config.headless:
        no_tui_notice()
    return run_headless(config)

