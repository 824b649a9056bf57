"""Messages of the terminal UI, named for what happened."""

from __future__ import annotations

from typing import Any

from textual.message import Message


class LineEmitted(Message):
    """The session produced an output line (event, status, cue...)."""

    def __init__(self, line: dict[str, Any]) -> None:
        super().__init__()
        self.line = line


class DataTimeAdvanced(Message):
    """Data time moved on (drives the hold and side timers); stale ones may be dropped."""

    def __init__(self, t_s: float) -> None:
        super().__init__()
        self.t_s = t_s

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DataTimeAdvanced)


class SessionEnded(Message):
    """The session loop finished (source ended, coach done, or cancelled)."""
