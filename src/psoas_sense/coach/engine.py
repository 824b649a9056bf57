"""The coach: the guide's practice as a deterministic state machine on data time.

Pure: no clock, no I/O. Time comes with the calls (``start``, ``on_events``, ``tick``...), and
every event it returns carries the data time at which it was decided. Feeding the same
events and commands at the same times always gives the same events.

Stages of a massage session (``manual``; ``tool`` replaces locate/static/active by
tool_position/tool)::

    [calibration] -> preparation -> side 1: locate -> static -> active -> (repress -> static
    -> active)* -> [rest] -> switch -> side 2 (same) -> finish

``breathing`` is [calibration] -> breathing (paced) -> finish. ``pain`` stops everything at
any stage; ``quit`` or the end of input (``finish``) close what is open and end the session.

The state lives in :mod:`psoas_sense.coach.state`, the stage logic in
:mod:`psoas_sense.coach.stages`; this module is the public protocol and the breathing input.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from psoas_sense.coach.pacer import Pacer
from psoas_sense.coach.safety import SafetyCheck
from psoas_sense.coach.settings import CoachSettings
from psoas_sense.coach.stages import StageLogic
from psoas_sense.coach.state import (
    FAST_WINDOW_EXHALES,
    FAST_WINDOW_MAX_S,
    HOLD_STAGES,
    LINK_DOWN_STATES,
    LINK_UP_STATES,
    QUIET_HOLD_FACTOR,
    QUIET_PERIODS,
    QUIET_SILENCE_FACTOR,
    STILL_STAGES,
    TIMER_ORDER,
    drop_healed_gaps,
    notice_time,
    r3,
    rate_of,
)
from psoas_sense.coach.texts import NOT_MEDICAL_ADVICE
from psoas_sense.events import (
    COMMAND_NAMES,
    BreathRecord,
    CoachEvent,
    Command,
    ErrorReported,
    ProtocolChanged,
    SafetyChecked,
)
from psoas_sense.model import BreathEvent, CoreEvent, SignalNotice, Status


class CoachEngine(StageLogic):
    """The pure coach. See the module docstring for the stages.

    Args:
        settings: validated settings (``settings.protocol`` is the protocol asked for).
        safety: the answer to the safety check; unless it is cleared, the massage protocols
            fall back to breathing practice only.
        signal: the kind of breathing signal the source gives (``acc`` starts with the
            polarity calibration "breathe in deeply").
    """

    def __init__(self, settings: CoachSettings, safety: SafetyCheck | None = None, *, signal: str = "") -> None:
        super().__init__(settings, safety, signal=signal)

    # ------------------------------------------------------------------ public protocol

    def start(self, t_s: float) -> list[CoachEvent]:
        """Begin the session at data time ``t_s`` (the first item's time)."""
        if self.t_start_s is not None:
            return []
        self.t_start_s = self.now_s = float(t_s)
        t = self.now_s
        self._emit(SafetyChecked(r3(t), self.safety.status, tuple(self.safety.conditions), NOT_MEDICAL_ADVICE))
        if self.protocol != "breathing" and not self.safety.cleared:
            self.protocol = "breathing"
            self._emit(ProtocolChanged(r3(t), self.requested_protocol, "breathing", self.safety.status,
                                       self.safety.blocked_text()))
        self._timers["silence"] = t + self.settings.signal_silence_s
        if self.signal == "acc":
            self._enter("calibration", t)
            self._cue("calibrate", t)
            # until the first breath shows up, wait as long as for a lost signal
            s = self.settings
            self._timers["stage"] = t + max(s.calibration_max_s, s.signal_silence_s)
        else:
            self._after_calibration(t)
        return self._flush()

    def on_events(self, events: Sequence[CoreEvent], t_s: float) -> list[CoachEvent]:
        """Detector events just produced; ``t_s`` is the newest data time."""
        if self.finished or self.t_start_s is None:
            return []
        for ev in drop_healed_gaps(events):
            at = ev.detected_at_s if isinstance(ev, BreathEvent) else notice_time(ev)
            te = min(float(at), float(t_s))
            if self.now_s is not None:
                te = max(te, self.now_s)
            self._advance(te)
            if self.finished:
                break
            if isinstance(ev, BreathEvent):
                self._on_breath(ev, te)
            else:
                self._on_notice(ev, te)
        self._advance(t_s)
        return self._flush()

    def on_status(self, status: Status) -> list[CoachEvent]:
        """A change of the source's link state."""
        if self.finished or self.t_start_s is None:
            return []
        t = max(float(status.t_s), self.now_s or float(status.t_s))
        self._advance(t)
        if not self.finished:
            if status.state in LINK_DOWN_STATES:
                self._link_lost = True
                if not self._fallback:
                    self._start_fallback(t, "signal_lost")
            elif status.state in LINK_UP_STATES and self._link_lost:
                self._link_lost = False
                if not self._fallback:
                    self._timers["silence"] = t + self.settings.signal_silence_s
        return self._flush()

    def tick(self, t_s: float) -> list[CoachEvent]:
        """Data time has advanced to ``t_s``: fire whatever fell due."""
        if self.finished or self.t_start_s is None:
            return []
        self._advance(t_s)
        return self._flush()

    def command(self, command: Command | str, t_s: float) -> list[CoachEvent]:
        """A user command (:class:`~psoas_sense.events.Command`, or its name)."""
        cmd = command if isinstance(command, Command) else Command.parse(command)
        t = float(t_s) if self.now_s is None else max(float(t_s), self.now_s)
        if cmd is None:
            self._emit(ErrorReported(r3(t), f"unknown command {str(command).strip().lower()!r}; "
                                            f"use {', '.join(COMMAND_NAMES)}"))
            return self._flush()
        if self.finished:
            return []
        if self.t_start_s is None:
            self._out = self.start(t)
        self._advance(t)
        if self.finished:
            return self._flush()
        if cmd is Command.PAIN:
            self._pain(t)
        elif cmd is Command.QUIT:
            self._end_session(t, "quit")
        elif cmd is Command.SOFTEN:
            self._soften(t)
        else:
            self._next(t)
        return self._flush()

    def finish(self, t_s: float, ended_by: str = "end_of_input") -> list[CoachEvent]:
        """End of input, interrupted, or the link given up: close what is open and end the session."""
        if self.finished:
            return []
        if self.t_start_s is None:
            self._out = self.start(t_s)
        t = max(float(t_s), self.now_s or float(t_s))
        self._advance(t)
        if not self.finished:
            self._end_session(t, ended_by)
        return self._flush()

    # ------------------------------------------------------------------ time

    def _advance(self, t_s: float) -> None:
        t_s = float(t_s)
        if self.now_s is not None and t_s < self.now_s:
            t_s = self.now_s
        while not self.finished:
            due: list[tuple[float, int, str]] = []
            for i, name in enumerate(TIMER_ORDER):
                when = self._timers.get(name)
                if when is not None and when <= t_s:
                    due.append((when, i, name))
            if self._pacer is not None:
                tb, kind = self._pacer.next_boundary(self._pacer_last)
                if tb <= t_s:
                    due.append((tb, len(TIMER_ORDER), "pacer:" + kind))
            if not due:
                break
            when, _, name = min(due)
            self.now_s = max(self.now_s or when, when)
            if name.startswith("pacer:"):
                self._pacer_last = when
                self._on_pacer(name[6:], when)
            else:
                del self._timers[name]
                getattr(self, "_fire_" + name)(when)
        if self.now_s is None or t_s > self.now_s:
            self.now_s = t_s

    def _fire_breath_hold(self, t: float) -> None:
        if not self._fallback and not self._breath_hold:
            self._breath_hold = True
            since = t - self._last_breath_t if self._last_breath_t is not None else 0.0
            self._cue("keep_breathing", t, reason="no_breath", since_s=r3(since))

    def _fire_silence(self, t: float) -> None:
        if not self._fallback:
            self._start_fallback(t, "no_breaths")

    def _fire_motion(self, t: float) -> None:
        if not self._fallback and self.stage in STILL_STAGES:
            self._start_fallback(t, "motion")

    # ------------------------------------------------------------------ breathing input

    def _on_breath(self, ev: BreathEvent, t: float) -> None:
        # only events the detector is confident of (quality >= min_quality) are cued on; the rest are
        # recorded, and a run of them hands the session to the clock pacer, which says so
        poor = ev.quality is not None and ev.quality < self.settings.min_quality
        self._poor = self._poor + 1 if poor else 0
        self._good = 0 if poor else self._good + 1
        self.breaths.append(BreathRecord(
            t_s=r3(ev.t_s), kind=ev.kind, detected_at_s=r3(ev.detected_at_s), signal=ev.signal,
            rate_bpm=None if ev.rate_bpm is None else r3(ev.rate_bpm),
            quality=None if ev.quality is None else r3(ev.quality),
            source="detector", stage=self.stage, side=self._side_name(),
        ))
        if (ev.signal == "acc" and self.signal != "acc" and self.stage == "preparation" and self.side is None
                and not self._fallback):
            # the breathing now comes from an accelerometer (its header came late, or RR carried
            # the first seconds): calibrate its polarity before going on, unsure events included
            self.signal = "acc"
            self._enter("calibration", t)
            self._cue("calibrate", t)
        if self._fallback:
            if self._link_lost or self._good < self.settings.good_events:
                return
            self._stop_fallback(t)
        elif poor and self.stage == "calibration":
            # the calibration breath counts unsure exhales (it is what makes the polarity
            # confident), but they do not count as followed breathing
            self._start_calibration_clock(t)
            self._phase(ev.kind, t, ev.t_s, "detector")
            return
        elif poor:
            if self._poor >= self.settings.poor_events and self._exhales:
                # (before the first confident exhale the detector is still settling: the silence
                # timer, not this run, hands a session that never gets going to the pacer)
                self._start_fallback(t, "signal_poor")
                return
            # not confident enough to cue on, but a breath of the hold all the same; the person
            # is still breathing, so no breath-hold cue
            self._count_in_hold(ev.kind, ev.t_s)
            self._breath_hold = False
            self._last_breath_t = t
            if "breath_hold" in self._timers:
                self._timers["breath_hold"] = t + self._quiet_limits()[0]
            return
        self._last_breath_t = t
        self._breath_hold = False
        if ev.kind == "exhale":
            self._exhales.append(ev.t_s)
            self._stage_exhales.append(ev.t_s)
        hold_s, silence_s = self._quiet_limits()
        if len(self._exhales) >= 2:  # a hold is judged against the user's own rhythm
            self._timers["breath_hold"] = t + hold_s
        self._timers["silence"] = t + silence_s
        self._start_calibration_clock(t)
        self._phase(ev.kind, t, ev.t_s, "detector")
        if ev.kind == "exhale" and not self.finished:
            self._check_fast(t)

    def _start_calibration_clock(self, t: float) -> None:
        if self.stage == "calibration" and not self._calib_started:
            # the calibration breath can only start once breathing shows up (ACC takes a while)
            self._calib_started = True
            self._timers["stage"] = t + self.settings.calibration_max_s

    def _on_notice(self, ev: SignalNotice, t: float) -> None:
        if ev.kind == "breath_hold":
            if not self._fallback and not self._breath_hold:
                self._breath_hold = True
                self._cue("keep_breathing", t, reason="breath_hold")
        elif ev.kind == "breathing_resumed":
            self._breath_hold = False
        elif ev.kind == "motion":
            # no breath is seen while the body moves: that silence is not a breath hold. A long
            # movement where stillness is meant (rolling over, sitting up) is said, and the pacer
            # guides until breaths are confident again
            self._timers.setdefault("motion", t + self.settings.motion_pacer_s)
            self._timers.pop("breath_hold", None)
        elif ev.kind == "motion_ended":
            self._timers.pop("motion", None)
            if len(self._exhales) >= 2 and not self._fallback:
                self._timers["breath_hold"] = t + self._quiet_limits()[0]
        elif ev.kind == "signal_lost":
            if not self._fallback:
                self._start_fallback(t, "signal_lost")
        elif ev.kind == "polarity" and self.stage == "calibration":
            self._cue("calibrated", t)
            self._after_calibration(t)

    def _on_pacer(self, kind: str, t: float) -> None:
        if self.stage == "breathing":
            self._cue("pace_" + kind, t, source="pacer")
        elif self._fallback and kind in ("inhale", "exhale"):
            self.breaths.append(BreathRecord(
                t_s=r3(t), kind=kind, detected_at_s=r3(t), signal="pacer", rate_bpm=None, quality=None,
                source="pacer", stage=self.stage, side=self._side_name(),
            ))
            self._phase(kind, t, t, "pacer")

    def _start_fallback(self, t: float, reason: str) -> None:
        self._fallback = True
        self._fallback_since = t
        self._good = 0
        self._breath_hold = False
        self._timers.pop("breath_hold", None)
        self._timers.pop("silence", None)
        s = self.settings
        if self._pacer is None:
            self._pacer = Pacer(s.pacer_inhale_s, s.pacer_exhale_s, s.pacer_hold_in_s, s.pacer_hold_out_s, t0_s=t)
            self._pacer_last = t - 1e-6
        self._cue("fallback_pacer", t, reason=reason)

    def _stop_fallback(self, t: float) -> None:
        self._fallback = False
        if self._fallback_since is not None:
            self.fallback_s += t - self._fallback_since
        self._fallback_since = None
        if self.stage != "breathing":
            self._pacer = None
        self._cue("signal_restored", t)

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
            self._cue("ease_pressure", t, rate_bpm=r3(rate), settled_rate_bpm=r3(base))
