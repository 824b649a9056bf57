"""Every text the coach says: short, kind, and clear with the eyes closed (they are also spoken).

Nothing here ever suggests pushing through pain.
"""

from __future__ import annotations

from typing import Literal

from psoas_sense.vocab import Closing, CueKind, Instruction, Stage

CueWording = Literal[
    "lead_again", "lead_motion", "lead_link", "lead_link_hold", "lead_rr", "settling_gap", "settling_breath",
]
"""Other wordings of a cue kind, chosen by why it is said (the cue's kind stays the same)."""
StageWording = Literal["preparation_tool", "rest_tool", "new_point", "same_point"]
"""Other wordings of a stage (the tool protocol's, pressing in again on the same or a new spot)."""

NOT_MEDICAL_ADVICE = (
    "This is a self-care guide, not medical advice. Stop at any sharp or radiating pain."
)

CUES: dict[CueKind | CueWording, str] = {
    # preparation
    CueKind.BELLY_IN: "Breathe in slowly. Let your belly rise.",
    CueKind.BELLY_OUT: "Breathe out slowly. Let your belly fall.",
    CueKind.SETTLED: "Your breathing has settled. Well done.",
    CueKind.SETTLE_TIMEOUT: "That's fine. Let's begin, keep breathing slowly.",
    # calibration (accelerometer)
    CueKind.CALIBRATE: "Breathe in deeply, then breathe out slowly.",
    CueKind.CALIBRATED: "Thank you. I can follow your breathing now.",
    # locate
    CueKind.LIFT_FOOT: "Lift the {side} foot an inch or two. Feel the muscle tighten under your fingers.",
    CueKind.LOWER_FOOT: "Put the foot down again and let it rest.",
    # static release
    CueKind.SINK_DEEPER: "Sink deeper as you breathe out.",
    CueKind.HOLD_BREATHE: "Breathe in slowly. Keep the pressure.",
    # active release
    CueKind.SLIDE_FOOT: "Breathe out and slide the foot away.",
    CueKind.KEEP_PRESSURE: "Keep the pressure, breathe in.",
    CueKind.LEG_STRAIGHT: "Breathe out. Let the leg straighten.",
    CueKind.BEND_KNEE: "Bend the knee back, slowly.",
    CueKind.RELEASE: "Release the pressure gently.",
    # tool
    CueKind.TOOL_SINK: "Breathe out. Let your weight sink onto the tool.",
    CueKind.TOOL_BREATHE: "Breathe in deeply, into the belly.",
    # moving on
    CueKind.SOFTENED: "Good. That spot has softened.",
    CueKind.SIDE_ENDING: "About {seconds} seconds left on this side.",
    CueKind.SWITCH_SIDES: "Switch sides. The {side} side gets the same time.",
    # paced breathing
    CueKind.PACE_INHALE: "Breathe in.",
    CueKind.PACE_HOLD_IN: "Hold gently.",
    CueKind.PACE_EXHALE: "Breathe out.",
    CueKind.PACE_HOLD_OUT: "Rest.",
    # breathing-aware
    CueKind.KEEP_BREATHING: "Keep breathing, gently.",
    CueKind.EASE_PRESSURE: "Ease the pressure a little. Breathe slowly.",
    CueKind.FALLBACK_PACER: "I can't follow your breathing right now. Breathe with my cues instead.",
    CueKind.SIGNAL_RESTORED: "I can follow your breathing again.",
    # who leads, by reason (the cue kind stays ``fallback_pacer``; see coach.lead)
    "lead_again": "Breathe with my cues for a while.",
    "lead_motion": "I can't read your breathing while you move. Breathe with my cues.",
    "lead_link": "The sensor has dropped out. Breathe with my cues while it reconnects.",
    "lead_link_hold": (
        "The sensor has dropped out. Keep breathing with my cues; this hold still ends on time."
    ),
    "lead_rr": "Your strap gives me your heart rhythm only, so I'll set a slow pace. Breathe with my cues.",
    CueKind.SENSOR_DOWN: "The sensor has dropped out. Keep breathing with my cues.",
    CueKind.SETTLING: "Reconnected: settling. Keep following my cues for a moment.",
    "settling_gap": "The sensor paused: settling. Keep following my cues for a moment.",
    "settling_breath": "The sensor paused: settling. Keep breathing slowly.",
    CueKind.SETTLE_PACED: "Good. Let's begin. Keep breathing with my cues.",
}
"""Cue kind (or another wording of one) -> text (``str.format`` fields: ``side``, ``seconds``)."""

