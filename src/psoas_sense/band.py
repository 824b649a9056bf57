"""What the instruction band says: a pure function of the session view.

The band shows who leads (the person's breath, or a clock when the breath cannot be followed),
by a word and a shape that need no colour, and the instruction of the moment in one to three
words with the full sentence under them. An instruction belongs to a breath phase: once the
detected phase has moved on (or the body moves) and no confident cue came, the band goes
neutral ("keep breathing slowly") instead of keeping a stale opposite. Without a coach the band
follows the detected phase. Pure: no clock, no I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from psoas_sense.coach.texts import NEUTRAL, NEUTRAL_HEADLINE, headline
from psoas_sense.view import PHASE_WORDS, SOURCE_STATE_WORDS, SessionView
from psoas_sense.vocab import LINK_DOWN, BreathSource, Closing, CueReason, LinkState, Meaning, ShownPhase

BREATH_MARK = "≈"
"""The shape of "following your breath" (waves)."""
CLOCK_MARK = "◔"
"""The shape of "following a clock" (a clock face)."""
NONE_MARK = "✕"
"""The shape of "nothing to follow" (no signal, no coach)."""
WAITING_STATES = (LinkState.STARTING, LinkState.CONNECTING, LinkState.CONNECTED, LinkState.WAITING_FOR_ACC)
"""Source states before the breathing can be read."""


class Lead(enum.StrEnum):
    """Who leads the breathing."""

    BREATH = "breath"
    """The person's breathing (the detector is confident of it)."""
    CLOCK = "clock"
    """The coach's clock pacer."""
    NONE = "none"
    """Nothing to follow: no signal, no coach."""


@dataclass(frozen=True, slots=True)
class Band:
    """What the instruction band says now: an instruction that never contradicts the breath."""

    headline: str
    """The instruction in one to three words (large type)."""
    text: str
    """The full sentence (the coach's or the pacer's own words)."""
    tone: Meaning
    """What the instruction means (the band's colour): ``exhale``, ``inhale``, ``attention``,
    ``stop``, ``switch`` or ``calm``."""
    phase: ShownPhase
    """The breath phase the band asks for, ``exhale`` or ``inhale`` (empty: none, as the view's)."""
    lead: Lead | None
    """Who leads: ``breath`` (the person's breathing), ``clock`` (the pacer), ``none`` (no signal,
    nothing to follow), or None (not started, or over)."""
    lead_words: str
    """Who leads, in words, starting with its shape (:data:`BREATH_MARK`, :data:`CLOCK_MARK`,
    :data:`NONE_MARK`)."""


def lead_of(v: SessionView) -> Lead | None:
    """Who leads now: ``breath``, ``clock``, ``none`` or None (see :attr:`Band.lead`)."""
    if v.ended_by is not None or v.pain:
        return None
    if v.sensor_down:
        return Lead.CLOCK if v.coached else Lead.NONE
    if v.coached and (v.following_pacer or v.instruction_source is BreathSource.PACER or v.pacer is not None):
        return Lead.CLOCK
    if v.coached or v.phase:
        return Lead.BREATH
    return None


def lead_words(v: SessionView, lead: Lead | None) -> str:
    """Who leads, in words, with its shape."""
    down = SOURCE_STATE_WORDS.get(v.source_state, "") if v.source_state in LINK_DOWN else ""
    why = f"sensor down ({down.split(':')[0]})" if down else "no data from the sensor"
    if lead is Lead.BREATH:
        return f"{BREATH_MARK} FOLLOWING YOUR BREATH"
    if lead is Lead.CLOCK and v.sensor_down:
        return f"{CLOCK_MARK} CLOCK · {why}: breathe with my cues"
    if lead is Lead.CLOCK and v.following_pacer and v.lead_reason is CueReason.RR_ONLY:  # by design, not a failure
        return f"{CLOCK_MARK} CLOCK PACER · heart-rate strap: breathe with my cues"
    if lead is Lead.CLOCK and v.following_pacer:
        return f"{CLOCK_MARK} CLOCK · I can't follow your breathing: breathe with my cues"
    if lead is Lead.CLOCK:
        return f"{CLOCK_MARK} CLOCK PACER · breathe with my cues"
    if lead is Lead.NONE:
        return f"{NONE_MARK} NO SIGNAL · {why}"
    if v.ended_by is None and not v.pain and v.source_state in WAITING_STATES:
        return "… " + SOURCE_STATE_WORDS[v.source_state].upper()
    return ""


def band_of(v: SessionView) -> Band:
    """The band for a view: the coach's (or pacer's) word while it holds for the breath; a neutral
    word once the breath moved on without a confident cue; the detected phase without a coach."""
    lead = lead_of(v)
    words = lead_words(v, lead)
    calm = Meaning.CALM
    if v.pain:
        return Band(headline(Closing.PAIN_STOP), v.pain_text or v.instruction, Meaning.STOP, "", None, "")
    if v.ended_by is not None:
        return Band(headline(Closing.SESSION_END), v.instruction, calm, "", None, "")
    if not v.coached:
        if v.sensor_down:
            return Band("NO SIGNAL", "No data from the sensor.", Meaning.ATTENTION, "", lead, words)
        if v.moving:
            return Band("MOVING", "Moving: no breath can be read until you are still.", calm, "", lead, words)
        if v.phase and not v.phase_sure:
            return Band("UNCLEAR", "The breathing signal is weak: the phase cannot be told.", calm, "", lead,
                        words)
        if v.phase:
            said = PHASE_WORDS[v.phase]
            return Band(said.upper(), f"You are {said}.", Meaning(v.phase), v.phase, lead, words)
        return Band("WAITING", "Waiting for your breathing…", calm, "", lead, words)
    kind = v.instruction_kind
    meaning = calm if kind is None else kind.meaning
    phase = meaning.phase or ""
    if v.instruction_source is not BreathSource.PACER and phase and (v.instruction_stale or v.moving
                                                                      or v.sensor_down):
        return Band(NEUTRAL_HEADLINE, NEUTRAL, calm, "", lead, words)
    return Band(headline(kind, v.instruction), v.instruction, meaning, phase, lead, words)


def contradicts(v: SessionView) -> bool:
    """The band asks for the opposite of the detected phase (the share of such frames is measured)."""
    b = band_of(v)
    return bool(b.phase and v.sure_phase and b.phase != v.sure_phase)
