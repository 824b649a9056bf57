"""Messages of the terminal UI, named for what happened."""

from __future__ import annotations

from textual.message import Message

from psoas_sense.events import SessionEvent


class EventEmitted(Message):
    """The session produced a typed event (breath, status, cue, hold...)."""

    def __init__(self, event: SessionEvent) -> None:
        super().__init__()
        self.event = event


class DataTimeAdvanced(Message):
    """Session time moved on (drives the hold and side timers); stale ones may be dropped."""

    def __init__(self, t_s: float) -> None:
        super().__init__()
        self.t_s = t_s

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DataTimeAdvanced)


class SessionFinished(Message):
    """The session loop finished (source ended, coach done, quit or cancelled)."""
