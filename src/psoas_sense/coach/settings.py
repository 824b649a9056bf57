"""Coach settings: one frozen dataclass, validated, with the rules of the guide as defaults.

Pure: building and validating settings reads no file (see :mod:`psoas_sense.config` for that).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from psoas_sense.vocab import Practice

PROTOCOLS: tuple[str, ...] = tuple(p.value for p in Practice)
"""The protocols, by name (:class:`~psoas_sense.vocab.Practice`)."""
SIDES = ("left", "right")

UPPER_LIMITS: Mapping[str, float] = {
    "side_cap_extra_s": 300.0, "switch_s": 300.0, "hold_s": 900.0, "hold_min_s": 900.0, "hold_max_s": 900.0,
    "round_max_s": 60.0, "locate_place_s": 120.0, "locate_lift_s": 60.0, "locate_lower_s": 60.0,
    "repress_s": 120.0, "active_max_s": 300.0, "prep_max_s": 600.0, "calibration_max_s": 120.0,
    "breath_hold_s": 120.0, "signal_silence_s": 300.0, "motion_pacer_s": 120.0, "fast_cooldown_s": 600.0,
    "pacer_inhale_s": 30.0, "pacer_hold_in_s": 30.0, "pacer_exhale_s": 30.0, "pacer_hold_out_s": 30.0,
    "side_warning_s": 900.0, "side_minutes": 15.0, "breathing_minutes": 120.0,
    "prep_settle_breaths": 20, "prep_max_rate_bpm": 60.0, "prep_max_cv": 10.0, "poor_events": 100,
    "good_events": 100, "active_exhales": 10, "fast_factor": 10.0, "fast_min_delta_bpm": 60.0, "min_quality": 1.0,
    "unsure_handover_s": 300.0, "pacer_min_s": 300.0, "settle_s": 120.0,
}
"""The largest value each number setting takes (every time is bounded: a session must end)."""


class SettingsError(ValueError):
    """A bad setting; ``key`` names it."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(f"{key}: {reason}")


