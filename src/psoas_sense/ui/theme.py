"""Colours of the terminal UI, chosen for a glance from the floor, and their contrast check.

The instruction band's colour says what kind of instruction it is (breathe out, breathe in,
pay attention, stop); every band carries white text at WCAG AA contrast (4.5:1) or better, in
the dark and the light theme alike (the band has its own background). ``NO_COLOR`` is honoured
by Textual itself (monochrome output).
"""

from __future__ import annotations

from psoas_sense.ui.audio import ATTENTION_CUES, EXHALE_CUES, INHALE_CUES

BAND_TEXT = "#ffffff"
"""Text on every instruction band."""

BANDS: dict[str, str] = {
    "exhale": "#1b5e20",
    "inhale": "#0d47a1",
    "attention": "#7a4f00",
    "stop": "#b71c1c",
    "calm": "#37474f",
}
"""Band background per kind of instruction."""

AA_TEXT = 4.5
"""WCAG 2 AA minimum contrast for normal text."""


def band_for(instruction_kind: str) -> str:
    """The band (a key of :data:`BANDS`) for a cue kind or stage."""
    if instruction_kind == "pain_stop":
        return "stop"
    if instruction_kind in EXHALE_CUES or instruction_kind in ("release", "bend_knee"):
        return "exhale"
    if instruction_kind in INHALE_CUES:
        return "inhale"
    if instruction_kind in ATTENTION_CUES:
        return "attention"
    return "calm"


def _channel(c: int) -> float:
    s = c / 255.0
    return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4


def luminance(hex_colour: str) -> float:
    """Relative luminance of ``#rrggbb`` (WCAG 2)."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two ``#rrggbb`` colours (1-21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
