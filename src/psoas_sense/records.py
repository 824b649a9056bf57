"""What a session did, as records: the summary printed with its end, and the breaths and pain
stops the history keeps. Frozen dataclasses, units in the field names. Pure.

Their words are the vocabularies of :mod:`psoas_sense.vocab`: a record built from plain strings
(a line read back, a row of the history) holds the members (:func:`typed`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from psoas_sense.vocab import BreathPhase, BreathSource, Ending, HoldKind, Stage

R = TypeVar("R")


def typed_words(record: object, **vocabularies: type[enum.StrEnum]) -> None:
    """Turn the named fields of a frozen record into members of their vocabularies, in place (None
    stays None).

    Raises:
        ValueError: a word that is not a member (the serializer refuses such a line).
    """
    for name, vocabulary in vocabularies.items():
        word = getattr(record, name)
        if word is not None and type(word) is not vocabulary:
            object.__setattr__(record, name, vocabulary(word))


def typed(**vocabularies: type[enum.StrEnum]) -> Callable[[type[R]], type[R]]:
    """A frozen record whose named fields hold members of their vocabularies, whatever they were
    built with (:func:`typed_words` as its ``__post_init__``; put it under ``@dataclass``)."""

    def decorate(cls: type[R]) -> type[R]:
        def __post_init__(self: object) -> None:  # noqa: N807 - the dataclass hook
            typed_words(self, **vocabularies)

        cls.__post_init__ = __post_init__  # type: ignore[attr-defined]
        return cls

    return decorate


@dataclass(frozen=True, slots=True)
@typed(ended_by=Ending)
class SideSummary:
    """One side in a session summary."""

    side: str
    """``left`` or ``right``."""
    duration_s: float
    """Time on this side, seconds."""
    holds: int
    """Holds on this side."""
    hold_s: float
    """Time in holds, seconds."""
    breaths: int
    """Exhales in holds."""
    ended_by: Ending
    """How the side ended."""


@dataclass(frozen=True, slots=True)
@typed(kind=HoldKind, ended_by=Ending)
class HoldSummary:
    """One hold in a session summary."""

    kind: HoldKind
    """``static``, ``active`` or ``tool``."""
    side: str | None
    """The side."""
    point: int
    """Which spot."""
    duration_s: float
    """Length, seconds."""
    breaths: int
    """Exhales."""
    ended_by: Ending
    """How it ended."""


@dataclass(frozen=True, slots=True)
@typed(ended_by=Ending)
class SessionSummary:
    """What a session did: printed with its end, saved in the history, shown by reports."""

    protocol: str
    """The protocol asked for."""
    practised: str
    """The protocol practised (``breathing`` when the safety check did not clear massage)."""
    safety: str
    """The safety status."""
    ended_by: Ending | None
    """How it ended (None while it runs)."""
    duration_s: float
    """Length, seconds."""
    settled_rate_bpm: float | None
    """The breathing rate once settled in preparation, breaths per minute."""
    breaths: int
    """Detected exhales."""
    mean_rate_bpm: float | None
    """Breathing rate over all detected exhales, breaths per minute."""
    paced_breaths: int
    """Exhales paced by the clock while the signal was lost."""
    fallback_s: float
    """Time spent following the pacer because the signal was lost or poor, seconds."""
    cues: int
    """Cues given."""
    sides: tuple[SideSummary, ...]
    """Each side."""
    holds: tuple[HoldSummary, ...]
    """Each hold."""
    pain_stops: int
    """Pain stops (0 or 1)."""
    adherence_pct: float | None = None
    """Paced breathing: adherence to the pacer, percent (None: not scored)."""
    has_adherence: bool = False
    """Whether the session scores adherence at all (breathing practice)."""
    exhale_share: float | None = None
    """Share of the breaths spent breathing out (0-1), over the detected breaths."""
    hr_bpm: float | None = None
    """Mean heart rate over the beats, beats per minute (None without RR)."""
    rmssd_ms: float | None = None
    """RMSSD over the beats, ectopic and missed beats removed, ms (None without RR)."""


@dataclass(frozen=True, slots=True)
@typed(source=BreathSource, stage=Stage)
class BreathRecord:
    """One breath phase as the coach saw it (history and reports): detected or paced."""

    t_s: float
    """Time of the phase change, session seconds."""
    kind: BreathPhase
    """``exhale`` or ``inhale``."""
    detected_at_s: float
    """When it was known, session seconds."""
    signal: str
    """``resp``, ``acc``, ``rr``, or ``pacer``."""
    rate_bpm: float | None
    """Breathing rate at the time, when known."""
    quality: float | None
    """Signal quality 0-1, when known."""
    source: BreathSource
    """``detector`` or ``pacer``."""
    stage: Stage | None
    """The coach's stage."""
    side: str | None
    """The side being worked."""


@dataclass(frozen=True, slots=True)
@typed(stage=Stage, hold=HoldKind)
class PainRecord:
    """A pain stop as saved in the history."""

    t_s: float
    """Session seconds."""
    stage: Stage | None
    """The stage."""
    side: str | None
    """The side."""
    hold: HoldKind | None
    """The hold under way."""