@dataclass(frozen=True)
class CoachSettings:
    """Everything the coach can be told. Times are seconds unless the name says otherwise."""

    protocol: str = "manual"
    """``manual`` (fingers), ``tool`` (face down on a tool) or ``breathing`` (paced breathing)."""
    first_side: str = "left"
    """Side worked first."""
    side_minutes: float = 3.0
    """Target time per side; the second side gets the time the first one took."""
    side_warning_s: float = 30.0
    """Say how long is left this long before the end of a side (0: no warning)."""
    side_cap_extra_s: float = 15.0
    """Hard cap: a side ends at most this long after its target, whatever is in progress."""
    switch_s: float = 10.0
    """Pause between the sides, to change position (not counted as side time)."""
    hold_s: float = 45.0
    """Length of a static (or tool) hold, rounded to the end of the breath in progress."""
    hold_min_s: float = 30.0
    """Shortest static hold the guide allows; a hold is not started with less time left."""
    hold_max_s: float = 60.0
    """Longest static hold the guide allows (a hard cap on the rounding)."""
    round_max_s: float = 12.0
    """Longest wait for the end of the breath in progress after the hold time is up."""
    locate_place_s: float = 12.0
    """Time to place the fingers before the foot-lift check."""
    locate_lift_s: float = 5.0
    """Time the foot stays lifted in the check."""
    locate_lower_s: float = 5.0
    """Time to lower the foot before the hold starts."""
    repress_s: float = 6.0
    """Time to press in again (same or new point) before the next hold."""
    active_exhales: int = 3
    """Exhales over which the foot slides away until the leg is straight."""
    active_max_s: float = 45.0
    """An active release ends after this long even without breaths."""
    prep_settle_breaths: int = 4
    """Breaths of steady, slow rate that count as settled."""
    prep_max_rate_bpm: float = 14.0
    """Slow enough to count as settled."""
    prep_max_cv: float = 0.25
    """Steady enough: coefficient of variation of the breath periods."""
    prep_max_s: float = 90.0
    """Preparation moves on after this long even if the breathing has not settled."""
    calibration_max_s: float = 15.0
    """Accelerometer polarity calibration ends after this long."""
    breath_hold_s: float = 12.0
    """No breath for this long (while the signal is good) is taken as a breath hold."""
    signal_silence_s: float = 30.0
    """No breath for this long is taken as a lost signal: the clock pacer takes over."""
    min_quality: float = 0.5
    """Only breath events of at least this quality (the detector's "confident enough to cue on") are
    cued on; the others are recorded but give no cue."""
    poor_events: int = 4
    """Unsure events (below ``min_quality``) in a row that, with ``unsure_handover_s``, hand the lead
    to the clock pacer. Fewer, or a shorter run, are only left uncued."""
    unsure_handover_s: float = 40.0
    """No confident breath for this long (counted from the last one, or the end of a settle), while
    unsure ones keep coming, hands the lead to the clock pacer, which says so once. A few unsure
    breaths (a clean belt has half a minute of them now and then) only go uncued."""
    motion_pacer_s: float = 5.0
    """Body motion (rolling over, sitting up) lasting this long while the body is meant to be still
    hands over to the pacer, which says so."""
    good_events: int = 4
    """This many confident events in a row (two breaths; the sensor up and settled) take the lead
    back from the pacer to the breathing..."""
    pacer_min_s: float = 20.0
    """...once the pacer has led at least this long (no back and forth)."""
    settle_s: float = 10.0
    """After a link drop or a gap in the data: a settle period, said as such, while the detector
    starts again; no hold starts during it, and the breathing takes the lead back only after it."""
    rr_lead: bool = True
    """With an RR-only strap (no waveform, no accelerometer) the pacer leads from the start, at its
    slow pace, and the heart's rhythm shows how closely it is followed."""
    rr_follow_breath: bool = False
    """With an RR-only strap, also let confident RR-derived breaths take the lead as a belt's do
    (their timing lags the chest by a second or more)."""
    fast_factor: float = 1.5
    """Breathing this many times the settled rate is "much faster"..."""
    fast_min_delta_bpm: float = 4.0
    """...and at least this many breaths per minute above it."""
    fast_cooldown_s: float = 20.0
    """At most one "ease the pressure" cue per this many seconds."""
    pacer_inhale_s: float = 4.0
    """Paced breathing (and the fallback pacer): inhale length."""
    pacer_hold_in_s: float = 0.0
    """Pause after the inhale."""
    pacer_exhale_s: float = 6.0
    """Exhale length."""
    pacer_hold_out_s: float = 0.0
    """Pause after the exhale."""
    breathing_minutes: float = 5.0
    """Length of a breathing practice session."""
    cue_inhale: bool = True
    """Also cue on the inhale ("hold, keep breathing"), not only on the exhale."""

    def validate(self) -> CoachSettings:
        """Check every value; raise :class:`SettingsError` naming the key. Returns self."""

        def need(cond: bool, key: str, reason: str) -> None:
            if not cond:
                raise SettingsError(key, reason)

        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                finite = math.isfinite(v) if isinstance(v, float) else abs(v) < 10**15
                need(finite, f.name, "must be a finite number" if isinstance(v, float) else "is far too large")
                need(v >= 0, f.name, f"must not be negative, got {_shown(v)}")
                top = UPPER_LIMITS.get(f.name)
                if top is not None:
                    need(v <= top, f.name, f"must be at most {top:g}, got {_shown(v)}")
        need(self.protocol in PROTOCOLS, "protocol",
             f"must be one of {', '.join(PROTOCOLS)}, got {_shown(self.protocol)}")
        need(self.first_side in SIDES, "first_side", f"must be left or right, got {_shown(self.first_side)}")
        need(0.5 <= self.side_minutes <= 15, "side_minutes", f"must be between 0.5 and 15, got {self.side_minutes:g}")
        need(self.side_warning_s < self.side_minutes * 60, "side_warning_s", "must be shorter than a side")
        need(self.hold_min_s <= self.hold_max_s, "hold_min_s", "must not exceed hold_max_s")
        if self.protocol == Practice.MANUAL:
            need(self.hold_min_s >= 30, "hold_min_s", f"a static hold lasts 30-60 s; got {self.hold_min_s:g}")
            need(self.hold_max_s <= 60, "hold_max_s", f"a static hold lasts 30-60 s; got {self.hold_max_s:g}")
        need(self.hold_min_s <= self.hold_s <= self.hold_max_s, "hold_s",
             f"must be between {self.hold_min_s:g} and {self.hold_max_s:g} s, got {self.hold_s:g}")
        if self.protocol == Practice.TOOL:
            need(self.hold_s <= self.side_minutes * 60, "hold_s", "must fit within a side (side_minutes)")
        need(self.hold_min_s > 0, "hold_min_s", "must be positive")
        need(1 <= self.active_exhales <= 10, "active_exhales", f"must be 1-10, got {self.active_exhales}")
        n = self.prep_settle_breaths
        need(2 <= n <= 20, "prep_settle_breaths", f"must be 2-20, got {n}")
        need(self.prep_max_rate_bpm > 0, "prep_max_rate_bpm", "must be positive")
        need(self.breath_hold_s > 0, "breath_hold_s", "must be positive")
        need(self.signal_silence_s > self.breath_hold_s, "signal_silence_s", "must be longer than breath_hold_s")
        need(0 <= self.min_quality <= 1, "min_quality", "must be between 0 and 1")
        need(self.motion_pacer_s > 0, "motion_pacer_s", "must be positive")
        need(self.poor_events >= 1, "poor_events", "must be at least 1")
        need(self.good_events >= 1, "good_events", "must be at least 1")
        need(self.unsure_handover_s >= self.breath_hold_s, "unsure_handover_s", "must be at least breath_hold_s")
        need(self.fast_factor > 1, "fast_factor", "must be above 1")
        need(self.pacer_inhale_s >= 1, "pacer_inhale_s", f"must be at least 1 s, got {self.pacer_inhale_s:g}")
        need(self.pacer_exhale_s >= 1, "pacer_exhale_s", f"must be at least 1 s, got {self.pacer_exhale_s:g}")
        period = self.pacer_inhale_s + self.pacer_hold_in_s + self.pacer_exhale_s + self.pacer_hold_out_s
        need(period <= 30, "pacer_exhale_s", "a paced breath must be at most 30 s long")
        need(max(self.pacer_hold_in_s, self.pacer_hold_out_s) < self.breath_hold_s, "pacer_hold_in_s",
             "paced holds must be shorter than breath_hold_s")
        need(0.5 <= self.breathing_minutes <= 120, "breathing_minutes", "must be between 0.5 and 120")
        return self

    def replace(self, **changes: Any) -> CoachSettings:
        return dataclasses.replace(self, **changes)

    @property
    def side_s(self) -> float:
        return self.side_minutes * 60.0


