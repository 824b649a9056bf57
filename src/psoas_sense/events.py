"""Typed outputs of the core: every event a session produces, defined once.

The detector's events (:class:`~psoas_sense.model.BreathEvent`,
:class:`~psoas_sense.model.SignalNotice`) and the source's :class:`~psoas_sense.model.Status`
live in :mod:`psoas_sense.model` with the frames; this module adds what the coach decides
(cues, stages, holds, sides, pain stops, the session's end and its summary), the user's
commands, and the union :data:`SessionEvent` that crosses every layer: the session loop hands
these to its sinks (JSON printer, recorder, history, terminal UI, sound), the session view
folds them (:mod:`psoas_sense.view`), and one serializer (:mod:`psoas_sense.serialize`) turns
them into the JSON-lines contract. Nothing outside the serializer reads an event as a dict.

All times are session seconds (``t_s``); units are in the field names. Pure: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from psoas_sense.model import BreathEvent, SignalNotice, Status
from psoas_sense.records import BreathRecord, HoldSummary, PainRecord, SessionSummary, SideSummary, typed
from psoas_sense.vocab import (
    COMMAND_NAMES,
    BreathPhase,
    BreathSource,
    Command,
    CueKind,
    CueReason,
    Ending,
    HoldKind,
    PacePhase,
    Stage,
)

__all__ = ["COMMAND_NAMES", "BreathRecord", "Command", "HoldSummary", "PainRecord", "SessionSummary", "SideSummary"]


HoldClock = Literal["runs"]
"""What a hold's clock does through a sensor drop (a cue's ``hold_clock``): it ``runs`` on."""


@dataclass(frozen=True, slots=True)
class PacerSpec:
    """The rhythm of paced breathing, seconds per phase."""

    inhale_s: float
    """Breathing in."""
    hold_in_s: float
    """Pause after breathing in."""
    exhale_s: float
    """Breathing out."""
    hold_out_s: float
    """Pause after breathing out."""

    def phase_s(self, phase: PacePhase) -> float:
        """How long one phase lasts, seconds."""
        return {"inhale": self.inhale_s, "hold_in": self.hold_in_s, "exhale": self.exhale_s,
                "hold_out": self.hold_out_s}[phase]


@dataclass(frozen=True, slots=True)
class SafetyChecked:
    """The answer to the safety check, stated at the start of every coached session."""

    t_s: float
    """Session seconds."""
    status: str
    """``cleared``, ``conditions``, ``unanswered`` or ``simulated``."""
    conditions: tuple[str, ...]
    """Conditions that apply (keys of :data:`psoas_sense.coach.CONDITIONS`)."""
    text: str
    """The not-medical-advice notice."""


@dataclass(frozen=True, slots=True)
class ProtocolChanged:
    """A massage protocol was replaced by breathing practice (the safety check did not clear it)."""

    t_s: float
    """Session seconds."""
    requested: str
    """The protocol asked for."""
    protocol: str
    """The protocol practised instead (``breathing``)."""
    reason: str
    """The safety status that caused it."""
    text: str
    """Why, in plain words, with the advice to see a professional."""


@dataclass(frozen=True, slots=True)
@typed(kind=CueKind, stage=Stage, source=BreathSource, reason=CueReason)
class Cue:
    """An instruction to the person, spoken or shown (``sink deeper``, ``breathe in``...)."""

    t_s: float
    """Session seconds at which the coach decided it."""
    kind: CueKind
    """What the cue is (``sink_deeper``, ``pace_exhale``, ``switch_sides``...); what it means is
    ``kind.meaning``."""
    text: str
    """The words."""
    stage: Stage | None
    """The stage the coach is in (None: not said, in a hand-made marker)."""
    side: str | None = None
    """The side being worked, if any."""
    breath_t_s: float | None = None
    """The breath phase change it answers (detected or paced), session seconds."""
    source: BreathSource | None = None
    """``detector`` or ``pacer``: what the cue follows."""
    to_side: str | None = None
    """On a side switch: the side to go to."""
    reason: CueReason | None = None
    """Why (``breath_hold``, ``no_breath``, ``signal_lost``, ``signal_poor``, ``motion``, ``rr_only``,
    ``confident``, ``reconnected``, ``gap``...)."""
    since_s: float | None = None
    """How long the evidence ran, seconds: without a breath (``keep_breathing``), without a
    confident breath (a hand-over to the pacer), on the pacer (taking the lead back), the sensor
    down (``settling``)."""
    count: int | None = None
    """Breath events behind a change of lead: unsure ones in a row (hand-over), confident ones in
    a row (taking back)."""
    hold_clock: HoldClock | None = None
    """On a sensor drop during a hold: ``runs`` (the hold keeps its time: it never outlasts the
    guide's longest hold because the sensor dropped)."""
    rate_bpm: float | None = None
    """The breathing rate that prompted it, breaths per minute."""
    settled_rate_bpm: float | None = None
    """The settled rate it is compared with, breaths per minute."""


@dataclass(frozen=True, slots=True)
@typed(stage=Stage)
class StageEntered:
    """The practice moved to a new stage (what to do now, for as long as the stage lasts)."""

    t_s: float
    """Session seconds."""
    stage: Stage
    """``calibration``, ``preparation``, ``locate``, ``static``, ``active``, ``repress``,
    ``tool_position``, ``tool``, ``rest``, ``switch``, ``wait``, ``breathing``, ``finish``."""
    text: str
    """What to do, in plain words."""
    side: str | None = None
    """The side being worked, if any."""
    point: int | None = None
    """Which spot on this side (1, 2...)."""
    move: str | None = None
    """On ``repress``: ``new`` spot or ``same`` spot."""
    to_side: str | None = None
    """On ``switch``: the side to go to."""
    pacer: PacerSpec | None = None
    """On ``breathing``: the rhythm."""
    duration_s: float | None = None
    """On ``breathing``: how long the practice lasts."""


@dataclass(frozen=True, slots=True)
class SideStarted:
    """Work on one side begins."""

    t_s: float
    """Session seconds."""
    side: str
    """``left`` or ``right``."""
    index: int
    """0 for the first side, 1 for the second."""
    target_s: float
    """How long this side should take, seconds."""


@dataclass(frozen=True, slots=True)
@typed(kind=HoldKind)
class HoldStarted:
    """A hold begins (static pressure, active release, or a tool hold)."""

    t_s: float
    """Session seconds."""
    kind: HoldKind
    """``static``, ``active`` or ``tool``."""
    side: str | None
    """The side."""
    point: int
    """Which spot on this side."""
    target_s: float | None = None
    """How long the hold should last (None for active release, which ends on a breath)."""


@dataclass(frozen=True, slots=True)
@typed(kind=HoldKind, ended_by=Ending)
class HoldEnded:
    """A hold ended, with its figures (the same figures every report shows)."""

    t_s: float
    """Session seconds of the end."""
    kind: HoldKind
    """``static``, ``active`` or ``tool``."""
    side: str | None
    """The side."""
    point: int
    """Which spot on this side."""
    t_start_s: float
    """When the hold began, session seconds."""
    duration_s: float
    """Length of the hold, seconds."""
    breaths: int
    """Exhales during the hold."""
    mean_rate_bpm: float | None
    """Breathing rate over the hold's exhales, breaths per minute (None under two exhales)."""
    cues: int
    """Cues given during the hold."""
    ended_by: Ending
    """``time``, ``softened``, ``released``, ``next``, ``side_end``, ``pain``, ``quit``, ``end_of_input``..."""
    softened: bool
    """The person said the spot softened."""
    exhales_s: tuple[float, ...] = ()
    """Times of the hold's exhales, session seconds (kept for reports, not printed)."""
    exhale_share: float | None = None
    """Share of the breaths spent breathing out (0-1), over the detected breaths."""
    hr_bpm: float | None = None
    """Mean heart rate over the beats, beats per minute (None without RR)."""
    rmssd_ms: float | None = None
    """RMSSD over the beats, ectopic and missed beats removed, ms (None without RR)."""


@dataclass(frozen=True, slots=True)
@typed(ended_by=Ending)
class SideEnded:
    """Work on one side ended, with its figures."""

    t_s: float
    """Session seconds of the end."""
    side: str
    """``left`` or ``right``."""
    index: int
    """0 for the first side, 1 for the second."""
    t_start_s: float
    """When the side began, session seconds."""
    duration_s: float
    """Time on this side, seconds."""
    target_s: float
    """The time it should have taken, seconds."""
    holds: int
    """Holds on this side."""
    hold_s: float
    """Time in holds on this side, seconds."""
    breaths: int
    """Exhales during this side's holds."""
    ended_by: Ending
    """``time``, ``next``, ``side_cap``, ``pain``, ``quit``, ``end_of_input``..."""
    mean_rate_bpm: float | None = None
    """Breathing rate over the side's hold exhales, breaths per minute."""
    exhale_share: float | None = None
    """Share of the breaths spent breathing out (0-1), over the detected breaths."""
    hr_bpm: float | None = None
    """Mean heart rate over the beats, beats per minute (None without RR)."""
    rmssd_ms: float | None = None
    """RMSSD over the beats, ectopic and missed beats removed, ms (None without RR)."""


@dataclass(frozen=True, slots=True)
@typed(stage=Stage, hold=HoldKind)
class PainStopped:
    """The person asked to stop on pain: everything stops at once."""

    t_s: float
    """Session seconds at which it was asked."""
    stage: Stage | None
    """The stage the session was in (None: not said, in a hand-made marker)."""
    side: str | None
    """The side being worked, if any."""
    hold: HoldKind | None
    """The kind of hold under way, if any."""
    text: str
    """The advice: stop, do not push through pain, see a professional."""


@dataclass(frozen=True, slots=True)
@typed(stage=Stage)
class PacedPhase:
    """A breath phase paced by the clock while the pacer leads (the coach counts it as a breath of
    the hold under way, as it would a detected one)."""

    t_s: float
    """Session seconds of the pacer's phase change."""
    kind: BreathPhase
    """``exhale`` or ``inhale``."""
    stage: Stage | None
    """The stage the coach is in (None: not said)."""
    side: str | None = None
    """The side being worked, if any."""


@dataclass(frozen=True, slots=True)
class PacingScored:
    """In paced breathing: how one detected exhale lined up with the pacer."""

    t_s: float
    """Session seconds."""
    breath_t_s: float
    """The detected exhale, session seconds."""
    error_s: float
    """Its distance from the pacer's exhale, seconds (negative: early)."""
    score: float
    """This breath's adherence, 0-1."""
    adherence_pct: float
    """Adherence so far, percent."""


@dataclass(frozen=True, slots=True)
class FollowingScored:
    """While the pacer leads: how closely the heart's rhythm follows it (an RR-only strap's view
    of the breath; see :class:`psoas_sense.insight.RsaLock`)."""

    t_s: float
    """Session seconds (the first beat after the paced exhale it is stated at)."""
    breath_t_s: float
    """The pacer's exhale onset it is stated at, session seconds."""
    locked: float
    """Share of the heart rate's variation at the pacer's rhythm, 0-1."""
    amplitude_bpm: float
    """Heart-rate swing at the pacer's rhythm, trough to peak, beats per minute."""
    lag_s: float
    """Heart-rate peak after the pacer's "breathe out", seconds (negative: before)."""
    window_s: float
    """Seconds of beats behind the figure."""
    beats: int
    """Beats behind the figure."""


@dataclass(frozen=True, slots=True)
@typed(command=Command)
class Note:
    """Something said in answer to a command that had nothing to act on."""

    t_s: float
    """Session seconds."""
    command: Command
    """The command."""
    text: str
    """What was said."""


@dataclass(frozen=True, slots=True)
class ErrorReported:
    """Something went wrong that the session survives (history not saved, bad command...)."""

    t_s: float
    """Session seconds."""
    message: str
    """One line saying what."""


@dataclass(frozen=True, slots=True)
class CommandRejected:
    """A command line that could not be read (unknown name, bad ``@T``)."""

    t_s: float
    """Session seconds."""
    detail: str
    """One line saying what was wrong."""


@dataclass(frozen=True, slots=True, eq=False)
class BreathingTrace:
    """The last seconds of the extracted breathing signal, for a screen's trace (not printed)."""

    t_s: float
    """Session seconds of the newest sample."""
    times_s: tuple[float, ...]
    """Sample times, session seconds."""
    values: tuple[float, ...]
    """The breathing signal the detector reads (arbitrary units)."""


@dataclass(frozen=True, slots=True)
class HeartRate:
    """The heart rate of the moment, from the strap's reading or its RR intervals (at most once a second)."""

    t_s: float
    """Session seconds."""
    hr_bpm: float
    """Beats per minute."""
    rr_ms: tuple[float, ...] = ()
    """The RR intervals since the previous heart-rate event, milliseconds (empty without RR)."""


@dataclass(frozen=True, slots=True)
@typed(ended_by=Ending)
class SessionEnded:
    """The session is over; nothing follows but the source's own closing status."""

    t_s: float
    """Session seconds."""
    ended_by: Ending
    """``done``, ``quit``, ``pain``, ``end_of_input``, ``link_lost``, ``signal``, ``interrupt``,
    ``input_error``, ``output_closed``."""
    summary: SessionSummary
    """What the session did."""


CoachEvent = (
    SafetyChecked
    | ProtocolChanged
    | Cue
    | StageEntered
    | SideStarted
    | HoldStarted
    | HoldEnded
    | SideEnded
    | PainStopped
    | PacedPhase
    | PacingScored
    | FollowingScored
    | Note
    | ErrorReported
    | SessionEnded
)
"""Everything the coach decides."""

SessionEvent = BreathEvent | SignalNotice | Status | HeartRate | BreathingTrace | CoachEvent | CommandRejected
"""Everything that crosses from the session loop to its sinks."""

MARKED_EVENTS: tuple[type, ...] = (
    SafetyChecked,
    ProtocolChanged,
    StageEntered,
    Cue,
    SideStarted,
    SideEnded,
    HoldStarted,
    HoldEnded,
    PainStopped,
    PacedPhase,
    PacingScored,
    FollowingScored,
    SessionEnded,
)
"""Coach events that the recorder also writes into the recording as markers: everything a report
of the recording reads besides what the detector finds again (cues too, so it can show how each
cue lined up with the exhale; the pacer's breaths and scores)."""

COMMIT_EVENTS: tuple[type, ...] = (HoldEnded, SideEnded, PainStopped, SessionEnded)
"""Events after which the history is committed at once."""
