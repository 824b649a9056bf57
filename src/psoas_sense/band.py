"""What the instruction band says: a pure function of the session view.

The band shows who leads (the person's breath, or a clock when the breath cannot be followed),
by a word and a shape that need no colour, and the instruction of the moment in one to three
words with the full sentence under them. An instruction belongs to a breath phase: once the
detected phase has moved on (or the body moves) and no confident cue came, the band goes
neutral ("keep breathing slowly") instead of keeping a stale opposite. Without a coach the band
follows the detected phase. Pure: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from psoas_sense.coach.texts import ATTENTION_KINDS, EXHALE_KINDS, INHALE_KINDS, NEUTRAL, NEUTRAL_HEADLINE, headline
from psoas_sense.view import DOWN_STATES, PHASE_WORDS, SOURCE_STATE_WORDS, SessionView

BREATH_MARK = "≈"
"""The shape of "following your breath" (waves)."""
CLOCK_MARK = "◔"
"""The shape of "following a clock" (a clock face)."""
NONE_MARK = "✕"
"""The shape of "nothing to follow" (no signal, no coach)."""
WAITING_STATES = ("starting", "connecting", "connected", "waiting_for_acc")
"""Source states before the breathing can be read."""


@dataclass(frozen=True, slots=True)
class Band:
    """What the instruction band says now: an instruction that never contradicts the breath."""

    headline: str
    """The instruction in one to three words (large type)."""
    text: str
    """The full sentence (the coach's or the pacer's own words)."""
    tone: str
    """``exhale``, ``inhale``, ``attention``, ``stop`` or ``calm`` (the band's colour)."""
    phase: str
    """The breath phase the band asks for, ``exhale`` or ``inhale`` (empty: none)."""
    lead: str
    """Who leads: ``breath`` (the person's breathing), ``clock`` (the pacer), ``none`` (no signal,
    nothing to follow), or empty (not started, or over)."""
    lead_words: str
    """Who leads, in words, starting with its shape (:data:`BREATH_MARK`, :data:`CLOCK_MARK`,
    :data:`NONE_MARK`)."""


def lead_of(v: SessionView) -> str:
    """Who leads now: ``breath``, ``clock``, ``none`` or empty (see :attr:`Band.lead`)."""
    if v.ended_by is not None or v.pain:
        return ""
    if v.sensor_down:
        return "clock" if v.coached else "none"
    if v.coached and (v.following_pacer or v.instruction_source == "pacer" or v.pacer is not None):
        return "clock"
    if v.coached or v.phase:
        return "breath"
    return ""


def lead_words(v: SessionView, lead: str) -> str:
    """Who leads, in words, with its shape."""
    down = SOURCE_STATE_WORDS.get(v.source_state, "") if v.source_state in DOWN_STATES else ""
    why = f"sensor down ({down.split(':')[0]})" if down else "no data from the sensor"
    if lead == "breath":
        return f"{BREATH_MARK} FOLLOWING YOUR BREATH"
    if lead == "clock" and v.sensor_down:
        return f"{CLOCK_MARK} CLOCK · {why}: breathe with my cues"
    if lead == "clock" and v.following_pacer and v.lead_reason == "rr_only":  # by design, not a failure
        return f"{CLOCK_MARK} CLOCK PACER · heart-rate strap: breathe with my cues"
    if lead == "clock" and v.following_pacer:
        return f"{CLOCK_MARK} CLOCK · I can't follow your breathing: breathe with my cues"
    if lead == "clock":
        return f"{CLOCK_MARK} CLOCK PACER · breathe with my cues"
    if lead == "none":
        return f"{NONE_MARK} NO SIGNAL · {why}"
    if v.ended_by is None and not v.pain and v.source_state in WAITING_STATES:
        return "… " + SOURCE_STATE_WORDS[v.source_state].upper()
    return ""


def band_of(v: SessionView) -> Band:
    """The band for a view: the coach's (or pacer's) word while it holds for the breath; a neutral
    word once the breath moved on without a confident cue; the detected phase without a coach."""
    lead = lead_of(v)
    words = lead_words(v, lead)
    if v.pain:
        return Band(headline("pain_stop"), v.pain_text or v.instruction, "stop", "", "", "")
    if v.ended_by is not None:
        return Band(headline("session_end"), v.instruction, "calm", "", "", "")
    if not v.coached:
        if v.sensor_down:
            return Band("NO SIGNAL", "No data from the sensor.", "attention", "", lead, words)
        if v.moving:
            return Band("MOVING", "Moving: no breath can be read until you are still.", "calm", "", lead, words)
        if v.phase and not v.phase_sure:
            return Band("UNCLEAR", "The breathing signal is weak: the phase cannot be told.", "calm", "", lead,
                        words)
        if v.phase:
            said = PHASE_WORDS[v.phase]
            return Band(said.upper(), f"You are {said}.", v.phase, v.phase, lead, words)
        return Band("WAITING", "Waiting for your breathing…", "calm", "", lead, words)
    kind = v.instruction_kind
    phase = "exhale" if kind in EXHALE_KINDS else "inhale" if kind in INHALE_KINDS else ""
    if v.instruction_source != "pacer" and phase and (v.instruction_stale or v.moving or v.sensor_down):
        return Band(NEUTRAL_HEADLINE, NEUTRAL, "calm", "", lead, words)
    tone = phase or ("attention" if kind in ATTENTION_KINDS else "calm")
    return Band(headline(kind, v.instruction), v.instruction, tone, phase, lead, words)


def contradicts(v: SessionView) -> bool:
    """The band asks for the opposite of the detected phase (the share of such frames is measured)."""
    b = band_of(v)
    return bool(b.phase and v.sure_phase and b.phase != v.sure_phase)
