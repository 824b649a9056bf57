"""The coach's state: what is open (side, hold), what was done, timers, and the summary.

The stage logic (:mod:`psoas_sense.coach.stages`) and the public engine
(:mod:`psoas_sense.coach.engine`) act on this state; the figures of a hold, a side and the
session are computed here once, and every report reads them from the events they travel in.
Pure: no clock, no I/O.
"""

from __future__ import annotations

import enum
import math
import statistics
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from psoas_sense.coach.following import FollowTracker
from psoas_sense.coach.pacer import Pacer
from psoas_sense.coach.safety import SafetyCheck
from psoas_sense.coach.settings import CoachSettings
from psoas_sense.coach.texts import CueWording, StageWording, cue_text, stage_text
from psoas_sense.events import (
    BreathRecord,
    CoachEvent,
    Cue,
    HoldClock,
    HoldEnded,
    HoldSummary,
    PacerSpec,
    PainRecord,
    SessionSummary,
    SideEnded,
    SideSummary,
    StageEntered,
)
from psoas_sense.insight import Physiology, physiology
from psoas_sense.model import CoreEvent, SignalNotice
from psoas_sense.vocab import BreathSource, CueKind, CueReason, Ending, HoldKind, LinkState, Notice, Practice, Stage

LINK_UP_STATES = (LinkState.STREAMING, LinkState.CONNECTED, LinkState.RECONNECTED)
"""Source states in which data flows again."""
HOLD_STAGES = (Stage.STATIC, Stage.ACTIVE, Stage.TOOL)
STILL_STAGES = (Stage.PREPARATION, Stage.CALIBRATION, Stage.STATIC, Stage.TOOL, Stage.BREATHING)
"""Stages in which the body is meant to be still: body motion there means the breathing cannot be
followed (elsewhere moving is the exercise: sliding the leg out, moving the fingers, switching sides)."""
DownCause = Literal["link", "gap"]
"""Why the sensor is down: the source says the link dropped, or the detector found a gap."""
NextPoint = Literal["next_point"]
"""What waits for the sensor when it is not a hold: moving on to the next spot."""
FAST_WINDOW_EXHALES = 4
"""Exhales (three intervals) over which the current breathing rate is measured."""
FAST_WINDOW_MAX_S = 40.0
"""Exhales older than this do not count towards the current rate."""
QUIET_PERIODS = 6
"""Recent breath periods whose median sets how long a pause is "no breath" for this user."""
QUIET_HOLD_FACTOR = 1.5
"""No phase change for this many typical breath periods is a breath hold..."""
QUIET_SILENCE_FACTOR = 3.0
"""...and for this many, a lost signal."""
CALIBRATION_EXHALES = 2
"""Detected exhales after which the accelerometer calibration is taken as done."""
MAX_BEATS = 50_000
"""Heartbeats kept for the figures of holds, sides and the session (about ten hours; bounded)."""

class Timer(enum.IntEnum):
    """The coach's timers, in the order they fire when several fall due at the same time (each fires
    its ``_fire_*`` method: the table is :data:`psoas_sense.coach.engine.FIRE`)."""

    HOLD_TARGET = 0
    """The hold's target length is reached: it ends on the next inhale."""
    HOLD_CAP = 1
    """The hold's longest length: it ends now."""
    STAGE = 2
    """The stage's own step (locate's steps, pressing in again, the end of the preparation...)."""
    SIDE_WARN = 3
    """The side is nearly over: say so."""
    SIDE_END = 4
    """The side's time is up: it ends with the hold under way."""
    SIDE_CAP = 5
    """The side's longest time: it ends now."""
    BREATH_HOLD = 6
    """No breath for longer than this person's rhythm: keep breathing."""
    SILENCE = 7
    """No breath at all for long: the pacer leads."""
    MOTION = 8
    """The body has moved too long where it should be still: the pacer leads."""
    SETTLE = 9
    """The settle period after the sensor came back is over."""


def r3(x: float) -> float:
    """Rounded to the millisecond, as every figure is kept."""
    return round(float(x), 3)


def rate_of(times: Sequence[float]) -> float | None:
    """Breathing rate over a run of exhale times, breaths per minute (None under two exhales).

    The one definition of "rate" for a hold, a side and the session: exhales minus one over the
    time they span.
    """
    if len(times) < 2:
        return None
    span = times[-1] - times[0]
    return 60.0 * (len(times) - 1) / span if span > 0 else None


def notice_time(ev: SignalNotice) -> float:
    """When a notice became known: its detection time when given, else its time."""
    at = ev.detected_at_s
    return float(at) if at is not None and math.isfinite(at) else float(ev.t_s)


HEALED_GAP = Notice.GAP_HEALED
"""The coach's own notice for a gap already over when found (never printed)."""


