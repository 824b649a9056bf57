"""The guide's practice, stage by stage: what each breath, timer and command does.

Acts on :class:`~psoas_sense.coach.state.CoachState`; the public protocol (start, events,
ticks, commands) is in :mod:`psoas_sense.coach.engine`. Pure: no clock, no I/O.
"""

from __future__ import annotations

import statistics

from psoas_sense.coach.pacer import Pacer, following_score
from psoas_sense.coach.settings import SIDES
from psoas_sense.coach.state import (
    CALIBRATION_EXHALES,
    HOLD_STAGES,
    CoachState,
    NextPoint,
    OpenHold,
    OpenSide,
    Timer,
    r3,
    rate_of,
)
from psoas_sense.coach.texts import PAIN_STOP
from psoas_sense.events import (
    HoldEnded,
    HoldStarted,
    PacerSpec,
    PacingScored,
    PainRecord,
    PainStopped,
    SessionEnded,
    SideEnded,
    SideStarted,
)
from psoas_sense.events import Note as NoteEvent
from psoas_sense.vocab import BreathPhase, BreathSource, Command, CueKind, Ending, HoldKind, Practice, Stage

_END_REASONS_KEPT = (Ending.PAIN, Ending.QUIT, Ending.END_OF_INPUT, Ending.INPUT_ERROR, Ending.DURATION)
"""Session ends that a hold closed with its side keeps as its own reason."""
_EXHALE_CUES = {Stage.STATIC: CueKind.SINK_DEEPER, Stage.TOOL: CueKind.TOOL_SINK}
_INHALE_CUES = {Stage.STATIC: CueKind.HOLD_BREATHE, Stage.TOOL: CueKind.TOOL_BREATHE}
"""A hold's cue on the exhale and on the inhale, by its stage."""


