"""Every text the coach says: short, kind, and clear with the eyes closed (they are also spoken).

Nothing here ever suggests pushing through pain.
"""

from __future__ import annotations

NOT_MEDICAL_ADVICE = (
    "This is a self-care guide, not medical advice. Stop at any sharp or radiating pain."
)

CUES: dict[str, str] = {
    # preparation
    "belly_in": "Breathe in slowly. Let your belly rise.",
    "belly_out": "Breathe out slowly. Let your belly fall.",
    "settled": "Your breathing has settled. Well done.",
    "settle_timeout": "That's fine. Let's begin, keep breathing slowly.",
    # calibration (accelerometer)
    "calibrate": "Breathe in deeply, then breathe out slowly.",
    "calibrated": "Thank you. I can follow your breathing now.",
    # locate
    "lift_foot": "Lift the {side} foot an inch or two. Feel the muscle tighten under your fingers.",
    "lower_foot": "Put the foot down again and let it rest.",
    # static release
    "sink_deeper": "Sink deeper as you breathe out.",
    "hold_breathe": "Breathe in slowly. Keep the pressure.",
    # active release
    "slide_foot": "Breathe out and slide the foot away.",
    "keep_pressure": "Keep the pressure, breathe in.",
    "leg_straight": "Breathe out. Let the leg straighten.",
    "bend_knee": "Bend the knee back, slowly.",
    "release": "Release the pressure gently.",
    # tool
    "tool_sink": "Breathe out. Let your weight sink onto the tool.",
    "tool_breathe": "Breathe in deeply, into the belly.",
    # moving on
    "same_point": "Stay on this spot. Press gently in again.",
    "new_point": "That spot has softened. Find a new tender point nearby.",
    "softened": "Good. That spot has softened.",
    "rest": "Ease off and rest your hands. Keep breathing slowly.",
    "side_ending": "About {seconds} seconds left on this side.",
    "switch_sides": "Switch sides. The {side} side gets the same time.",
    # paced breathing
    "pace_inhale": "Breathe in.",
    "pace_hold_in": "Hold gently.",
    "pace_exhale": "Breathe out.",
    "pace_hold_out": "Rest.",
    # breathing-aware
    "keep_breathing": "Keep breathing, gently.",
    "ease_pressure": "Ease the pressure a little. Breathe slowly.",
    "fallback_pacer": "I can't follow your breathing right now. Breathe with my cues instead.",
    "signal_restored": "I can follow your breathing again.",
    # who leads, by reason (the cue kind stays ``fallback_pacer``; see coach.lead)
    "lead_again": "Breathe with my cues for a while.",
    "lead_motion": "I can't read your breathing while you move. Breathe with my cues.",
    "lead_link": "The sensor has dropped out. Breathe with my cues while it reconnects.",
    "lead_link_hold": (
        "The sensor has dropped out. Keep breathing with my cues; this hold still ends on time."
    ),
    "lead_rr": "Your strap gives me your heart rhythm only, so I'll set a slow pace. Breathe with my cues.",
    "sensor_down": "The sensor has dropped out. Keep breathing with my cues.",
    "settling": "Reconnected: settling. Keep following my cues for a moment.",
    "settling_gap": "The sensor paused: settling. Keep following my cues for a moment.",
    "settling_breath": "The sensor paused: settling. Keep breathing slowly.",
    "settle_paced": "Good. Let's begin. Keep breathing with my cues.",
    "finish": "Release slowly. Rest and breathe. Well done.",
}
"""Cue kind -> text (``str.format`` fields: ``side``, ``seconds``)."""

STAGES: dict[str, str] = {
    "calibration": "First, a short breath so I can read your breathing.",
    "preparation": (
        "Lie on your back on a firm surface, knees bent, feet flat. "
        "Breathe slowly and deeply into your belly."
    ),
    "preparation_tool": (
        "Settle in on a firm surface. Breathe slowly and deeply into your belly."
    ),
    "locate": (
        "Place your fingers about an inch inside the front hip bone, a couple of inches below "
        "the navel, on the {side} side. Press gently in and down toward the spine, only as deep "
        "as is comfortable."
    ),
    "new_point": "Move your fingers to a new tender point nearby. Press gently in.",
    "same_point": "Stay on this spot. Press gently in again.",
    "static": "Press in until you feel clear tension, never sharp pain. Hold and breathe.",
    "active": (
        "Keep the pressure. On each breath out, slide the foot away until the leg is straight."
    ),
    "tool_position": (
        "Lie face down with the tool under the {side} side, between the navel and the hip bone. "
        "Let your weight settle."
    ),
    "tool": "Rest on the tool and breathe deeply. Let it sink in as you breathe out.",
    "rest": "Ease off and rest your hands. Keep breathing slowly.",
    "rest_tool": "Ease off the tool and rest. Keep breathing slowly.",
    "switch": "Switch sides.",
    "wait": "Ease the pressure and rest a moment: I'm waiting for the sensor. We go on when it's ready.",
    "breathing": "Breathing practice. Follow the cues: breathe in, and breathe out.",
    "finish": "Release slowly. Rest and breathe. Well done.",
}
"""Stage -> the text said when it starts."""

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