def drop_healed_gaps(events: Sequence[CoreEvent]) -> list[CoreEvent]:
    """The events with each ``signal_lost`` that is already ``signal_restored`` in the same batch
    replaced by one :data:`HEALED_GAP` notice at the restoring time.

    A gap found only once data flows again is over: announcing the pacer then would only
    confuse someone with their eyes closed; the detector starts again, which is a settle period.
    """
    out = list(events)
    for i, ev in enumerate(out):
        if isinstance(ev, SignalNotice) and ev.kind == Notice.SIGNAL_LOST:
            for j in range(i + 1, len(out)):
                other = out[j]
                if isinstance(other, SignalNotice) and other.kind == Notice.SIGNAL_RESTORED:
                    healed = SignalNotice(HEALED_GAP, other.t_s, dict(ev.detail), notice_time(other))
                    return drop_healed_gaps(out[:i] + out[i + 1:j] + [healed] + out[j + 1:])
    return out


@dataclass
class OpenSide:
    """The side being worked."""

    side: str
    """``left`` or ``right``."""
    index: int
    """0 for the first side."""
    t_start_s: float
    """When it began."""
    target_s: float
    """How long it should take."""
    ending: bool = False
    """Its time is up: it ends when the hold under way does."""


@dataclass
class OpenHold:
    """The hold under way."""

    kind: HoldKind
    """``static``, ``active`` or ``tool``."""
    side: str | None
    """The side."""
    point: int
    """Which spot."""
    t_start_s: float
    """When it began (rounded to the millisecond)."""
    target_s: float | None = None
    """Its target length (static and tool holds)."""
    breaths: int = 0
    """Exhales so far."""
    exhales_s: list[float] = field(default_factory=list)
    """Their times."""
    cues: int = 0
    """Cues given so far."""
    ending: bool = False
    """Its time is up: it ends on the next inhale."""
    softened: bool = False
    """The person said the spot softened."""
    bent: bool = False
    """Active release: the knee is bent back (the next exhale releases)."""