class StageLogic(CoachState):
    """Stage transitions, holds and sides, and the answers to commands."""

    # ------------------------------------------------------------------ timers

    def _fire_stage(self, t: float) -> None:
        s = self.stage
        if s is Stage.CALIBRATION:
            self._after_calibration(t)
        elif s is Stage.PREPARATION:
            rates = [60.0 / (b - a) for a, b in zip(self._stage_exhales, self._stage_exhales[1:]) if b > a]
            if self.settled_rate_bpm is None and len(rates) >= 2:
                self.settled_rate_bpm = statistics.median(rates)
            self._cue(CueKind.SETTLE_PACED if self._fallback else CueKind.SETTLE_TIMEOUT, t)
            self._begin_sides(t)
        elif s is Stage.LOCATE:
            if self._step == 0:
                self._step = 1
                self._cue(CueKind.LIFT_FOOT, t)
                self._timers[Timer.STAGE] = t + self.settings.locate_lift_s
            elif self._step == 1:
                self._step = 2
                self._cue(CueKind.LOWER_FOOT, t)
                self._timers[Timer.STAGE] = t + self.settings.locate_lower_s
            else:
                self._start_hold(HoldKind.STATIC, t)
        elif s is Stage.REPRESS:
            kind, self._resume_kind = self._resume_kind or HoldKind.STATIC, None
            self._start_hold(kind, t)
        elif s is Stage.TOOL_POSITION:
            self._resume_kind = None
            self._start_hold(HoldKind.TOOL, t)
        elif s is Stage.ACTIVE:
            self._end_hold(t, Ending.TIME)
        elif s is Stage.SWITCH:
            assert self.sides
            first = self.sides[0]
            self._start_side(SIDES[1 - SIDES.index(first.side)], t, first.duration_s)
        elif s is Stage.BREATHING:
            self._end_session(t, Ending.DONE)

    def _fire_hold_target(self, t: float) -> None:
        if self.hold is not None:
            self.hold.ending = True

    def _fire_hold_cap(self, t: float) -> None:
        if self.hold is not None:
            self._end_hold(t, Ending.TIME)

    def _fire_side_warn(self, t: float) -> None:
        if self.side is not None:
            self._cue(CueKind.SIDE_ENDING, t, seconds=int(round(self.settings.side_warning_s)))

    def _fire_side_end(self, t: float) -> None:
        if self.side is None:
            return
        self.side.ending = True
        if self.hold is not None:
            self.hold.ending = True
        else:
            self._end_side(t, Ending.TIME)

    def _fire_side_cap(self, t: float) -> None:
        if self.side is not None:
            self._end_side(t, Ending.SIDE_CAP)

    # ------------------------------------------------------------------ one phase change

    def _count_in_hold(self, kind: BreathPhase, breath_t: float) -> None:
        """An exhale is a breath of the hold under way (its figures count every one)."""
        if self.hold is not None and kind == "exhale":
            self.hold.breaths += 1
            self.hold.exhales_s.append(r3(breath_t))

    def _phase(self, kind: BreathPhase, t: float, breath_t: float, source: BreathSource) -> None:
        """One phase change (detected, or paced by the clock in fallback)."""
        s = self.settings
        bt = r3(breath_t)
        hold = self.hold
        self._count_in_hold(kind, breath_t)
        st = self.stage
        detected = source is BreathSource.DETECTOR
        if st is Stage.CALIBRATION:
            if kind == "exhale" and detected:
                self._calib_exhales += 1
                if self._calib_exhales >= CALIBRATION_EXHALES:
                    self._cue(CueKind.CALIBRATED, t)
                    self._after_calibration(t)
        elif st in (Stage.PREPARATION, Stage.WAIT):  # (waiting for the sensor: rest and breathe with the pacer)
            self._cue(CueKind.BELLY_OUT if kind == "exhale" else CueKind.BELLY_IN, t, breath_t_s=bt, source=source)
            if kind == "exhale" and detected and st is Stage.PREPARATION:
                self._check_settled(t)
        elif st in (Stage.STATIC, Stage.TOOL) and hold is not None:
            if kind == "exhale":
                self._cue(_EXHALE_CUES[st], t, breath_t_s=bt, source=source)
            elif hold.ending:
                self._end_hold(t, Ending.TIME)
            elif s.cue_inhale:
                self._cue(_INHALE_CUES[st], t, breath_t_s=bt, source=source)
        elif st is Stage.ACTIVE and hold is not None:
            self._active_phase(hold, kind, t, bt, source)
        elif st is Stage.BREATHING and kind == "exhale" and detected and self._pacer is not None:
            err = self._pacer.exhale_error_s(breath_t)
            self._paced_exhales.append(breath_t)
            self._paced_errors.append(err)
            score = following_score(self._paced_exhales, self._paced_errors, self._pacer.period_s)
            self.adherence_scores.append(score)
            self._emit(PacingScored(
                t_s=r3(t), breath_t_s=bt, error_s=r3(err), score=r3(score),
                adherence_pct=r3(100.0 * statistics.fmean(self.adherence_scores)),
            ))

    def _active_phase(self, hold: OpenHold, kind: BreathPhase, t: float, bt: float, source: BreathSource) -> None:
        """Active release: slide the foot out on the exhales, bend the knee back, release."""
        n = hold.breaths
        active_exhales = self.settings.active_exhales
        if kind == "exhale":
            if hold.bent:
                self._cue(CueKind.RELEASE, t, breath_t_s=bt, source=source)
                self._end_hold(t, Ending.RELEASED)
            elif n > active_exhales:  # the inhale was missed: bend on this breath
                hold.bent = True
                self._cue(CueKind.BEND_KNEE, t, breath_t_s=bt, source=source)
            elif n < active_exhales:
                self._cue(CueKind.SLIDE_FOOT, t, breath_t_s=bt, source=source)
            else:
                self._cue(CueKind.LEG_STRAIGHT, t, breath_t_s=bt, source=source)
        elif hold.ending:
            self._end_hold(t, Ending.TIME)
        elif n >= active_exhales and not hold.bent:
            hold.bent = True
            self._cue(CueKind.BEND_KNEE, t, breath_t_s=bt, source=source)
        elif not hold.bent:
            self._cue(CueKind.KEEP_PRESSURE, t, breath_t_s=bt, source=source)

    def _check_settled(self, t: float) -> None:
        s = self.settings
        times = self._stage_exhales[-(s.prep_settle_breaths + 1):]
        if len(times) < s.prep_settle_breaths + 1:
            return
        periods = [b - a for a, b in zip(times, times[1:])]
        mean = statistics.fmean(periods)
        if mean <= 0:
            return
        cv = statistics.pstdev(periods) / mean
        rate = 60.0 / mean
        slowest_ok = 60.0 / min(periods) <= s.prep_max_rate_bpm
        if slowest_ok and cv <= s.prep_max_cv:
            self.settled_rate_bpm = rate
            self._cue(CueKind.SETTLED, t, rate_bpm=r3(rate))
            self._begin_sides(t)

    # ------------------------------------------------------------------ stages

    def _after_calibration(self, t: float) -> None:
        s = self.settings
        if self.protocol is Practice.BREATHING:
            self._enter(
                Stage.BREATHING, t,
                pacer=PacerSpec(s.pacer_inhale_s, s.pacer_hold_in_s, s.pacer_exhale_s, s.pacer_hold_out_s),
                duration_s=r3(s.breathing_minutes * 60.0),
            )
            self._pacer = Pacer(s.pacer_inhale_s, s.pacer_exhale_s, s.pacer_hold_in_s, s.pacer_hold_out_s, t0_s=t)
            self._pacer_last = t - 1e-6
            self.follow.pacer_started(self._pacer, t)
            self._timers[Timer.STAGE] = t + s.breathing_minutes * 60.0
        else:
            self._enter(Stage.PREPARATION, t, None if self.protocol is Practice.MANUAL else "preparation_tool")
            self._timers[Timer.STAGE] = t + s.prep_max_s

    def _begin_sides(self, t: float) -> None:
        self._start_side(self.settings.first_side, t, self.settings.side_s)

    def _start_side(self, name: str, t: float, target_s: float) -> None:
        s = self.settings
        self.side = OpenSide(side=name, index=len(self.sides), t_start_s=t, target_s=target_s)
        self.point = 1
        self._last_softened = False
        self._emit(SideStarted(t_s=r3(t), side=name, index=len(self.sides), target_s=r3(target_s)))
        if 0 < s.side_warning_s < target_s:
            self._timers[Timer.SIDE_WARN] = t + target_s - s.side_warning_s
        self._timers[Timer.SIDE_END] = t + target_s
        self._timers[Timer.SIDE_CAP] = t + target_s + s.side_cap_extra_s
        self._enter(Stage.LOCATE if self.protocol is Practice.MANUAL else Stage.TOOL_POSITION, t, point=self.point)
        self._timers[Timer.STAGE] = t + s.locate_place_s

    def _side_remaining(self, t: float) -> float:
        assert self.side is not None
        return self.side.t_start_s + self.side.target_s - t

    def _start_hold(self, kind: HoldKind, t: float, *, force: bool = False) -> None:
        s = self.settings
        if not force and self._sensor_waiting(t):
            self._wait(t, kind)
            return
        self._enter(kind.stage, t, point=self.point)
        hold = OpenHold(kind=kind, side=self._side_name(), point=self.point, t_start_s=r3(t))
        self.hold = hold
        if kind is HoldKind.ACTIVE:
            self._timers[Timer.STAGE] = t + s.active_max_s
            self._emit(HoldStarted(t_s=r3(t), kind=kind, side=hold.side, point=self.point))
            return
        target = min(s.hold_s, max(s.hold_min_s, self._side_remaining(t)))
        cap = min(s.hold_max_s, target + s.round_max_s)
        hold.target_s = r3(target)
        self._timers[Timer.HOLD_TARGET] = t + target
        self._timers[Timer.HOLD_CAP] = t + cap
        self._emit(HoldStarted(t_s=r3(t), kind=kind, side=hold.side, point=self.point, target_s=r3(target)))

    def _end_hold(self, t: float, ended_by: Ending, *, then: bool = True) -> None:
        hold = self.hold
        if hold is None:
            return
        self.hold = None
        for k in (Timer.HOLD_TARGET, Timer.HOLD_CAP):
            self._timers.pop(k, None)
        if hold.kind is HoldKind.ACTIVE:
            self._timers.pop(Timer.STAGE, None)
        rate = rate_of(hold.exhales_s)
        phys = self._physiology(hold.t_start_s, r3(t))
        record = HoldEnded(
            t_s=r3(t), kind=hold.kind, side=hold.side, point=hold.point, t_start_s=hold.t_start_s,
            duration_s=r3(t - hold.t_start_s), breaths=hold.breaths, mean_rate_bpm=None if rate is None else r3(rate),
            cues=hold.cues, ended_by=ended_by, softened=hold.softened, exhales_s=tuple(hold.exhales_s),
            exhale_share=phys.exhale_share, hr_bpm=phys.hr_bpm, rmssd_ms=phys.rmssd_ms,
        )
        self.holds.append(record)
        self._emit(record)
        if not then:
            return
        if self.side is not None and self.side.ending:
            self._end_side(t, Ending.TIME)
        elif hold.kind is HoldKind.STATIC:
            self._start_hold(HoldKind.ACTIVE, t)
        elif hold.kind is HoldKind.ACTIVE:
            self._next_point(t)
        elif self._side_remaining(t) >= self.settings.hold_min_s + self.settings.repress_s:  # a tool hold
            if self._sensor_waiting(t):
                self._wait(t, HoldKind.TOOL)
                return
            self._enter(Stage.TOOL_POSITION, t, point=self.point)
            self._timers[Timer.STAGE] = t + self.settings.repress_s
        else:
            self._rest(t)

    def _rest(self, t: float) -> None:
        self._enter(Stage.REST, t, None if self.protocol is Practice.MANUAL else "rest_tool")

    def _next_point(self, t: float) -> None:
        s = self.settings
        if self._side_remaining(t) < s.hold_min_s + s.repress_s:
            self._rest(t)
            return
        if self._sensor_waiting(t):
            self._wait(t, "next_point")
            return
        if self._last_softened:
            self.point += 1
            self._last_softened = False
            self._enter(Stage.REPRESS, t, "new_point", point=self.point, move="new")
        else:
            self._enter(Stage.REPRESS, t, "same_point", point=self.point, move="same")
        self._timers[Timer.STAGE] = t + s.repress_s

    def _end_side(self, t: float, ended_by: Ending, *, then: bool = True) -> None:
        side = self.side
        if side is None:
            return
        if self.hold is not None:
            self._end_hold(t, ended_by if ended_by in _END_REASONS_KEPT else Ending.SIDE_END, then=False)
        self.side = None
        for k in (Timer.SIDE_WARN, Timer.SIDE_END, Timer.SIDE_CAP):
            self._timers.pop(k, None)
        holds = [h for h in self.holds if h.side == side.side]
        exhales = sorted(x for h in holds for x in h.exhales_s)
        rate = rate_of(exhales)
        phys = self._physiology(r3(side.t_start_s), r3(t))
        record = SideEnded(
            t_s=r3(t), side=side.side, index=side.index, t_start_s=r3(side.t_start_s),
            duration_s=r3(t - side.t_start_s), target_s=r3(side.target_s), holds=len(holds),
            hold_s=r3(sum(h.duration_s for h in holds)), breaths=sum(h.breaths for h in holds), ended_by=ended_by,
            mean_rate_bpm=None if rate is None else r3(rate), exhale_share=phys.exhale_share, hr_bpm=phys.hr_bpm,
            rmssd_ms=phys.rmssd_ms,
        )
        self.sides.append(record)
        self._emit(record)
        if not then:
            return
        if len(self.sides) == 1:
            other = SIDES[1 - SIDES.index(side.side)]
            self._enter(Stage.SWITCH, t, to_side=other)
            self._cue(CueKind.SWITCH_SIDES, t, to_side=other)
            self._timers[Timer.STAGE] = t + self.settings.switch_s
        else:
            self._end_session(t, Ending.DONE)

    def _end_session(self, t: float, ended_by: Ending) -> None:
        if self.finished:
            return
        if self.side is not None:
            self._end_side(t, ended_by, then=False)
        elif self.hold is not None:
            self._end_hold(t, ended_by, then=False)
        if self._fallback_since is not None:
            self.fallback_s += t - self._fallback_since
            self._fallback_since = None
        if ended_by is Ending.DONE:
            self._enter(Stage.FINISH, t)
        self.stage = Stage.DONE
        self._timers.clear()
        self._pacer = None
        self.follow.pacer_stopped(t)
        self.ended_by = ended_by
        self.finished = True
        self._emit(SessionEnded(t_s=r3(t), ended_by=ended_by, summary=self.summary(t)))

    # ------------------------------------------------------------------ commands

    def _pain(self, t: float) -> None:
        rec = PainRecord(t_s=r3(t), stage=self.stage, side=self._side_name(),
                         hold=self.hold.kind if self.hold else None)
        self.pain_stops.append(rec)
        self._emit(PainStopped(t_s=r3(t), stage=self.stage, side=rec.side, hold=rec.hold, text=PAIN_STOP))
        self._end_session(t, Ending.PAIN)

    def _soften(self, t: float) -> None:
        hold = self.hold
        if hold is not None and hold.kind in (HoldKind.STATIC, HoldKind.TOOL):
            hold.softened = True
            self._last_softened = True
            self._cue(CueKind.SOFTENED, t)
            self._end_hold(t, Ending.SOFTENED)
        elif self.stage in (Stage.ACTIVE, Stage.REPRESS, Stage.REST):
            self._last_softened = True
            if hold is not None:
                hold.softened = True
            self._cue(CueKind.SOFTENED, t)
        else:
            self._emit(NoteEvent(t_s=r3(t), command=Command.SOFTEN, text="Nothing to soften yet."))

    def _wait(self, t: float, what: HoldKind | NextPoint) -> None:
        """No hold starts while the sensor is down or settling: rest until it is back (``what``
        waits: a hold's kind, or the next spot)."""
        self._enter(Stage.WAIT, t, point=self.point)
        self._deferred = what

    def _resume(self, t: float) -> None:
        """The sensor is back and settled: press in again, then the hold that waited."""
        kind, self._deferred = self._deferred, None
        if kind is None:
            return
        if kind == "next_point":
            self._next_point(t)
        elif kind is HoldKind.TOOL:
            self._enter(Stage.TOOL_POSITION, t, point=self.point)
        else:
            self._enter(Stage.REPRESS, t, "same_point", point=self.point, move="same")
            self._resume_kind = kind
        self._timers[Timer.STAGE] = t + self.settings.repress_s

    def _next(self, t: float) -> None:
        st = self.stage
        if st is Stage.WAIT:  # asked to go on without the sensor: the hold that waited starts now
            kind, self._deferred = self._deferred or HoldKind.STATIC, None
            self._start_hold(HoldKind.STATIC if kind == "next_point" else kind, t, force=True)
        elif st is Stage.CALIBRATION:
            self._after_calibration(t)
        elif st is Stage.PREPARATION:
            self._begin_sides(t)
        elif st in (Stage.LOCATE, Stage.REPRESS):
            self._start_hold(HoldKind.STATIC, t)
        elif st is Stage.TOOL_POSITION:
            self._start_hold(HoldKind.TOOL, t)
        elif st in HOLD_STAGES:
            self._end_hold(t, Ending.NEXT)
        elif st is Stage.REST:
            self._end_side(t, Ending.NEXT)
        elif st is Stage.SWITCH:
            self._fire_stage(t)
        elif st is Stage.BREATHING:
            self._end_session(t, Ending.DONE)