EXHALE_KINDS = frozenset({"sink_deeper", "slide_foot", "leg_straight", "tool_sink", "release", "pace_exhale",
                          "belly_out"})
"""Cue kinds that ask for (and answer) a breath out."""
INHALE_KINDS = frozenset({"hold_breathe", "keep_pressure", "tool_breathe", "pace_inhale", "belly_in"})
"""Cue kinds that ask for (and answer) a breath in."""
ATTENTION_KINDS = frozenset({"keep_breathing", "ease_pressure", "fallback_pacer", "side_ending", "calibrate",
                             "sensor_down"})
"""Cue kinds that ask for attention (keep breathing, ease off, follow my cues)."""

HEADLINES: dict[str, str] = {
    # cues
    "belly_in": "BREATHE IN", "belly_out": "BREATHE OUT", "settled": "WELL DONE", "settle_timeout": "BEGIN",
    "calibrate": "DEEP BREATH", "calibrated": "THANK YOU", "lift_foot": "LIFT FOOT", "lower_foot": "FOOT DOWN",
    "sink_deeper": "SINK DEEPER", "hold_breathe": "BREATHE IN", "slide_foot": "SLIDE FOOT",
    "keep_pressure": "BREATHE IN", "leg_straight": "LEG LONG", "bend_knee": "BEND KNEE", "release": "RELEASE",
    "tool_sink": "SINK IN", "tool_breathe": "BREATHE IN", "same_point": "SAME SPOT", "new_point": "NEW SPOT",
    "softened": "SOFTENED", "rest": "REST", "side_ending": "NEARLY DONE", "switch_sides": "SWITCH SIDES",
    "pace_inhale": "BREATHE IN", "pace_hold_in": "PAUSE", "pace_exhale": "BREATHE OUT", "pace_hold_out": "REST",
    "keep_breathing": "KEEP BREATHING", "ease_pressure": "EASE OFF", "fallback_pacer": "FOLLOW MY CUES",
    "signal_restored": "FOLLOWING YOU", "finish": "RELEASE SLOWLY", "sensor_down": "FOLLOW MY CUES",
    "settling": "SETTLING", "settle_paced": "BEGIN",
    # stages
    "calibration": "DEEP BREATH", "preparation": "BELLY BREATHING", "preparation_tool": "SETTLE IN",
    "locate": "FIND THE SPOT", "static": "PRESS IN", "active": "SLIDE OUT", "tool_position": "ONTO THE TOOL",
    "tool": "REST ON TOOL", "rest_tool": "REST", "switch": "SWITCH SIDES", "breathing": "FOLLOW MY CUES",
    "wait": "REST A MOMENT",
    # the session's own
    "pain_stop": "STOP", "session_end": "SESSION OVER",
}
"""Cue kind or stage -> the instruction in one to three words, for large type (a glance from the floor)."""

NEUTRAL = "Keep breathing slowly."
"""What the band says when the breath moved on and no confident cue came (never a stale opposite)."""
NEUTRAL_HEADLINE = "KEEP BREATHING"


def headline(kind: str, text: str = "") -> str:
    """The one to three words for a cue kind or stage (else the text's first words)."""
    if kind in HEADLINES:
        return HEADLINES[kind]
    words = text.replace(".", " ").replace(",", " ").split()
    return " ".join(words[:3]).upper()


def cue_text(kind: str, **fields: object) -> str:
    """The text of a cue, with its fields filled in."""
    return CUES[kind].format(**fields)


def stage_text(stage: str, **fields: object) -> str:
    """The text said when a stage starts."""
    return STAGES[stage].format(**fields)
