"""SIGTERM, SIGHUP (the terminal closing) and SIGINT in the terminal UI: the session is closed
first (recording trailer written, history ended as stopped by the system), then the app leaves.

When the terminal is gone (its window closed), what is still drawn goes to /dev/null, and the
app leaves once the session and the history's writer are done, without waiting on a terminal
that will never answer (Textual's output thread would block forever).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from typing import Any


def install_signal_handlers(app: Any) -> None:
    """Make SIGTERM, SIGHUP and SIGINT end ``app``'s session cleanly (``app.signalled`` says which)."""
    loop = asyncio.get_running_loop()
    for name in ("SIGTERM", "SIGHUP", "SIGINT"):
        sig = getattr(signal, name, None)
        if sig is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, _on_signal, app, name)


def _on_signal(app: Any, name: str) -> None:
    if app.signalled is not None:
        return
    app.signalled = name
    gone = terminal_gone()
    if gone:  # what is still drawn goes nowhere, instead of failing on the dead terminal
        with contextlib.suppress(OSError):
            null = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(null)
    asyncio.ensure_future(_stop(app, 130 if name == "SIGINT" else 0, gone))


async def _stop(app: Any, code: int, gone: bool) -> None:
    for worker in list(app.workers):
        if worker.group == "source":
            worker.cancel()
            with contextlib.suppress(Exception):
                await worker.wait()
    app.audio.close()
    if gone:  # the terminal closed: nothing to restore, and Textual would wait on it forever
        await asyncio.to_thread(_finish_writers)
        os._exit(code)
    app.exit(code)


def terminal_gone() -> bool:
    """The terminal hung up (its window closed): its settings can no longer be read."""
    import termios

    try:
        termios.tcgetattr(sys.__stdin__.fileno() if sys.__stdin__ is not None else 0)
    except (OSError, termios.error, ValueError):
        return True
    return False


def _finish_writers() -> None:
    """Let the history's writer threads finish their last save (they never take long)."""
    for thread in threading.enumerate():
        if thread.name == "history-writer":
            thread.join(10.0)
