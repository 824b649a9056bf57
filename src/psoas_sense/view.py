"""The session view: what a screen shows now, as a pure function of the event stream.

:func:`fold` takes the view so far and one event and returns the next view; :func:`at` moves it to a
later session time. The terminal UI renders only this; tests read it at chosen times of a replay. The
instruction (what the coach or the pacer says) and the detected phase are kept apart: a banner never
contradicts the cue. Pure: no clock, no I/O."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from psoas_sense.events import (
    BreathingTrace,
    Cue,
    ErrorReported,
    FollowingScored,
    HeartRate,
    HoldEnded,
    HoldStarted,
    PacerSpec,
    PacingScored,
    PainStopped,
    ProtocolChanged,
    SafetyChecked,
    SessionEnded,
    SessionEvent,
    SideEnded,
    SideStarted,
    StageEntered,
)
from psoas_sense.model import BreathEvent, SignalNotice, Status
from psoas_sense.vocab import (
    LINK_DOWN,
    BreathSource,
    Closing,
    CueKind,
    CueReason,
    Ending,
    HoldKind,
    Instruction,
    LinkState,
    Meaning,
    Notice,
    PacePhase,
    ShownPhase,
    Stage,
)

_L = LinkState
SOURCE_STATE_WORDS: dict[LinkState | str, str] = {
    _L.STARTING: "starting", _L.CONNECTING: "connecting to the sensor", _L.CONNECTED: "connected",
    _L.WAITING_FOR_ACC: "waiting for the accelerometer (up to 30 s)", _L.STREAMING: "receiving",
    _L.RECONNECTING: "reconnecting: follow my cues", _L.RECONNECTED: "reconnected",
    _L.LOST: "signal lost: follow my cues", _L.STOPPED: "stopped", _L.ENDED: "session over",
    Notice.SIGNAL_LOST: "signal lost: follow my cues",
}
"""Each source state in plain words (and the detector's gap, said the same as a lost link)."""

PHASE_WORDS: dict[str, str] = {"exhale": "breathing out", "inhale": "breathing in"}
"""The detected phase, described (never worded as an instruction)."""

GOOD_QUALITY = 0.5
"""Quality at or above which an event is good enough to cue on."""
STALE_AFTER_S = 2.5
"""No data (trace, beat or breath) for this long while session time runs on: the sensor is down."""
MAX_PROBLEMS = 3
"""Survived errors kept for the notices line."""
FOLLOW_WORDS = ((0.5, "closely"), (0.2, "partly"), (0.0, "not yet"))
"""Share of the heart rate's variation at the pacer's rhythm -> how the heart follows it, in a word."""


@dataclass(frozen=True, slots=True)
class SessionView:
    """Everything the session screen shows, at one session time."""

    t_s: float = 0.0
    """Session time of the view."""
    instruction: str = "Waiting for your breathing…"
    """What to do now, from the coach's latest cue or stage (or the pacer)."""
    instruction_kind: Instruction | None = None
    """The cue kind, stage or close behind the instruction (its ``meaning`` sets the band's colour)."""
    instruction_t_s: float | None = None
    """When the instruction was given."""
    stage: Stage | Closing | None = None
    """The coach's stage (``pain_stop`` after a pain stop)."""
    stage_text: str = ""
    """The stage's own words."""
    phase: ShownPhase = ""
    """The detected phase: ``exhale`` or ``inhale`` (empty: none yet)."""
    phase_t_s: float | None = None
    """When the detected phase began."""
    hold_kind: HoldKind | None = None
    """The hold under way (``static``, ``active``, ``tool``), or None."""
    hold_start_s: float | None = None
    """When it began."""
    hold_target_s: float | None = None
    """Its target length."""
    hold_breaths: int = 0
    """Exhales so far in this hold."""
    side: str | None = None
    """The side being worked."""
    side_start_s: float | None = None
    """When it began."""
    side_target_s: float | None = None
    """Its target length."""
    sides_done: tuple[SideEnded, ...] = ()
    """Sides already finished."""
    holds_done: tuple[HoldEnded, ...] = ()
    """Holds already finished."""
    rate_bpm: float | None = None
    """Breathing rate, breaths per minute."""
    rate_history: tuple[float, ...] = ()
    """Recent breathing rates, oldest first (for a trace), at most :data:`RATE_HISTORY`."""
    hr_bpm: float | None = None
    """Heart rate, beats per minute."""
    device_rate_bpm: float | None = None
    """The breathing rate the device computes itself (a belt), None while it has none."""
    has_device_rate: bool = False
    """The device reports its own breathing rate (a GDX-RB belt): show it beside ours."""
    quality: float | None = None
    """Signal quality of the latest detected event, 0-1."""
    following_pacer: bool = False
    """The coach follows its own pacer (signal lost or poor): cues come from the clock."""
    source_state: LinkState | str = LinkState.STARTING
    """The source's state (as the source wrote it)."""
    signal_lost: bool = False
    """The detector reports a gap in the samples."""
    moving: bool = False
    """The detector reports body motion (no breath is read until it ends)."""
    adherence_pct: float | None = None
    """Paced breathing: adherence so far, percent."""
    protocol_note: str = ""
    """Why the protocol changed (the safety check), when it did."""
    pain: bool = False
    """A pain stop happened."""
    pain_text: str = ""
    """The advice given with it."""
    ended_by: Ending | None = None
    """How the session ended (None while it runs)."""
    end: SessionEnded | None = None
    """The end event with its summary."""
    trace: BreathingTrace | None = None
    """The last seconds of the breathing signal the detector reads."""
    recent_phases: tuple[tuple[float, str], ...] = ()
    """Recent detected phase changes (time, ``exhale``/``inhale``), for marks on the trace."""
    pacer: PacerSpec | None = None
    """Paced breathing: the rhythm."""
    pace_kind: PacePhase | None = None
    """The pacer's phase now: ``inhale``, ``hold_in``, ``exhale``, ``hold_out`` (None: none)."""
    pace_t_s: float | None = None
    """When that pacer phase began."""
    hold_exhales_s: tuple[float, ...] = ()
    """Detected exhale times in the hold under way."""
    hold_rr_ms: tuple[float, ...] = ()
    """RR intervals in the hold under way, milliseconds."""
    coached: bool = False
    """A coach speaks in this session (any stage or cue seen)."""
    instruction_source: BreathSource | None = None
    """What the instruction follows: ``detector``, ``pacer``, or None (a stage, a notice)."""
    instruction_stale: bool = False
    """The breath moved on (or the body moved) since the instruction, and no confident cue came."""
    data_t_s: float | None = None
    """Session time of the newest data (trace, beat or breath), None before any."""
    hold_paused_s: float = 0.0
    """Seconds of the hold under way spent with the sensor down (its clock pauses)."""
    lead_reason: CueReason | None = None
    """Why the pacer leads (the hand-over cue's reason; ``rr_only``: a heart-rate strap, by design)."""
    hold_clock_runs: bool = False
    """The coach keeps the hold's time through the sensor's drop (its cue's ``hold_clock``): no pause."""
    problems: tuple[str, ...] = ()
    """Errors the session survived (history not saved...), newest last, at most :data:`MAX_PROBLEMS`."""
    following: FollowingScored | None = None
    """While the pacer leads: how closely the heart's rhythm follows it (None: not known yet)."""

    @property
    def following_words(self) -> str:
        """The heart's following of the pacer in words (empty while it is not known or the breath leads)."""
        f = self.following
        if f is None or not (self.following_pacer or self.pacer is not None):
            return ""
        word = next(w for floor, w in FOLLOW_WORDS if f.locked >= floor)
        return (f"heart follows the pacer: {word} {100 * f.locked:.0f}% · swing {f.amplitude_bpm:.1f} bpm · "
                f"peak {f.lag_s:+.1f} s from 'out'")

    @property
    def hold_rate_bpm(self) -> float | None:
        """Breathing rate over the hold's exhales so far (the coach's definition)."""
        from psoas_sense.coach.state import rate_of

        return rate_of(self.hold_exhales_s)

    @property
    def hold_rmssd_ms(self) -> float | None:
        """RMSSD over the hold's beats so far (ectopic and missed beats removed), None under 4."""
        from psoas_sense.insight import rmssd

        return rmssd(self.hold_rr_ms) if len(self.hold_rr_ms) >= 4 else None

    @property
    def pace_fraction(self) -> float | None:
        """How far through the pacer's current phase, 0-1 (None without a pacer)."""
        if self.pacer is None or self.pace_t_s is None or not self.pace_kind:
            return None
        length = self.pacer.phase_s(self.pace_kind)
        if length <= 0:
            return 1.0
        return min(1.0, max(0.0, (self.t_s - self.pace_t_s) / length))

    @property
    def expected_hold_exhales(self) -> int | None:
        """About how many exhales the hold under way will take, at the current rate."""
        if self.hold_target_s is None or not self.rate_bpm:
            return None
        return max(1, round(self.hold_target_s * self.rate_bpm / 60.0))

    @property
    def hold_elapsed_s(self) -> float | None:
        """Seconds into the hold under way, without the time the sensor was down."""
        if self.hold_start_s is None:
            return None
        return max(0.0, self.t_s - self.hold_start_s - self.hold_paused_s)

    @property
    def sensor_down(self) -> bool:
        """No data comes: the link is down, the detector saw a gap, or nothing arrived for
        :data:`STALE_AFTER_S` while session time ran on."""
        if self.ended_by is not None:
            return False
        if self.source_state in LINK_DOWN or self.signal_lost:
            return True
        return self.data_t_s is not None and self.t_s - self.data_t_s > STALE_AFTER_S

    @property
    def side_elapsed_s(self) -> float | None:
        """Seconds into the side under way."""
        return None if self.side_start_s is None else max(0.0, self.t_s - self.side_start_s)

    @property
    def phase_words(self) -> str:
        """The detected phase described: ``breathing out``, ``breathing in``, ``moving`` (no
        breath can be read while the body moves), ``no data`` (the sensor is down), or empty."""
        if self.sensor_down:
            return "no data"
        if self.moving:
            return "moving"
        return PHASE_WORDS.get(self.phase, "")

    @property
    def source_words(self) -> str:
        """The source's state in plain words."""
        if self.ended_by is not None:
            return SOURCE_STATE_WORDS[LinkState.ENDED]
        if self.signal_lost and self.source_state in (_L.STREAMING, _L.CONNECTED, _L.RECONNECTED, _L.STARTING):
            return SOURCE_STATE_WORDS[Notice.SIGNAL_LOST]
        return SOURCE_STATE_WORDS.get(self.source_state, self.source_state.replace("_", " "))

    @property
    def phase_sure(self) -> bool:
        """The latest detected phase is one the detector is confident of (quality >= :data:`GOOD_QUALITY`)."""
        return bool(self.phase) and (self.quality is None or self.quality >= GOOD_QUALITY)

    @property
    def sure_phase(self) -> ShownPhase:
        """The detected phase when it can be told (confident, still, sensor up), else empty."""
        return self.phase if self.phase_sure and not self.moving and not self.sensor_down else ""

    @property
    def you_words(self) -> str:
        """The person's breathing as the screen says it: ``breathing out``/``breathing in`` when
        the detector is confident, ``unclear`` when it is not, ``moving``, ``no data``, or empty."""
        if self.ended_by is not None:
            return ""
        words = self.phase_words
        if words in PHASE_WORDS.values() and not self.phase_sure:
            return "unclear"
        return words

    @property
    def shown_quality(self) -> float | None:
        """The quality the meter shows: none while the sensor is down or the body moves."""
        return None if self.sensor_down or self.moving else self.quality

    @property
    def quality_words(self) -> str:
        """Signal quality in words: ``no signal``, ``moving``, ``good``, ``weak``, or ``—``."""
        if self.sensor_down:
            return "no signal"
        if self.moving:
            return "moving"
        if self.quality is None:
            return "—"
        return "good" if self.quality >= GOOD_QUALITY else "weak"


RATE_HISTORY = 60
"""Breathing rates kept for the rate trace."""
MAX_HOLD_BEATS = 600
"""Beats and exhales kept for the hold under way (a long tool hold stays bounded)."""
RECENT_PHASES = 24
"""Detected phase changes kept for the marks on the breathing trace."""


def _cue(view: SessionView, ev: Cue) -> SessionView:
    pacer, reason = view.following_pacer, view.lead_reason
    if ev.kind is CueKind.FALLBACK_PACER:
        pacer, reason = True, ev.reason
    elif ev.kind is CueKind.SIGNAL_RESTORED:
        pacer, reason = False, None
    pace = ev.kind.pace_phase  # a pacer's cue: its phase begins
    return dataclasses.replace(
        view, instruction=ev.text, instruction_kind=ev.kind, instruction_t_s=ev.t_s, following_pacer=pacer,
        lead_reason=reason, pace_kind=pace or view.pace_kind, pace_t_s=view.pace_t_s if pace is None else ev.t_s,
        coached=True, instruction_source=ev.source, instruction_stale=False,
        hold_clock_runs=view.hold_clock_runs or ev.hold_clock is not None,
    )


def _moved_on(view: SessionView, t_s: float) -> SessionView:
    """Session time moves to ``t_s``: the hold's clock pauses while the sensor is down."""
    if t_s <= view.t_s:
        return view
    paused = view.hold_paused_s
    if view.hold_start_s is not None and view.sensor_down and not view.hold_clock_runs:
        paused += t_s - max(view.t_s, view.hold_start_s)
    return dataclasses.replace(view, t_s=t_s, hold_paused_s=paused)


def _receiving(state: LinkState | str) -> LinkState | str:
    """Data is arriving: a source that never said so (a replay) is receiving."""
    return LinkState.STREAMING if state == LinkState.STARTING else state


def fold(view: SessionView, event: SessionEvent) -> SessionView:
    """The view after one more event."""
    rep = dataclasses.replace
    t = float(event.t_s) if not isinstance(event, BreathEvent) else event.detected_at_s
    view = _moved_on(view, t)
    if isinstance(event, BreathEvent):
        rates = view.rate_history
        if event.rate_bpm is not None and event.kind == "exhale":
            rates = (*rates, event.rate_bpm)[-RATE_HISTORY:]
        return rep(
            view, phase=event.kind, phase_t_s=event.t_s, quality=event.quality,
            rate_bpm=event.rate_bpm if event.rate_bpm is not None else view.rate_bpm, rate_history=rates,
            signal_lost=False, moving=False, data_t_s=view.t_s,
            instruction_stale=view.instruction_stale or view.instruction_source is not None,
            recent_phases=(*view.recent_phases, (event.t_s, event.kind))[-RECENT_PHASES:],
            source_state=LinkState.STREAMING if event.signal == "acc" and view.source_state == _L.WAITING_FOR_ACC
            else _receiving(view.source_state),
        )
    if isinstance(event, BreathingTrace):
        return rep(view, trace=event, source_state=_receiving(view.source_state), data_t_s=view.t_s)
    if isinstance(event, SignalNotice):
        if event.kind == Notice.SIGNAL_LOST:
            return rep(view, signal_lost=True, quality=None, phase="")
        if event.kind == Notice.SIGNAL_RESTORED:
            return rep(view, signal_lost=False)
        if event.kind in (Notice.MOTION, Notice.MOTION_ENDED):
            return rep(view, moving=event.kind == Notice.MOTION)
        if event.kind == Notice.DEVICE_RATE:
            rate = event.detail.get("rate_bpm")
            return rep(view, has_device_rate=True, device_rate_bpm=float(rate) if rate is not None else None)
        return view
    if isinstance(event, Status):
        if event.state in LINK_DOWN:  # a link down forgets the breath and the quality read before it
            return rep(view, source_state=event.state, quality=None, phase="")
        return rep(view, source_state=event.state)
    if isinstance(event, HeartRate):
        rr = view.hold_rr_ms
        if view.hold_kind is not None and event.rr_ms:
            rr = (*rr, *event.rr_ms)[-MAX_HOLD_BEATS:]
        return rep(view, hr_bpm=event.hr_bpm, source_state=_receiving(view.source_state), hold_rr_ms=rr,
                   data_t_s=view.t_s)
    if isinstance(event, Cue):
        return _cue(view, event)
    if isinstance(event, StageEntered):
        # a stage's words become the instruction until the next cue
        return rep(view, stage=event.stage, stage_text=event.text, instruction=event.text, instruction_kind=event.stage,
                   instruction_t_s=event.t_s, coached=True, instruction_source=None, instruction_stale=False,
                   pacer=event.pacer if event.pacer is not None else view.pacer)
    if isinstance(event, HoldStarted):
        return rep(view, hold_kind=event.kind, hold_start_s=event.t_s, hold_target_s=event.target_s, hold_breaths=0,
                   hold_exhales_s=(), hold_rr_ms=(), hold_paused_s=0.0, hold_clock_runs=False)
    if isinstance(event, HoldEnded):
        return rep(view, hold_kind=None, hold_start_s=None, hold_target_s=None, hold_breaths=0,
                   holds_done=(*view.holds_done, event), hold_exhales_s=(), hold_rr_ms=(), hold_clock_runs=False)
    if isinstance(event, SideStarted):
        return rep(view, side=event.side, side_start_s=event.t_s, side_target_s=event.target_s)
    if isinstance(event, SideEnded):
        return rep(view, side=None, side_start_s=None, side_target_s=None, sides_done=(*view.sides_done, event))
    if isinstance(event, PacingScored):
        return rep(view, adherence_pct=event.adherence_pct)
    if isinstance(event, SafetyChecked):
        return rep(view, coached=True)
    if isinstance(event, ErrorReported):
        if event.message in view.problems:  # said once
            return view
        return rep(view, problems=(*view.problems, event.message)[-MAX_PROBLEMS:])
    if isinstance(event, FollowingScored):
        return rep(view, following=event)
    if isinstance(event, ProtocolChanged):
        return rep(view, protocol_note=event.text)
    if isinstance(event, PainStopped):
        return rep(view, pain=True, pain_text=event.text, instruction=event.text, instruction_kind=Closing.PAIN_STOP,
                   instruction_t_s=event.t_s, stage=Closing.PAIN_STOP, stage_text=event.text)
    if isinstance(event, SessionEnded):
        view = rep(view, ended_by=event.ended_by, end=event, hold_kind=None, hold_start_s=None,
                   side=None, side_start_s=None, following_pacer=False)
        if not view.pain:
            view = rep(view, instruction="Session over. Rest and breathe.", instruction_kind=Closing.SESSION_END,
                       instruction_t_s=event.t_s, stage=Stage.DONE, stage_text="")
        return view
    return view


def count_breath(view: SessionView, event: SessionEvent) -> SessionView:
    """Count an exhale into the hold under way as the coach does: a detected one (confident or
    not), or the pacer's while following it (its cue on the exhale, one per paced exhale)."""
    if view.hold_kind is None:
        return view
    if isinstance(event, BreathEvent) and event.kind == "exhale" and not view.following_pacer:
        at = event.t_s
    elif isinstance(event, Cue) and event.source is BreathSource.PACER and event.kind.meaning is Meaning.EXHALE:
        at = event.breath_t_s if event.breath_t_s is not None else event.t_s
    else:
        return view
    return dataclasses.replace(
        view, hold_breaths=view.hold_breaths + 1, hold_exhales_s=(*view.hold_exhales_s, at)[-MAX_HOLD_BEATS:]
    )


def step(view: SessionView, event: SessionEvent) -> SessionView:
    """:func:`fold` plus the hold's exhale count: the view after one more event."""
    return count_breath(fold(view, event), event)


def at(view: SessionView, t_s: float) -> SessionView:
    """The view with session time moved on to ``t_s`` (never back)."""
    return _moved_on(view, float(t_s))


def view_of(events: Iterable[SessionEvent], t_s: float | None = None) -> SessionView:
    """The view after a whole stream of events (and at ``t_s``, when given)."""
    view = SessionView()
    for ev in events:
        view = step(view, ev)
    return view if t_s is None else at(view, t_s)