STAGES: dict[Stage | StageWording, str] = {
    Stage.CALIBRATION: "First, a short breath so I can read your breathing.",
    Stage.PREPARATION: (
        "Lie on your back on a firm surface, knees bent, feet flat. "
        "Breathe slowly and deeply into your belly."
    ),
    "preparation_tool": (
        "Settle in on a firm surface. Breathe slowly and deeply into your belly."
    ),
    Stage.LOCATE: (
        "Place your fingers about an inch inside the front hip bone, a couple of inches below "
        "the navel, on the {side} side. Press gently in and down toward the spine, only as deep "
        "as is comfortable."
    ),
    "new_point": "Move your fingers to a new tender point nearby. Press gently in.",
    "same_point": "Stay on this spot. Press gently in again.",
    Stage.STATIC: "Press in until you feel clear tension, never sharp pain. Hold and breathe.",
    Stage.ACTIVE: (
        "Keep the pressure. On each breath out, slide the foot away until the leg is straight."
    ),
    Stage.TOOL_POSITION: (
        "Lie face down with the tool under the {side} side, between the navel and the hip bone. "
        "Let your weight settle."
    ),
    Stage.TOOL: "Rest on the tool and breathe deeply. Let it sink in as you breathe out.",
    Stage.REST: "Ease off and rest your hands. Keep breathing slowly.",
    "rest_tool": "Ease off the tool and rest. Keep breathing slowly.",
    Stage.SWITCH: "Switch sides.",
    Stage.WAIT: "Ease the pressure and rest a moment: I'm waiting for the sensor. We go on when it's ready.",
    Stage.BREATHING: "Breathing practice. Follow the cues: breathe in, and breathe out.",
    Stage.FINISH: "Release slowly. Rest and breathe. Well done.",
}
"""Stage (or another wording of one) -> the text said when it starts."""

PAIN_STOP = (
    "Stop now. Release the pressure and rest. "
    "Sharp or radiating pain means it is time to see a healthcare professional, such as a "
    "physical therapist or a massage therapist experienced in deep core work."
)

BREATHING_ONLY_UNCONFIRMED = (
    "The safety check was not confirmed, so today is breathing practice only, "
    "no deep abdominal work."
)
BREATHING_ONLY_CONDITIONS = (
    "With {conditions}, please skip deep abdominal work. Today is breathing practice only. "
    "Please ask a healthcare professional before massaging this area."
)


_K, _S = CueKind, Stage
HEADLINES: dict[Instruction, str] = {
    # cues
    _K.BELLY_IN: "BREATHE IN", _K.BELLY_OUT: "BREATHE OUT", _K.SETTLED: "WELL DONE", _K.SETTLE_TIMEOUT: "BEGIN",
    _K.CALIBRATE: "DEEP BREATH", _K.CALIBRATED: "THANK YOU", _K.LIFT_FOOT: "LIFT FOOT", _K.LOWER_FOOT: "FOOT DOWN",
    _K.SINK_DEEPER: "SINK DEEPER", _K.HOLD_BREATHE: "BREATHE IN", _K.SLIDE_FOOT: "SLIDE FOOT",
    _K.KEEP_PRESSURE: "BREATHE IN", _K.LEG_STRAIGHT: "LEG LONG", _K.BEND_KNEE: "BEND KNEE", _K.RELEASE: "RELEASE",
    _K.TOOL_SINK: "SINK IN", _K.TOOL_BREATHE: "BREATHE IN", _K.SOFTENED: "SOFTENED", _K.SIDE_ENDING: "NEARLY DONE",
    _K.SWITCH_SIDES: "SWITCH SIDES", _K.PACE_INHALE: "BREATHE IN", _K.PACE_HOLD_IN: "PAUSE",
    _K.PACE_EXHALE: "BREATHE OUT", _K.PACE_HOLD_OUT: "REST", _K.KEEP_BREATHING: "KEEP BREATHING",
    _K.EASE_PRESSURE: "EASE OFF", _K.FALLBACK_PACER: "FOLLOW MY CUES", _K.SIGNAL_RESTORED: "FOLLOWING YOU",
    _K.SENSOR_DOWN: "FOLLOW MY CUES", _K.SETTLING: "SETTLING", _K.SETTLE_PACED: "BEGIN",
    # stages (``repress`` says its own first words: the same spot, or a new one)
    _S.CALIBRATION: "DEEP BREATH", _S.PREPARATION: "BELLY BREATHING", _S.LOCATE: "FIND THE SPOT",
    _S.STATIC: "PRESS IN", _S.ACTIVE: "SLIDE OUT", _S.TOOL_POSITION: "ONTO THE TOOL", _S.TOOL: "REST ON TOOL",
    _S.REST: "REST", _S.SWITCH: "SWITCH SIDES", _S.WAIT: "REST A MOMENT", _S.BREATHING: "FOLLOW MY CUES",
    _S.FINISH: "RELEASE SLOWLY",
    # the session's own
    Closing.PAIN_STOP: "STOP", Closing.SESSION_END: "SESSION OVER",
}
"""Cue kind, stage or the session's close -> the instruction in one to three words, for large type
(a glance from the floor)."""

NEUTRAL = "Keep breathing slowly."
"""What the band says when the breath moved on and no confident cue came (never a stale opposite)."""
NEUTRAL_HEADLINE = "KEEP BREATHING"


def headline(kind: Instruction | None, text: str = "") -> str:
    """The one to three words for a cue kind, stage or close (else the text's first words)."""
    if kind is not None and kind in HEADLINES:
        return HEADLINES[kind]
    words = text.replace(".", " ").replace(",", " ").split()
    return " ".join(words[:3]).upper()


def cue_text(kind: CueKind | CueWording, **fields: object) -> str:
    """The text of a cue, with its fields filled in."""
    return CUES[kind].format(**fields)


def stage_text(stage: Stage | StageWording, **fields: object) -> str:
    """The text said when a stage starts."""
    return STAGES[stage].format(**fields)
