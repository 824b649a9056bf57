"""Drive the installed `psoas-sense` terminal UI in a pseudo-terminal, as a person would.

Standard library only, so it runs beside a venv that has nothing but `pip install .`.
Usage: python drive_tui.py COLUMNSxROWS SCRIPT -- COMMAND...

SCRIPT is a comma-separated list of steps: ``wait:TEXT`` (wait until TEXT appears on the
screen since the last key), ``key:NAME`` (enter, escape, or a character), ``sleep:S``. Fails
(exit 1) when a step times out, when anything prints a traceback, or when the app exits
non-zero; prints what the screen showed last.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import signal
import struct
import sys
import termios
import time

ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
KEYS = {"enter": b"\r", "escape": b"\x1b", "space": b" "}
TIMEOUT_S = 90.0


def main() -> int:
    size, script, _, *command = sys.argv[1:]
    cols, rows = (int(x) for x in size.split("x"))
    pid, fd = pty.fork()
    if pid == 0:  # the child: the app, on the pseudo-terminal
        os.environ["TERM"] = "xterm-256color"
        os.execvp(command[0], command)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    raw = bytearray()
    seen = 0  # where the text read since the last key starts

    def text(start: int = 0) -> str:
        return ANSI.sub(b"", bytes(raw[start:])).decode("utf-8", "replace")

    def pump(wait_s: float) -> bool:
        """Read what the app wrote for up to ``wait_s``; False once it has exited."""
        ready, _, _ = select.select([fd], [], [], wait_s)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                return False
            if not chunk:
                return False
            raw.extend(chunk)
        return True

    def fail(why: str) -> int:
        print(f"drive_tui: {why}\n--- the last screen text:\n{text(max(0, len(raw) - 6000))[-3000:]}")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return 1

    for step in script.split(","):
        what, _, arg = step.partition(":")
        if what == "wait":
            deadline = time.monotonic() + TIMEOUT_S
            while arg not in text(seen):
                if time.monotonic() > deadline or not pump(0.2):
                    return fail(f"{arg!r} never showed")
        elif what == "key":
            time.sleep(0.3)
            os.write(fd, KEYS.get(arg, arg.encode()))
            seen = len(raw)
        elif what == "sleep":
            end = time.monotonic() + float(arg)
            while time.monotonic() < end:
                pump(0.1)
        if "Traceback" in text():
            return fail("a traceback")
    deadline = time.monotonic() + TIMEOUT_S
    while pump(0.2):
        if time.monotonic() > deadline:
            return fail("the app did not exit")
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if "Traceback" in text() or "Error" in text().split("psoas-sense")[-1][-400:]:
        return fail("a traceback or an error at the end")
    if code != 0:
        return fail(f"exit status {code}")
    print(f"drive_tui: {size}: {len(script.split(','))} steps, no traceback, exit 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
