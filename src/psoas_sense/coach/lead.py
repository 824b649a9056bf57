"""Who leads: the person's breath, or the coach's clock pacer, and the sensor's ups and downs.

The coach cues on the breath only while the detector is confident of it. When it is not, the
lead goes to the clock pacer, and back, with hysteresis, so that someone with their eyes closed
hears the coach lose them rarely, and only for a reason:

- **to the pacer** (cue ``fallback_pacer``, its ``reason`` and evidence on the cue): the sensor
  is down (``signal_lost``: the source says the link dropped, or the detector finds a gap), at
  once; the body moves for ``motion_pacer_s`` where it should be still (``motion``); no breath
  at all for ``signal_silence_s`` (``no_breaths``); or ``poor_events`` unsure events in a row
  *and* ``unsure_handover_s`` without a confident one (``signal_poor``). Shorter runs of unsure
  breaths are only left uncued. Losing the breath is said in full the first time; later it is
  only "breathe with my cues for a while".
- **back to the breath** (cue ``signal_restored``, reason ``confident``): ``good_events``
  confident events in a row, once the pacer has led ``pacer_min_s``, the sensor is up and any
  settle period is over.
- **settle**: when the sensor comes back (the link again, or data after a gap), a settle period
  of ``settle_s`` is said as such ("reconnected: settling"): the detector starts again, so its
  first unsure breaths do not count against it, and the breath cannot take the lead back yet.
- **no new hold while the sensor is down or settling**: a hold that would start waits (stage
  ``wait``: ease the pressure and rest), and starts after pressing in again once the sensor is
  back. A hold already under way keeps its time (it never outlasts the guide's longest hold
  because a sensor dropped); the drop's cue says so (``hold_clock="runs"``).
- **an RR-only strap** (no waveform, no accelerometer) is a designed mode: the pacer leads from
  the start ("breathe with my cues", said once, reason ``rr_only``), and the heart's rhythm shows
  how closely the pacer is followed (:mod:`psoas_sense.coach.following`). Losing an unsure RR
  breath is never announced as a failure.

Pure: no clock, no I/O.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from psoas_sense.coach.pacer import Pacer
from psoas_sense.coach.stages import StageLogic
from psoas_sense.coach.state import (
    FAST_WINDOW_EXHALES,
    FAST_WINDOW_MAX_S,
    HEALED_GAP,
    HOLD_STAGES,
    LINK_UP_STATES,
    QUIET_HOLD_FACTOR,
    QUIET_PERIODS,
    QUIET_SILENCE_FACTOR,
    STILL_STAGES,
    DownCause,
    Timer,
    r3,
    rate_of,
)
from psoas_sense.coach.texts import CueWording
from psoas_sense.events import BreathRecord, FollowingScored, HoldClock, PacedPhase
from psoas_sense.model import BreathEvent, SignalNotice, Status
from psoas_sense.vocab import (
    LINK_DOWN,
    PACE_CUES,
    BreathSource,
    CueKind,
    CueReason,
    LinkState,
    Notice,
    PacePhase,
    Stage,
)

_LEAD_WORDINGS: dict[CueReason, CueWording] = {CueReason.MOTION: "lead_motion", CueReason.RR_ONLY: "lead_rr"}
"""How the hand-over to the pacer is said, by its reason (losing the link and the breath: below)."""


class LeadLogic(StageLogic):
    """The breathing input, and who leads (see the module text)."""

    # ------------------------------------------------------------------ timers

    def _fire_breath_hold(self, t: float) -> None:
        if not self._fallback and not self._breath_hold:
            self._breath_hold = True
            since = t - self._last_breath_t if self._last_breath_t is not None else 0.0
            self._cue(CueKind.KEEP_BREATHING, t, reason=CueReason.NO_BREATH, since_s=r3(since))

    def _fire_silence(self, t: float) -> None:
        if not self._fallback:
            since = t - (self._last_breath_t if self._last_breath_t is not None else self.t_start_s or t)
            self._start_fallback(t, CueReason.NO_BREATHS, since=since)

    def _fire_motion(self, t: float) -> None:
        if not self._fallback and self.stage in STILL_STAGES:
            self._start_fallback(t, CueReason.MOTION)

    def _fire_settle(self, t: float) -> None:
        self._settle_until = None
        self._confident_ref = max(self._confident_ref, t)
        if not self._fallback:
            self._timers[Timer.SILENCE] = t + self._quiet_limits()[1]
        if self.stage is Stage.WAIT:
            self._resume(t)

    # ------------------------------------------------------------------ the sensor

    def _on_status(self, status: Status, t: float) -> None:
        if status.state == LinkState.STOPPED:
            # the source closed its streams (the end of a session or of a recording): no hold
            # starts after it, but there is nothing to announce
            self._down.add("link")
        elif status.state in LINK_DOWN:
            self._sensor_down(t, "link")
        elif status.state in LINK_UP_STATES and "link" in self._down:
            self._sensor_up(t, "link", CueReason.RECONNECTED)

    def _sensor_down(self, t: float, what: DownCause) -> None:
        first = not self._down
        self._down.add(what)
        if not first:
            return
        self._down_since = t
        self._settle_until = None
        self._timers.pop(Timer.SETTLE, None)
        if not self._fallback:
            self._start_fallback(t, CueReason.SIGNAL_LOST)
        else:  # the pacer leads already: say why it goes on
            self._cue(CueKind.SENSOR_DOWN, t, reason=CueReason.SIGNAL_LOST, hold_clock=self._hold_clock(),
                      text_key="lead_link_hold" if self.hold is not None else None)

    def _sensor_up(self, t: float, what: DownCause, reason: CueReason) -> None:
        self._down.discard(what)
        if not self._down:
            self._settle(t, reason, t - (self._down_since if self._down_since is not None else t))

    def _settle(self, t: float, reason: CueReason, down_s: float) -> None:
        self._down_since = None
        self._settle_until = t + self.settings.settle_s
        self._timers[Timer.SETTLE] = self._settle_until
        self._good = 0
        self._poor = 0
        key: CueWording | None = "settling_breath" if not self._fallback else (
            None if reason is CueReason.RECONNECTED else "settling_gap")
        self._cue(CueKind.SETTLING, t, reason=reason, since_s=r3(down_s), text_key=key)

    def _hold_clock(self) -> HoldClock | None:
        return "runs" if self.hold is not None else None

    # ------------------------------------------------------------------ the lead

    def _start_fallback(
        self, t: float, reason: CueReason, *, count: int | None = None, since: float | None = None
    ) -> None:
        self._fallback = True
        self._fallback_since = t
        self._lead_reason = reason
        self._good = 0
        self._breath_hold = False
        self._timers.pop(Timer.BREATH_HOLD, None)
        self._timers.pop(Timer.SILENCE, None)
        s = self.settings
        if self._pacer is None:
            self._pacer = Pacer(s.pacer_inhale_s, s.pacer_exhale_s, s.pacer_hold_in_s, s.pacer_hold_out_s, t0_s=t)
            self._pacer_last = t - 1e-6
            self.follow.pacer_started(self._pacer, t)
        key: CueWording | None
        if reason is CueReason.SIGNAL_LOST:
            key = "lead_link_hold" if self.hold is not None else "lead_link"
        elif reason in _LEAD_WORDINGS:
            key = _LEAD_WORDINGS[reason]
        else:  # losing the breath is said in full once; an RR strap never says it
            key = "lead_again" if self.handovers or self.signal == "rr" else None
            self.handovers += 1
        self._cue(CueKind.FALLBACK_PACER, t, reason=reason, count=count,
                  since_s=None if since is None else r3(since),
                  hold_clock=self._hold_clock() if reason is CueReason.SIGNAL_LOST else None, text_key=key)

    def _may_take_back(self, t: float) -> bool:
        s = self.settings
        if self._sensor_waiting(t) or self._good < s.good_events:
            return False
        if self.rr_mode and not s.rr_follow_breath:
            return False
        return t - (self._fallback_since if self._fallback_since is not None else t) >= s.pacer_min_s

    def _stop_fallback(self, t: float) -> None:
        since = t - self._fallback_since if self._fallback_since is not None else 0.0
        self._fallback = False
        self.fallback_s += since
        self._fallback_since = None
        self._lead_reason = None
        if self.stage is not Stage.BREATHING:
            self._pacer = None
            self.follow.pacer_stopped(t)
        self._cue(CueKind.SIGNAL_RESTORED, t, reason=CueReason.CONFIDENT, count=self._good, since_s=r3(since))

    # ------------------------------------------------------------------ breathing input

    def _on_breath(self, ev: BreathEvent, t: float) -> None:
        # only events the detector is confident of (quality >= min_quality) are cued on; the rest are
        # recorded, and only a long run of them hands the lead to the clock pacer, which says so
        s = self.settings
        poor = ev.quality is not None and ev.quality < s.min_quality
        self._poor = self._poor + 1 if poor else 0
        self._good = 0 if poor else self._good + 1
        self.breaths.append(BreathRecord(
            t_s=r3(ev.t_s), kind=ev.kind, detected_at_s=r3(ev.detected_at_s), signal=ev.signal,
            rate_bpm=None if ev.rate_bpm is None else r3(ev.rate_bpm),
            quality=None if ev.quality is None else r3(ev.quality),
            source=BreathSource.DETECTOR, stage=self.stage, side=self._side_name(),
        ))
        if "gap" in self._down:  # data flows again after a gap the detector found
            self._sensor_up(t, "gap", CueReason.DATA_RESUMED)
        if self.rr_mode and ev.signal not in ("rr", ""):
            self.rr_mode = False  # a chest signal after all: the breath may lead as usual
        if (ev.signal == "acc" and self.signal != "acc" and self.stage is Stage.PREPARATION and self.side is None
                and not self._fallback):
            # the breathing now comes from an accelerometer (its header came late, or RR carried
            # the first seconds): calibrate its polarity before going on, unsure events included
            self.signal = "acc"
            self._enter(Stage.CALIBRATION, t)
            self._cue(CueKind.CALIBRATE, t)
        if self._fallback:
            if not self._may_take_back(t):
                return
            self._stop_fallback(t)
        elif poor and self.stage is Stage.CALIBRATION:
            # the calibration breath counts unsure exhales (it is what makes the polarity
            # confident), but they do not count as followed breathing
            self._start_calibration_clock(t)
            self._phase(ev.kind, t, ev.t_s, BreathSource.DETECTOR)
            return
        elif poor:
            unsure_s = t - self._confident_ref
            if self._poor >= s.poor_events and unsure_s >= self._unsure_limit() and not self._sensor_waiting(t):
                self._start_fallback(t, CueReason.SIGNAL_POOR, count=self._poor, since=unsure_s)
                return
            # not confident enough to cue on, but a breath of the hold all the same; the person
            # is still breathing, so no breath-hold cue, and the signal is not silent
            self._count_in_hold(ev.kind, ev.t_s)
            self._breath_hold = False
            self._last_breath_t = t
            if Timer.BREATH_HOLD in self._timers:
                self._timers[Timer.BREATH_HOLD] = t + self._quiet_limits()[0]
            if not self._sensor_waiting(t):
                self._timers[Timer.SILENCE] = t + self._quiet_limits()[1]
            return
        self._last_breath_t = t
        self._confident_ref = max(self._confident_ref, t)
        self._breath_hold = False
        if ev.kind == "exhale":
            self._exhales.append(ev.t_s)
            self._stage_exhales.append(ev.t_s)
        hold_s, silence_s = self._quiet_limits()
        if len(self._exhales) >= 2:  # a hold is judged against the user's own rhythm
            self._timers[Timer.BREATH_HOLD] = t + hold_s
        self._timers[Timer.SILENCE] = t + silence_s
        self._start_calibration_clock(t)
        self._phase(ev.kind, t, ev.t_s, BreathSource.DETECTOR)
        if ev.kind == "exhale" and not self.finished:
            self._check_fast(t)

    def _start_calibration_clock(self, t: float) -> None:
        if self.stage is Stage.CALIBRATION and not self._calib_started:
            # the calibration breath can only start once breathing shows up (ACC takes a while)
            self._calib_started = True
            self._timers[Timer.STAGE] = t + self.settings.calibration_max_s

    def _on_notice(self, ev: SignalNotice, t: float) -> None:
        if ev.kind == Notice.BREATH_HOLD:
            if not self._fallback and not self._breath_hold:
                self._breath_hold = True
                self._cue(CueKind.KEEP_BREATHING, t, reason=CueReason.BREATH_HOLD)
        elif ev.kind == Notice.BREATHING_RESUMED:
            self._breath_hold = False
        elif ev.kind == Notice.MOTION:
            # no breath is seen while the body moves: that silence is not a breath hold. A long
            # movement where stillness is meant (rolling over, sitting up) is said, and the pacer
            # guides until breaths are confident again
            self._timers.setdefault(Timer.MOTION, t + self.settings.motion_pacer_s)
            self._timers.pop(Timer.BREATH_HOLD, None)
        elif ev.kind == Notice.MOTION_ENDED:
            self._timers.pop(Timer.MOTION, None)
            if len(self._exhales) >= 2 and not self._fallback:
                self._timers[Timer.BREATH_HOLD] = t + self._quiet_limits()[0]
        elif ev.kind == Notice.SIGNAL_LOST:
            self._sensor_down(t, "gap")
        elif ev.kind == Notice.SIGNAL_RESTORED and "gap" in self._down:
            self._sensor_up(t, "gap", CueReason.DATA_RESUMED)
        elif ev.kind == HEALED_GAP and not self._sensor_waiting(t):
            gap = ev.detail.get("gap_s")
            self._settle(t, CueReason.GAP, float(gap) if isinstance(gap, (int, float)) else 0.0)
        elif ev.kind == Notice.POLARITY and self.stage is Stage.CALIBRATION:
            self._cue(CueKind.CALIBRATED, t)
            self._after_calibration(t)

    def _on_pacer(self, phase: PacePhase, t: float) -> None:
        if self.stage is Stage.BREATHING:
            self._cue(PACE_CUES[phase], t, source=BreathSource.PACER)
        elif self._fallback and (phase == "inhale" or phase == "exhale"):
            self.breaths.append(BreathRecord(
                t_s=r3(t), kind=phase, detected_at_s=r3(t), signal="pacer", rate_bpm=None, quality=None,
                source=BreathSource.PACER, stage=self.stage, side=self._side_name(),
            ))
            self._emit(PacedPhase(r3(t), phase, self.stage, self._side_name()))
            self._phase(phase, t, t, BreathSource.PACER)

    def _on_beats(self, times_s: Sequence[float], rr_ms: Sequence[float]) -> list[FollowingScored]:
        self.beats.extend(zip(times_s, rr_ms, strict=True))
        return self.follow.beats(times_s, rr_ms)

    # ------------------------------------------------------------------ limits

    def _quiet_limits(self) -> tuple[float, float]:
        """How long without a breath counts as a breath hold, and as a lost signal.

        The settings give the floor; someone breathing very slowly (or a slow RR-derived
        signal) gets proportionally longer, so a normal slow breath is never taken for a hold.
        """
        s = self.settings
        recent = self._exhales[-QUIET_PERIODS - 1:]
        periods = [b - a for a, b in zip(recent, recent[1:]) if b > a]
        if not periods:
            return s.breath_hold_s, s.signal_silence_s
        typical = statistics.median(periods)
        hold_s = max(s.breath_hold_s, QUIET_HOLD_FACTOR * typical)
        return hold_s, max(s.signal_silence_s, QUIET_SILENCE_FACTOR * typical)

    def _unsure_limit(self) -> float:
        """How long without a confident breath hands the lead to the pacer (slow breathers longer)."""
        return max(self.settings.unsure_handover_s, self._quiet_limits()[1])

    def _check_fast(self, t: float) -> None:
        s = self.settings
        if self.settled_rate_bpm is None:
            first = self._exhales[: s.prep_settle_breaths + 1]
            rates = [60.0 / (b - a) for a, b in zip(first, first[1:]) if b > a]
            if len(rates) >= s.prep_settle_breaths:
                self.settled_rate_bpm = statistics.median(rates)
            return
        if self.stage not in HOLD_STAGES or t - self._last_fast_cue < s.fast_cooldown_s:
            return
        recent = [x for x in self._exhales[-FAST_WINDOW_EXHALES:] if x >= t - FAST_WINDOW_MAX_S]
        if len(recent) < FAST_WINDOW_EXHALES:
            return
        rate = rate_of(recent)
        base = self.settled_rate_bpm
        if rate is not None and rate > base * s.fast_factor and rate - base >= s.fast_min_delta_bpm:
            self._last_fast_cue = t
            self._cue(CueKind.EASE_PRESSURE, t, rate_bpm=r3(rate), settled_rate_bpm=r3(base))