class CoachState:
    """Everything the coach knows and has decided; the stage logic acts on it."""

    def __init__(self, settings: CoachSettings, safety: SafetyCheck | None = None, *, signal: str = "") -> None:
        self.settings = settings.validate()
        self.safety = safety or SafetyCheck()
        self.signal = signal
        self.requested_protocol = Practice(self.settings.protocol)
        self.protocol = self.requested_protocol
        self.finished = False
        self.ended_by: Ending | None = None
        self.stage = Stage.IDLE
        self.t_start_s: float | None = None
        self.now_s: float | None = None
        self._out: list[CoachEvent] = []
        self._timers: dict[Timer, float] = {}
        self._step = 0
        # sides and holds
        self.side: OpenSide | None = None
        self.sides: list[SideEnded] = []
        self.hold: OpenHold | None = None
        self.holds: list[HoldEnded] = []
        self.point = 0
        self._last_softened = False
        # breathing
        self.breaths: list[BreathRecord] = []
        """Every breath phase seen: detected ones and, in fallback, the pacer's."""
        self._exhales: list[float] = []
        self._stage_exhales: list[float] = []
        self.settled_rate_bpm: float | None = None
        self._last_breath_t: float | None = None
        self._breath_hold = False
        self._poor = 0
        self._good = 0
        self._fallback = False
        self._lead_reason: CueReason | None = None
        """Why the pacer leads (``signal_poor``, ``no_breaths``, ``motion``, ``signal_lost``, ``rr_only``)."""
        self.handovers = 0
        """Times the lead went to the pacer because the breathing could not be followed."""
        self._confident_ref = 0.0
        """The last confident breath (or the start, or the end of a settle): unsure time counts from it."""
        self._down: set[DownCause] = set()
        """Why the sensor is down now: ``link`` (the source says so), ``gap`` (the detector found one)."""
        self._down_since: float | None = None
        self._settle_until: float | None = None
        self._deferred: HoldKind | NextPoint | None = None
        """What waits for the sensor: a hold (``static``, ``active``, ``tool``), or the next spot."""
        self._resume_kind: HoldKind | None = None
        """The hold to start after pressing in again, once the sensor is back."""
        self.rr_mode = signal == "rr" and settings.rr_lead and self.protocol is not Practice.BREATHING
        """An RR-only strap: the pacer leads by design."""
        self.follow = FollowTracker()
        """How the heart follows the pacer (RSA), while a pacer leads."""
        self._fallback_since: float | None = None
        self.fallback_s = 0.0
        self._pacer: Pacer | None = None
        self._pacer_last: float = -math.inf
        self._last_fast_cue: float = -math.inf
        self._calib_exhales = 0
        self._calib_started = False
        self.adherence_scores: list[float] = []
        self._paced_exhales: list[float] = []
        self._paced_errors: list[float] = []
        self.pain_stops: list[PainRecord] = []
        self.cue_count = 0
        self.beats: deque[tuple[float, float]] = deque(maxlen=MAX_BEATS)
        """The strap's beats ``(t_s, rr_ms)``, for the heart figures of holds, sides and the session."""

    # ------------------------------------------------------------------ output

    def _emit(self, event: CoachEvent) -> None:
        self._out.append(event)

    def _flush(self) -> list[CoachEvent]:
        out, self._out = self._out, []
        return out

    def _side_name(self) -> str | None:
        return self.side.side if self.side else None

    def _cue(
        self,
        kind: CueKind,
        t: float,
        *,
        seconds: int | None = None,
        to_side: str | None = None,
        breath_t_s: float | None = None,
        source: BreathSource | None = None,
        reason: CueReason | None = None,
        since_s: float | None = None,
        rate_bpm: float | None = None,
        settled_rate_bpm: float | None = None,
        count: int | None = None,
        hold_clock: HoldClock | None = None,
        text_key: CueWording | None = None,
    ) -> None:
        side = self._side_name()
        fmt: dict[str, object] = {} if seconds is None else {"seconds": seconds}
        text = cue_text(text_key or kind, side=to_side or side or "", **fmt)
        self.cue_count += 1
        if self.hold is not None:
            self.hold.cues += 1
        self._emit(Cue(
            t_s=r3(t), kind=kind, text=text, stage=self.stage, side=side, breath_t_s=breath_t_s, source=source,
            to_side=to_side, reason=reason, since_s=since_s, rate_bpm=rate_bpm, settled_rate_bpm=settled_rate_bpm,
            count=count, hold_clock=hold_clock,
        ))

    def _enter(
        self,
        stage: Stage,
        t: float,
        text_key: StageWording | None = None,
        *,
        point: int | None = None,
        move: str | None = None,
        to_side: str | None = None,
        pacer: PacerSpec | None = None,
        duration_s: float | None = None,
    ) -> None:
        self.stage = stage
        self._step = 0
        self._stage_exhales = []
        if stage is not Stage.WAIT:
            self._deferred = None
        self._timers.pop(Timer.STAGE, None)
        side = self._side_name()
        self._emit(StageEntered(
            t_s=r3(t), stage=stage, text=stage_text(text_key or stage, side=side or ""), side=side, point=point,
            move=move, to_side=to_side, pacer=pacer, duration_s=duration_s,
        ))

    def _sensor_waiting(self, t: float) -> bool:
        """The sensor is down, or settling after coming back: no hold starts now."""
        return bool(self._down) or (self._settle_until is not None and t < self._settle_until)

    # ------------------------------------------------------------------ summary

    def _physiology(self, t0: float, t1: float) -> Physiology:
        """Exhale share, heart rate and RMSSD of ``t0..t1``, for a hold, a side or the session as
        it ends (:func:`psoas_sense.insight.physiology` over the detected breaths and the beats)."""
        phases = [(b.t_s, b.kind) for b in self.breaths if b.source is BreathSource.DETECTOR]
        return physiology(phases, list(self.beats), t0, t1)

    def summary(self, t: float | None = None) -> SessionSummary:
        """What the session did so far (also the ``summary`` of ``session_end``)."""
        t = self.now_s if t is None else t
        det_ex = [b.t_s for b in self.breaths if b.source is BreathSource.DETECTOR and b.kind == "exhale"]
        rate = rate_of(det_ex)
        scored = bool(self.adherence_scores)
        phys = self._physiology(self.t_start_s or 0.0, t or 0.0)
        return SessionSummary(
            protocol=self.requested_protocol,
            practised=self.protocol,
            safety=self.safety.status,
            ended_by=self.ended_by,
            duration_s=r3((t or 0.0) - (self.t_start_s or 0.0)),
            settled_rate_bpm=None if self.settled_rate_bpm is None else r3(self.settled_rate_bpm),
            breaths=len(det_ex),
            mean_rate_bpm=None if rate is None else r3(rate),
            paced_breaths=sum(1 for b in self.breaths if b.source is BreathSource.PACER and b.kind == "exhale"),
            fallback_s=r3(self.fallback_s),
            cues=self.cue_count,
            sides=tuple(
                SideSummary(sd.side, sd.duration_s, sd.holds, sd.hold_s, sd.breaths, sd.ended_by) for sd in self.sides
            ),
            holds=tuple(
                HoldSummary(h.kind, h.side, h.point, h.duration_s, h.breaths, h.ended_by) for h in self.holds
            ),
            pain_stops=len(self.pain_stops),
            adherence_pct=r3(100.0 * statistics.fmean(self.adherence_scores)) if scored else None,
            has_adherence=scored or self.protocol is Practice.BREATHING,
            exhale_share=phys.exhale_share, hr_bpm=phys.hr_bpm, rmssd_ms=phys.rmssd_ms,
        )
