"""Small pieces shared by the subcommand modules: argument types and the signal-aware runner."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable

PROG = "psoas-sense"


def speed_arg(text: str) -> float | None:
    """``--speed``: a positive number (1 = real pace) or ``max`` (None)."""
    if text == "max":
        return None
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"speed must be a number or 'max', not {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError("speed must be positive")
    return v


def seconds_arg(text: str) -> float:
    """A positive number of seconds."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
    if not v > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return v


def run_with_signals(
    coro_factory: Callable[[], Awaitable[int]],
    stopped: str = "recording and history closed",
) -> int:
    """Run a session coroutine; SIGTERM and Ctrl-C cancel it so sources shut down cleanly
    (the strap's streams stopped, then disconnected; recordings and history closed)."""

    async def main() -> int:
        task = asyncio.ensure_future(coro_factory())
        loop = asyncio.get_running_loop()
        got: list[str] = []

        def on_signal(name: str) -> None:
            got.append(name)
            task.cancel()

        installed = []
        for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
            try:
                loop.add_signal_handler(sig, on_signal, name)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        try:
            return int(await task)
        except asyncio.CancelledError:
            if got:
                print(f"{PROG}: stopped by {got[0]}; {stopped}", file=sys.stderr)
                return 0 if got[0] == "SIGTERM" else 130
            raise
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    return asyncio.run(main())
