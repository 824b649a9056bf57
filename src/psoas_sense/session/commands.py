"""The person's commands as the session loop reads them: ``pain``, ``quit``, ``soften``, ``next``.

One command per line (stdin in headless mode, a ``--commands`` file, the terminal UI's keys).
A line may start with ``@T`` to apply the command at session time ``T`` (scripts and tests);
otherwise it applies at once, stamped with the session time at which it was read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from psoas_sense.events import COMMAND_NAMES, Command


@dataclass(frozen=True, slots=True)
class CommandLine:
    """One parsed command line."""

    command: Command
    """What is asked."""
    at_s: float | None = None
    """Session time to apply it at (``@T``), or None for at once."""


def parse_command_line(line: str) -> CommandLine | str | None:
    """Parse one input line: a :class:`CommandLine`, an error text, or None for a blank or comment."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    at: float | None = None
    if text.startswith("@"):
        head, _, rest = text.partition(" ")
        try:
            at = float(head[1:])
        except ValueError:
            return f"bad time in command line {text[:80]!r}"
        if not math.isfinite(at):
            return f"bad time in command line {text[:80]!r}"
        text = rest.strip()
    cmd = Command.parse(text)
    if cmd is None:
        return f"unknown command {text[:80]!r} (use {', '.join(sorted(COMMAND_NAMES))})"
    return CommandLine(cmd, at)


class TimedCommands:
    """``@T`` commands waiting for session time to reach them, in time order (ties in arrival order)."""

    def __init__(self) -> None:
        self._pending: list[tuple[float, int, Command]] = []
        self._n = 0

    def add(self, at_s: float, command: Command) -> None:
        self._pending.append((at_s, self._n, command))
        self._n += 1
        self._pending.sort()

    def due(self, t_s: float) -> list[tuple[float, Command]]:
        """Commands due at or before ``t_s``, removed from the queue, oldest first."""
        out: list[tuple[float, Command]] = []
        while self._pending and self._pending[0][0] <= t_s:
            at, _, cmd = self._pending.pop(0)
            out.append((at, cmd))
        return out

    def next_due_s(self) -> float | None:
        """The time of the next waiting command, or None."""
        return self._pending[0][0] if self._pending else None

    def __len__(self) -> int:
        return len(self._pending)
