"""Colours of the terminal UI, chosen for a glance from the floor, and their contrast check.

The instruction band's colour says what the instruction means (breathe out, breathe in, pay
attention, stop: :class:`~psoas_sense.vocab.Meaning`, which the band reads from the cue kind or
stage); every band carries white text at WCAG AA contrast (4.5:1) or better, in the dark and the
light theme alike (the band has its own background). ``NO_COLOR`` is honoured by Textual itself
(monochrome output).
"""

from __future__ import annotations

from psoas_sense.vocab import Meaning

BAND_TEXT = "#ffffff"
"""Text on every instruction band."""

CALM = "#37474f"
BANDS: dict[Meaning, str] = {
    Meaning.EXHALE: "#1b5e20",
    Meaning.INHALE: "#0d47a1",
    Meaning.ATTENTION: "#7a4f00",
    Meaning.STOP: "#b71c1c",
    Meaning.SWITCH: CALM,
    Meaning.CALM: CALM,
}
"""Band background per meaning of the instruction (switching sides is calm)."""

AA_TEXT = 4.5
"""WCAG 2 AA minimum contrast for normal text."""


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
