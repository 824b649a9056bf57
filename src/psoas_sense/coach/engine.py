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
:mod:`psoas_sense.coach.stages`, the breathing input and who leads (the breath or the pacer, the
sensor's drops and settle periods, the RR-only mode) in :mod:`psoas_sense.coach.lead`; this
module is the public protocol and the clock of timers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from psoas_sense.coach.lead import LeadLogic
from psoas_sense.coach.safety import SafetyCheck
from psoas_sense.coach.settings import CoachSettings
from psoas_sense.coach.stages import StageLogic
from psoas_sense.coach.state import Timer, drop_healed_gaps, notice_time, r3
from psoas_sense.coach.texts import NOT_MEDICAL_ADVICE
from psoas_sense.events import COMMAND_NAMES, CoachEvent, Command, ErrorReported, ProtocolChanged, SafetyChecked
from psoas_sense.model import BreathEvent, CoreEvent, Status
from psoas_sense.vocab import CueKind, CueReason, Ending, PacePhase, Practice, Stage

FIRE: dict[Timer, Callable[[LeadLogic, float], None]] = {
    Timer.HOLD_TARGET: StageLogic._fire_hold_target,
    Timer.HOLD_CAP: StageLogic._fire_hold_cap,
    Timer.STAGE: StageLogic._fire_stage,
    Timer.SIDE_WARN: StageLogic._fire_side_warn,
    Timer.SIDE_END: StageLogic._fire_side_end,
    Timer.SIDE_CAP: StageLogic._fire_side_cap,
    Timer.BREATH_HOLD: LeadLogic._fire_breath_hold,
    Timer.SILENCE: LeadLogic._fire_silence,
    Timer.MOTION: LeadLogic._fire_motion,
    Timer.SETTLE: LeadLogic._fire_settle,
}
"""What each timer does when it falls due."""
PACER_ORDER = len(Timer)
"""The pacer's phase boundary comes after every timer due at the same time."""


class CoachEngine(LeadLogic):
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
        if self.protocol is not Practice.BREATHING and not self.safety.cleared:
            self.protocol = Practice.BREATHING
            self._emit(ProtocolChanged(r3(t), self.requested_protocol, Practice.BREATHING, self.safety.status,
                                       self.safety.blocked_text()))
        self._timers[Timer.SILENCE] = t + self.settings.signal_silence_s
        self._confident_ref = t
        self.rr_mode = self.rr_mode and self.protocol is not Practice.BREATHING
        if self.signal == "acc":
            self._enter(Stage.CALIBRATION, t)
            self._cue(CueKind.CALIBRATE, t)
            # until the first breath shows up, wait as long as for a lost signal
            s = self.settings
            self._timers[Timer.STAGE] = t + max(s.calibration_max_s, s.signal_silence_s)
        else:
            self._after_calibration(t)
            if self.rr_mode:  # an RR-only strap: the pacer leads by design, said once
                self._start_fallback(t, CueReason.RR_ONLY)
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
            self._on_status(status, t)
        return self._flush()

    def on_streams(self, streams: Mapping[str, object]) -> None:
        """The source's streams, once known (a live strap tells them only once connected): a
        strap with RR intervals and nothing else to breathe from is an RR-only strap."""
        if self.t_start_s is None and not self.signal and "rr" in streams and not {"resp", "acc"} & set(streams):
            self.signal = "rr"
            self.rr_mode = self.settings.rr_lead and self.requested_protocol is not Practice.BREATHING

    def on_beats(self, times_s: Sequence[float], rr_ms: Sequence[float]) -> list[CoachEvent]:
        """Heartbeats from the strap (time of the beat ending each interval, and the interval, ms):
        while the pacer leads, how closely the heart follows it (no effect on the practice)."""
        if self.finished or self.t_start_s is None:
            return []
        return list(self._on_beats(times_s, rr_ms))

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
            self._end_session(t, Ending.QUIT)
        elif cmd is Command.SOFTEN:
            self._soften(t)
        else:
            self._next(t)
        return self._flush()

    def finish(self, t_s: float, ended_by: Ending = Ending.END_OF_INPUT) -> list[CoachEvent]:
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
            # what falls due first (ties: the timers' order, then the pacer)
            due: list[tuple[float, int, Timer | PacePhase]] = [
                (when, int(timer), timer) for timer, when in self._timers.items() if when <= t_s
            ]
            if self._pacer is not None:
                tb, phase = self._pacer.next_boundary(self._pacer_last)
                if tb <= t_s:
                    due.append((tb, PACER_ORDER, phase))
            if not due:
                break
            when, _, what = min(due)
            self.now_s = max(self.now_s or when, when)
            if isinstance(what, Timer):
                del self._timers[what]
                FIRE[what](self, when)
            else:
                self._pacer_last = when
                self._on_pacer(what, when)
        if self.now_s is None or t_s > self.now_s:
            self.now_s = t_s
