"""The coach: the guide's practice as a deterministic state machine on data time.

Pure: no clock, no I/O. Time comes with the calls (``start``, ``on_events``, ``tick``...), and
every output line carries the data time ``t`` at which it was decided. Feeding the same events
and commands at the same times always gives the same lines.

Stages of a massage session (``manual``; ``tool`` replaces locate/static/active by
tool_position/tool)::

    [calibration] -> preparation -> side 1: locate -> static -> active -> (repress -> static
    -> active)* -> [rest] -> switch -> side 2 (same) -> finish

``breathing`` is [calibration] -> breathing (paced) -> finish. ``pain`` stops everything at
any stage; ``quit`` or the end of input (``finish``) close what is open and end the session.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from typing import Any

from psoas_sense.coach.pacer import Pacer, adherence
from psoas_sense.coach.safety import SafetyCheck
from psoas_sense.coach.settings import SIDES, CoachSettings
from psoas_sense.coach.texts import NOT_MEDICAL_ADVICE, PAIN_STOP, cue_text, stage_text
from psoas_sense.model import BreathEvent, CoreEvent, SignalNotice, Status

COMMANDS = ("soften", "next", "pain", "quit")
"""Commands the coach accepts (keys in the TUI, stdin lines in headless mode)."""

MARKER_EVENTS = ("hold_start", "hold_end", "side_start", "side_end", "pain_stop", "stage", "session_end")
"""Output events that the runner also writes into a recording as markers."""

LINK_DOWN_STATES = ("lost", "reconnecting", "stopped")
LINK_UP_STATES = ("streaming", "connected", "reconnected")
HOLD_STAGES = ("static", "active", "tool")
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

# Timer order when several fall due at the same time.
_TIMER_ORDER = ("hold_target", "hold_cap", "stage", "side_warn", "side_end", "side_cap", "breath_hold", "silence")


def _r(x: float) -> float:
    return round(float(x), 3)


def _notice_time(ev: SignalNotice) -> float:
    """When a notice became known: its detection time when given, else its time."""
    at = getattr(ev, "detected_at_s", math.nan)
    return float(at) if at is not None and math.isfinite(at) else float(ev.t_s)


def _drop_healed_gaps(events: Sequence[CoreEvent]) -> list[CoreEvent]:
    """Events without a ``signal_lost`` that is already ``signal_restored`` in the same batch.

    A gap found only once data flows again is over: announcing the pacer then would only
    confuse someone with their eyes closed.
    """
    out = list(events)
    for i, ev in enumerate(out):
        if isinstance(ev, SignalNotice) and ev.kind == "signal_lost":
            for j in range(i + 1, len(out)):
                other = out[j]
                if isinstance(other, SignalNotice) and other.kind == "signal_restored":
                    return _drop_healed_gaps(out[:i] + out[i + 1:j] + out[j + 1:])
    return out


def _rate_of(times: Sequence[float]) -> float | None:
    if len(times) < 2:
        return None
    span = times[-1] - times[0]
    return 60.0 * (len(times) - 1) / span if span > 0 else None


class CoachEngine:
    """The pure coach. See the module docstring for the stages.

    Args:
        settings: validated settings (``settings.protocol`` is the protocol asked for).
        safety: the answer to the safety check; unless it is cleared, the massage protocols
            fall back to breathing practice only.
        signal: the kind of breathing signal the source gives (``acc`` starts with the
            polarity calibration "breathe in deeply").
    """

    def __init__(self, settings: CoachSettings, safety: SafetyCheck | None = None, *, signal: str = "") -> None:
        self.settings = settings.validate()
        self.safety = safety or SafetyCheck()
        self.signal = signal
        self.requested_protocol = settings.protocol
        self.protocol = settings.protocol
        self.finished = False
        self.ended_by: str | None = None
        self.stage = "idle"
        self.t_start_s: float | None = None
        self.now_s: float | None = None
        self._lines: list[dict[str, Any]] = []
        self._timers: dict[str, float] = {}
        self._step = 0
        # sides and holds
        self.side: dict[str, Any] | None = None
        self.sides: list[dict[str, Any]] = []
        self.hold: dict[str, Any] | None = None
        self.holds: list[dict[str, Any]] = []
        self.point = 0
        self._last_softened = False
        # breathing
        self.breaths: list[dict[str, Any]] = []
        """Every breath phase seen: detected ones and, in fallback, the pacer's."""
        self._exhales: list[float] = []
        self._stage_exhales: list[float] = []
        self.settled_rate_bpm: float | None = None
        self._last_breath_t: float | None = None
        self._breath_hold = False
        self._poor = 0
        self._good = 0
        self._link_lost = False
        self._fallback = False
        self._fallback_since: float | None = None
        self.fallback_s = 0.0
        self._pacer: Pacer | None = None
        self._pacer_last: float = -math.inf
        self._last_fast_cue: float = -math.inf
        self._calib_exhales = 0
        self._calib_started = False
        self.adherence_scores: list[float] = []
        self.pain_stops: list[dict[str, Any]] = []
        self.cue_count = 0

    # ------------------------------------------------------------------ public protocol

    def start(self, t_s: float) -> list[dict[str, Any]]:
        """Begin the session at data time ``t_s`` (the first item's time)."""
        if self.t_start_s is not None:
            return []
        self.t_start_s = self.now_s = float(t_s)
        t = self.now_s
        self._out(
            "safety",
            t,
            status=self.safety.status,
            conditions=list(self.safety.conditions),
            text=NOT_MEDICAL_ADVICE,
        )
        if self.protocol != "breathing" and not self.safety.cleared:
            self.protocol = "breathing"
            self._out(
                "protocol_changed",
                t,
                requested=self.requested_protocol,
                protocol="breathing",
                reason=self.safety.status,
                text=self.safety.blocked_text(),
            )
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

    def on_events(self, events: Sequence[CoreEvent], t_s: float) -> list[dict[str, Any]]:
        """Detector events just produced; ``t_s`` is the newest data time."""
        if self.finished or self.t_start_s is None:
            return []
        for ev in _drop_healed_gaps(events):
            at = ev.detected_at_s if isinstance(ev, BreathEvent) else _notice_time(ev)
            te = min(float(at), float(t_s))
            if self.now_s is not None:
                te = max(te, self.now_s)
            self._advance(te)
            if self.finished:
                break
            if isinstance(ev, BreathEvent):
                self._on_breath(ev, te)
            elif isinstance(ev, SignalNotice):
                self._on_notice(ev, te)
        self._advance(t_s)
        return self._flush()

    def on_status(self, status: Status) -> list[dict[str, Any]]:
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

    def tick(self, t_s: float) -> list[dict[str, Any]]:
        """Data time has advanced to ``t_s``: fire whatever fell due."""
        if self.finished or self.t_start_s is None:
            return []
        self._advance(t_s)
        return self._flush()

    def command(self, name: str, t_s: float) -> list[dict[str, Any]]:
        """A user command: ``soften``, ``next``, ``pain`` or ``quit``."""
        name = name.strip().lower()
        t = float(t_s) if self.now_s is None else max(float(t_s), self.now_s)
        if name not in COMMANDS:
            self._out("error", t, message=f"unknown command {name!r}; use {', '.join(COMMANDS)}")
            return self._flush()
        if self.finished:
            return []
        if self.t_start_s is None:
            self._lines = self.start(t)
        self._advance(t)
        if self.finished:
            return self._flush()
        if name == "pain":
            self._pain(t)
        elif name == "quit":
            self._end_session(t, "quit")
        elif name == "soften":
            self._soften(t)
        else:
            self._next(t)
        return self._flush()

    def finish(self, t_s: float) -> list[dict[str, Any]]:
        """End of input or interrupted: close what is open and end the session."""
        if self.finished:
            return []
        if self.t_start_s is None:
            self._lines = self.start(t_s)
        t = max(float(t_s), self.now_s or float(t_s))
        self._advance(t)
        if not self.finished:
            self._end_session(t, "end_of_input")
        return self._flush()

    # ------------------------------------------------------------------ output

    def _out(self, event: str, t: float, **fields: Any) -> dict[str, Any]:
        line: dict[str, Any] = {"event": event, "t": _r(t)}
        line.update(fields)
        self._lines.append(line)
        return line

    def _flush(self) -> list[dict[str, Any]]:
        out, self._lines = self._lines, []
        return out

    def _side_name(self) -> str | None:
        return self.side["side"] if self.side else None

    def _cue(self, kind: str, t: float, **fields: Any) -> None:
        fmt = {k: fields.pop(k) for k in ("seconds",) if k in fields}
        side = self._side_name()
        text = cue_text(kind, side=fields.get("to_side", side or ""), **fmt)
        extra: dict[str, Any] = {"kind": kind, "text": text, "stage": self.stage}
        if side:
            extra["side"] = side
        extra.update(fields)
        self.cue_count += 1
        if self.hold is not None:
            self.hold["cues"] += 1
        self._out("cue", t, **extra)

    def _enter(self, stage: str, t: float, text_key: str | None = None, **fields: Any) -> None:
        self.stage = stage
        self._step = 0
        self._stage_exhales = []
        self._timers.pop("stage", None)
        side = self._side_name()
        extra: dict[str, Any] = {"stage": stage, "text": stage_text(text_key or stage, side=side or "")}
        if side:
            extra["side"] = side
        extra.update(fields)
        self._out("stage", t, **extra)

    # ------------------------------------------------------------------ time

    def _advance(self, t_s: float) -> None:
        t_s = float(t_s)
        if self.now_s is not None and t_s < self.now_s:
            t_s = self.now_s
        while not self.finished:
            due: list[tuple[float, int, str]] = []
            for i, name in enumerate(_TIMER_ORDER):
                when = self._timers.get(name)
                if when is not None and when <= t_s:
                    due.append((when, i, name))
            if self._pacer is not None:
                tb, kind = self._pacer.next_boundary(self._pacer_last)
                if tb <= t_s:
                    due.append((tb, len(_TIMER_ORDER), "pacer:" + kind))
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

    def _fire_stage(self, t: float) -> None:
        s = self.stage
        if s == "calibration":
            self._after_calibration(t)
        elif s == "preparation":
            rates = self._interval_rates(self._stage_exhales)
            if self.settled_rate_bpm is None and len(rates) >= 2:
                self.settled_rate_bpm = statistics.median(rates)
            self._cue("settle_timeout", t)
            self._begin_sides(t)
        elif s == "locate":
            if self._step == 0:
                self._step = 1
                self._cue("lift_foot", t)
                self._timers["stage"] = t + self.settings.locate_lift_s
            elif self._step == 1:
                self._step = 2
                self._cue("lower_foot", t)
                self._timers["stage"] = t + self.settings.locate_lower_s
            else:
                self._start_hold("static", t)
        elif s == "repress":
            self._start_hold("static", t)
        elif s == "tool_position":
            self._start_hold("tool", t)
        elif s == "active":
            self._end_hold(t, "time")
        elif s == "switch":
            assert self.sides
            first = self.sides[0]
            self._start_side(SIDES[1 - SIDES.index(first["side"])], t, first["duration_s"])
        elif s == "breathing":
            self._end_session(t, "done")

    def _fire_hold_target(self, t: float) -> None:
        if self.hold is not None:
            self.hold["ending"] = True

    def _fire_hold_cap(self, t: float) -> None:
        if self.hold is not None:
            self._end_hold(t, "time")

    def _fire_side_warn(self, t: float) -> None:
        if self.side is not None:
            self._cue("side_ending", t, seconds=int(round(self.settings.side_warning_s)))

    def _fire_side_end(self, t: float) -> None:
        if self.side is None:
            return
        self.side["ending"] = True
        if self.hold is not None:
            self.hold["ending"] = True
        else:
            self._end_side(t, "time")

    def _fire_side_cap(self, t: float) -> None:
        if self.side is not None:
            self._end_side(t, "side_cap")

    def _fire_breath_hold(self, t: float) -> None:
        if not self._fallback and not self._breath_hold:
            self._breath_hold = True
            since = t - self._last_breath_t if self._last_breath_t is not None else 0.0
            self._cue("keep_breathing", t, reason="no_breath", since_s=_r(since))

    def _fire_silence(self, t: float) -> None:
        if not self._fallback:
            self._start_fallback(t, "no_breaths")

    # ------------------------------------------------------------------ breathing input

    def _on_breath(self, ev: BreathEvent, t: float) -> None:
        poor = ev.quality is not None and ev.quality < self.settings.min_quality
        self._poor = self._poor + 1 if poor else 0
        self._good = 0 if poor else self._good + 1
        rec = {
            "t": _r(ev.t_s),
            "kind": ev.kind,
            "detected_at": _r(ev.detected_at_s),
            "signal": ev.signal,
            "rate_bpm": None if ev.rate_bpm is None else _r(ev.rate_bpm),
            "quality": None if ev.quality is None else _r(ev.quality),
            "source": "detector",
            "stage": self.stage,
            "side": self._side_name(),
        }
        self.breaths.append(rec)
        if self._fallback:
            if self._link_lost or self._good < self.settings.good_events:
                return
            self._stop_fallback(t)
        elif self._poor >= self.settings.poor_events:
            self._start_fallback(t, "signal_poor")
            return
        self._last_breath_t = t
        self._breath_hold = False
        if ev.signal == "acc" and self.signal != "acc" and self.stage == "preparation" and self.side is None:
            # the breathing now comes from an accelerometer (its header came late, or RR carried
            # the first seconds): calibrate its polarity before going on
            self.signal = "acc"
            self._enter("calibration", t)
            self._cue("calibrate", t)
        if ev.kind == "exhale":
            self._exhales.append(ev.t_s)
            self._stage_exhales.append(ev.t_s)
        hold_s, silence_s = self._quiet_limits()
        if len(self._exhales) >= 2:  # a hold is judged against the user's own rhythm
            self._timers["breath_hold"] = t + hold_s
        self._timers["silence"] = t + silence_s
        if self.stage == "calibration" and not self._calib_started:
            # the calibration breath can only start once breathing shows up (ACC takes a while)
            self._calib_started = True
            self._timers["stage"] = t + self.settings.calibration_max_s
        self._phase(ev.kind, t, ev.t_s, "detector")
        if ev.kind == "exhale" and not self.finished:
            self._check_fast(t)

    def _on_notice(self, ev: SignalNotice, t: float) -> None:
        if ev.kind == "breath_hold":
            if not self._fallback and not self._breath_hold:
                self._breath_hold = True
                self._cue("keep_breathing", t, reason="breath_hold")
        elif ev.kind == "breathing_resumed":
            self._breath_hold = False
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
            self.breaths.append(
                {"t": _r(t), "kind": kind, "detected_at": _r(t), "signal": "pacer", "rate_bpm": None,
                 "quality": None, "source": "pacer", "stage": self.stage, "side": self._side_name()}
            )
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
        return max(s.breath_hold_s, QUIET_HOLD_FACTOR * typical), max(s.signal_silence_s, QUIET_SILENCE_FACTOR * typical)

    def _interval_rates(self, times: Sequence[float]) -> list[float]:
        return [60.0 / (b - a) for a, b in zip(times, times[1:]) if b > a]

    def _check_fast(self, t: float) -> None:
        s = self.settings
        if self.settled_rate_bpm is None:
            rates = self._interval_rates(self._exhales[: s.prep_settle_breaths + 1])
            if len(rates) >= s.prep_settle_breaths:
                self.settled_rate_bpm = statistics.median(rates)
            return
        if self.stage not in HOLD_STAGES or t - self._last_fast_cue < s.fast_cooldown_s:
            return
        recent = [x for x in self._exhales[-FAST_WINDOW_EXHALES:] if x >= t - FAST_WINDOW_MAX_S]
        if len(recent) < FAST_WINDOW_EXHALES:
            return
        rate = _rate_of(recent)
        base = self.settled_rate_bpm
        if rate is not None and rate > base * s.fast_factor and rate - base >= s.fast_min_delta_bpm:
            self._last_fast_cue = t
            self._cue("ease_pressure", t, rate_bpm=_r(rate), settled_rate_bpm=_r(base))

    # ------------------------------------------------------------------ stage logic

    def _phase(self, kind: str, t: float, breath_t: float, source: str) -> None:
        """One phase change (detected, or paced by the clock in fallback)."""
        s = self.settings
        tag: dict[str, Any] = {"breath_t": _r(breath_t), "source": source}
        hold = self.hold
        if hold is not None and kind == "exhale":
            hold["breaths"] += 1
            hold["exhales"].append(_r(breath_t))
        st = self.stage
        if st == "calibration":
            if kind == "exhale" and source == "detector":
                self._calib_exhales += 1
                if self._calib_exhales >= CALIBRATION_EXHALES:
                    self._cue("calibrated", t)
                    self._after_calibration(t)
        elif st == "preparation":
            self._cue("belly_out" if kind == "exhale" else "belly_in", t, **tag)
            if kind == "exhale" and source == "detector":
                self._check_settled(t)
        elif st == "static" and hold is not None:
            if kind == "exhale":
                self._cue("sink_deeper", t, **tag)
            elif hold["ending"]:
                self._end_hold(t, "time")
            elif s.cue_inhale:
                self._cue("hold_breathe", t, **tag)
        elif st == "tool" and hold is not None:
            if kind == "exhale":
                self._cue("tool_sink", t, **tag)
            elif hold["ending"]:
                self._end_hold(t, "time")
            elif s.cue_inhale:
                self._cue("tool_breathe", t, **tag)
        elif st == "active" and hold is not None:
            n = hold["breaths"]
            if kind == "exhale":
                if hold.get("bent"):
                    self._cue("release", t, **tag)
                    self._end_hold(t, "released")
                elif n > s.active_exhales:  # the inhale was missed: bend on this breath
                    hold["bent"] = True
                    self._cue("bend_knee", t, **tag)
                elif n < s.active_exhales:
                    self._cue("slide_foot", t, **tag)
                else:
                    self._cue("leg_straight", t, **tag)
            elif hold["ending"]:
                self._end_hold(t, "time")
            elif n >= s.active_exhales and not hold.get("bent"):
                hold["bent"] = True
                self._cue("bend_knee", t, **tag)
            elif not hold.get("bent"):
                self._cue("keep_pressure", t, **tag)
        elif st == "breathing" and kind == "exhale" and source == "detector" and self._pacer is not None:
            err = self._pacer.exhale_error_s(breath_t)
            score = adherence(err, self._pacer.period_s)
            self.adherence_scores.append(score)
            self._out(
                "pacing",
                t,
                breath_t=_r(breath_t),
                error_s=_r(err),
                score=_r(score),
                adherence=_r(100.0 * statistics.fmean(self.adherence_scores)),
            )

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
            self._cue("settled", t, rate_bpm=_r(rate))
            self._begin_sides(t)

    def _after_calibration(self, t: float) -> None:
        if self.protocol == "breathing":
            s = self.settings
            self._enter(
                "breathing",
                t,
                pacer={"inhale_s": s.pacer_inhale_s, "hold_in_s": s.pacer_hold_in_s,
                       "exhale_s": s.pacer_exhale_s, "hold_out_s": s.pacer_hold_out_s},
                duration_s=_r(s.breathing_minutes * 60.0),
            )
            self._pacer = Pacer(s.pacer_inhale_s, s.pacer_exhale_s, s.pacer_hold_in_s, s.pacer_hold_out_s, t0_s=t)
            self._pacer_last = t - 1e-6
            self._timers["stage"] = t + s.breathing_minutes * 60.0
        else:
            self._enter("preparation", t, "preparation" if self.protocol == "manual" else "preparation_tool")
            self._timers["stage"] = t + self.settings.prep_max_s

    def _begin_sides(self, t: float) -> None:
        self._start_side(self.settings.first_side, t, self.settings.side_s)

    def _start_side(self, name: str, t: float, target_s: float) -> None:
        s = self.settings
        self.side = {"side": name, "index": len(self.sides), "t_start": t, "target_s": target_s, "ending": False}
        self.point = 1
        self._last_softened = False
        self._out("side_start", t, side=name, index=len(self.sides), target_s=_r(target_s))
        if 0 < s.side_warning_s < target_s:
            self._timers["side_warn"] = t + target_s - s.side_warning_s
        self._timers["side_end"] = t + target_s
        self._timers["side_cap"] = t + target_s + s.side_cap_extra_s
        if self.protocol == "manual":
            self._enter("locate", t, point=self.point)
            self._timers["stage"] = t + s.locate_place_s
        else:
            self._enter("tool_position", t, point=self.point)
            self._timers["stage"] = t + s.locate_place_s

    def _side_remaining(self, t: float) -> float:
        assert self.side is not None
        return self.side["t_start"] + self.side["target_s"] - t

    def _start_hold(self, kind: str, t: float) -> None:
        s = self.settings
        self._enter(kind, t, point=self.point)
        hold: dict[str, Any] = {
            "kind": kind, "side": self._side_name(), "point": self.point, "t_start": _r(t),
            "breaths": 0, "exhales": [], "cues": 0, "ending": False, "softened": False,
        }
        self.hold = hold
        if kind == "active":
            self._timers["stage"] = t + s.active_max_s
            self._out("hold_start", t, kind=kind, side=hold["side"], point=self.point)
            return
        target = min(s.hold_s, max(s.hold_min_s, self._side_remaining(t)))
        cap = min(s.hold_max_s, target + s.round_max_s)
        hold["target_s"] = _r(target)
        self._timers["hold_target"] = t + target
        self._timers["hold_cap"] = t + cap
        self._out("hold_start", t, kind=kind, side=hold["side"], point=self.point, target_s=_r(target))

    def _end_hold(self, t: float, ended_by: str, *, then: bool = True) -> None:
        hold = self.hold
        if hold is None:
            return
        self.hold = None
        for k in ("hold_target", "hold_cap"):
            self._timers.pop(k, None)
        if hold["kind"] == "active":
            self._timers.pop("stage", None)
        ex = hold["exhales"]
        rate = _rate_of(ex)
        record = {
            "kind": hold["kind"], "side": hold["side"], "point": hold["point"],
            "t_start": hold["t_start"], "t_end": _r(t), "duration_s": _r(t - hold["t_start"]),
            "breaths": hold["breaths"], "mean_rate_bpm": None if rate is None else _r(rate),
            "cues": hold["cues"], "ended_by": ended_by, "softened": hold["softened"],
            "exhales": list(ex),
        }
        self.holds.append(record)
        self._out("hold_end", t, **{k: v for k, v in record.items() if k not in ("exhales", "t_start", "t_end")})
        if not then:
            return
        if self.side is not None and self.side["ending"]:
            self._end_side(t, "time")
        elif hold["kind"] == "static":
            self._start_hold("active", t)
        elif hold["kind"] == "active":
            self._next_point(t)
        elif hold["kind"] == "tool":
            if self._side_remaining(t) >= self.settings.hold_min_s + self.settings.repress_s:
                self._enter("tool_position", t, point=self.point)
                self._timers["stage"] = t + self.settings.repress_s
            else:
                self._enter("rest", t, "rest" if self.protocol == "manual" else "rest_tool")

    def _next_point(self, t: float) -> None:
        s = self.settings
        if self._side_remaining(t) < s.hold_min_s + s.repress_s:
            self._enter("rest", t, "rest" if self.protocol == "manual" else "rest_tool")
            return
        if self._last_softened:
            self.point += 1
            self._last_softened = False
            self._enter("repress", t, "new_point", point=self.point, move="new")
        else:
            self._enter("repress", t, "same_point", point=self.point, move="same")
        self._timers["stage"] = t + s.repress_s

    def _end_side(self, t: float, ended_by: str, *, then: bool = True) -> None:
        side = self.side
        if side is None:
            return
        if self.hold is not None:
            self._end_hold(t, ended_by if ended_by in ("pain", "quit", "end_of_input") else "side_end", then=False)
        self.side = None
        for k in ("side_warn", "side_end", "side_cap"):
            self._timers.pop(k, None)
        holds = [h for h in self.holds if h["side"] == side["side"]]
        record = {
            "side": side["side"], "index": side["index"], "t_start": _r(side["t_start"]), "t_end": _r(t),
            "duration_s": _r(t - side["t_start"]), "target_s": _r(side["target_s"]),
            "holds": len(holds), "hold_s": _r(sum(h["duration_s"] for h in holds)),
            "breaths": sum(h["breaths"] for h in holds), "ended_by": ended_by,
        }
        self.sides.append(record)
        self._out("side_end", t, **{k: v for k, v in record.items() if k not in ("t_start", "t_end")})
        if not then:
            return
        if len(self.sides) == 1:
            other = SIDES[1 - SIDES.index(side["side"])]
            self._enter("switch", t, to_side=other)
            self._cue("switch_sides", t, to_side=other)
            self._timers["stage"] = t + self.settings.switch_s
        else:
            self._end_session(t, "done")

    def _end_session(self, t: float, ended_by: str) -> None:
        if self.finished:
            return
        if self.side is not None:
            self._end_side(t, ended_by, then=False)
        elif self.hold is not None:
            self._end_hold(t, ended_by, then=False)
        if self._fallback_since is not None:
            self.fallback_s += t - self._fallback_since
            self._fallback_since = None
        if ended_by == "done":
            self._enter("finish", t)
        self.stage = "done"
        self._timers.clear()
        self._pacer = None
        self.ended_by = ended_by
        self.finished = True
        self._out("session_end", t, ended_by=ended_by, summary=self.summary(t))

    # ------------------------------------------------------------------ commands

    def _pain(self, t: float) -> None:
        rec = {"t": _r(t), "stage": self.stage, "side": self._side_name(),
               "hold": self.hold["kind"] if self.hold else None}
        self.pain_stops.append(rec)
        self._out("pain_stop", t, stage=rec["stage"], side=rec["side"], hold=rec["hold"], text=PAIN_STOP)
        self._end_session(t, "pain")

    def _soften(self, t: float) -> None:
        hold = self.hold
        if hold is not None and hold["kind"] in ("static", "tool"):
            hold["softened"] = True
            self._last_softened = True
            self._cue("softened", t)
            self._end_hold(t, "softened")
        elif self.stage in ("active", "repress", "rest"):
            self._last_softened = True
            if hold is not None:
                hold["softened"] = True
            self._cue("softened", t)
        else:
            self._out("note", t, command="soften", text="Nothing to soften yet.")

    def _next(self, t: float) -> None:
        st = self.stage
        if st == "calibration":
            self._after_calibration(t)
        elif st == "preparation":
            self._begin_sides(t)
        elif st in ("locate", "repress"):
            self._start_hold("static", t)
        elif st == "tool_position":
            self._start_hold("tool", t)
        elif st in HOLD_STAGES:
            self._end_hold(t, "next")
        elif st == "rest":
            self._end_side(t, "next")
        elif st == "switch":
            self._fire_stage(t)
        elif st == "breathing":
            self._end_session(t, "done")

    # ------------------------------------------------------------------ summary

    def summary(self, t: float | None = None) -> dict[str, Any]:
        """What the session did so far (also the ``summary`` of ``session_end``)."""
        t = self.now_s if t is None else t
        det = [b for b in self.breaths if b["source"] == "detector"]
        det_ex = [b["t"] for b in det if b["kind"] == "exhale"]
        rate = _rate_of(det_ex)
        out: dict[str, Any] = {
            "protocol": self.requested_protocol,
            "practised": self.protocol,
            "safety": self.safety.status,
            "ended_by": self.ended_by,
            "duration_s": _r((t or 0.0) - (self.t_start_s or 0.0)),
            "settled_rate_bpm": None if self.settled_rate_bpm is None else _r(self.settled_rate_bpm),
            "breaths": len(det_ex),
            "mean_rate_bpm": None if rate is None else _r(rate),
            "paced_breaths": sum(1 for b in self.breaths if b["source"] == "pacer" and b["kind"] == "exhale"),
            "fallback_s": _r(self.fallback_s),
            "cues": self.cue_count,
            "sides": [
                {k: sd[k] for k in ("side", "duration_s", "holds", "hold_s", "breaths", "ended_by")}
                for sd in self.sides
            ],
            "holds": [
                {k: h[k] for k in ("kind", "side", "point", "duration_s", "breaths", "ended_by")}
                for h in self.holds
            ],
            "pain_stops": len(self.pain_stops),
        }
        if self.adherence_scores:
            out["adherence"] = _r(100.0 * statistics.fmean(self.adherence_scores))
        elif self.protocol == "breathing":
            out["adherence"] = None
        return out
