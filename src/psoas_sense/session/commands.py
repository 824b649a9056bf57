"""The person's commands as the session loop takes them: typed objects, never strings.

:class:`UserCommand` is what is asked (``pain``, ``quit``, ``soften``, ``next``) and when: the
terminal UI sends these for its keys. Headless, commands come as text lines (stdin, a
``--commands`` file), one per line; :func:`parse_command_line` and :func:`parsed_lines` read
them at the edge, so the loop never parses a string. A line may start with ``@T`` to apply the
command at session time ``T`` (scripts and tests); otherwise it applies at once, stamped with the
session time at which it was read. A line that cannot be read becomes a :class:`RejectedLine`,
which the loop reports (``CommandRejected``) at the session time it arrives.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass

from psoas_sense.vocab import COMMAND_NAMES, Command


@dataclass(frozen=True, slots=True)
class UserCommand:
    """A command for the session loop."""

    command: Command
    """What is asked."""
    at_s: float | None = None
    """Session time to apply it at (``@T``), or None for at once."""


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A command line that could not be read (an unknown name, a bad ``@T``)."""

    detail: str
    """One line saying what was wrong."""


CommandInput = UserCommand | RejectedLine
"""What the session loop reads from its commands."""


def parse_command_line(line: str) -> UserCommand | RejectedLine | None:
    """Parse one input line: a command, a rejected line, or None for a blank line or a comment."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    at: float | None = None
    if text.startswith("@"):
        head, _, rest = text.partition(" ")
        try:
            at = float(head[1:])
        except ValueError:
            return RejectedLine(f"bad time in command line {text[:80]!r}")
        if not math.isfinite(at):
            return RejectedLine(f"bad time in command line {text[:80]!r}")
        text = rest.strip()
    cmd = Command.parse(text)
    if cmd is None:
        return RejectedLine(f"unknown command {text[:80]!r} (use {', '.join(sorted(COMMAND_NAMES))})")
    return UserCommand(cmd, at)


async def parsed_lines(lines: AsyncIterable[str]) -> AsyncIterator[CommandInput]:
    """Command lines (stdin, a ``--commands`` file) as the loop takes them; blank lines and
    comments are left out."""
    async for line in lines:
        parsed = parse_command_line(line)
        if parsed is not None:
            yield parsed


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