def _shown(v: Any) -> str:
    """A value as an error line shows it: short, whatever its size or nesting."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxdict, r.maxstring, r.maxother, r.maxlong = 2, 4, 4, 40, 40, 20
    return r.repr(v)


FIELD_TYPES: Mapping[str, type] = {
    f.name: (bool if f.type in ("bool", bool) else int if f.type in ("int", int)
             else str if f.type in ("str", str) else float)
    for f in fields(CoachSettings)
}
"""Key -> Python type of each setting (for config files and command-line overrides)."""


def settings_from_mapping(
    values: Mapping[str, Any], *, where: str = "", base: CoachSettings | None = None
) -> CoachSettings:
    """Settings from a flat mapping of keys; unknown keys or wrong types raise SettingsError.

    ``where`` prefixes the key in errors (e.g. ``"manual."``).
    """
    changes: dict[str, Any] = {}
    for key, v in values.items():
        typ = FIELD_TYPES.get(key)
        if typ is None:
            raise SettingsError(where + _shown(key).strip("'"), "unknown setting")
        if typ is bool:
            if not isinstance(v, bool):
                raise SettingsError(where + key, f"must be true or false, got {_shown(v)}")
        elif typ is int:
            if isinstance(v, bool) or not isinstance(v, int):
                raise SettingsError(where + key, f"must be a whole number, got {_shown(v)}")
        elif typ is float:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SettingsError(where + key, f"must be a number, got {_shown(v)}")
            try:
                v = float(v)
            except OverflowError:
                raise SettingsError(where + key, "is far too large") from None
        elif typ is str and not isinstance(v, str):
            raise SettingsError(where + key, f"must be a string, got {_shown(v)}")
        changes[key] = v
    s = dataclasses.replace(base or CoachSettings(), **changes)
    try:
        return s.validate()
    except SettingsError as e:
        raise SettingsError(where + e.key, e.reason) from None
