"""What one run of the session loop produced, and why it stopped."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Stopped(enum.StrEnum):
    """Why the session loop stopped (:attr:`SessionResult.stopped_by`); how the *session* ended is
    the coach's :class:`~psoas_sense.vocab.Ending`."""

    END = "end"
    """The source ran out."""
    LINK_LOST = "link_lost"
    """The source gave up on its link."""
    DURATION = "duration"
    """The time asked for (``--duration``) passed."""
    COACH = "coach"
    """The coach's session is over."""
    QUIT = "quit"
    """Asked to quit (or a pain stop) with no coach."""
    OUTPUT_CLOSED = "output_closed"
    """Nobody reads the printed lines any more."""
    CANCELLED = "cancelled"
    """Cancelled (a signal, the front end closing)."""


@dataclass
class SessionResult:
    """What a run produced, for callers and tests (counts only: a long run's events go to the sinks,
    never into memory; a :class:`~psoas_sense.session.sinks.Collector` keeps them when asked)."""

    lines: int = 0
    """Events handed to the sinks."""
    items: int = 0
    """Items the source gave."""
    last_t_s: float = 0.0
    """Newest session time seen."""
    decode_errors: int = 0
    """Notifications the decoders refused."""
    stopped_by: Stopped = Stopped.END
    """Why the loop stopped."""
