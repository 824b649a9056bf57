"""The instruction band: who leads, the instruction in large type, and the full sentence.

It draws a :class:`~psoas_sense.band.Band` (a pure function of the session view). Who leads is
said twice without colour: in words with a shape on the band's first line (``≈ FOLLOWING YOUR
BREATH``, ``◔ CLOCK ...``, ``✕ NO SIGNAL``) and by the band's border (heavy while the breath
leads, dashed while a clock does). The colour says the kind of instruction (breathe out, breathe
in, attention, stop).
"""

from __future__ import annotations

import textwrap

from rich.text import Text
from textual.css.types import EdgeType
from textual.widget import Widget

from psoas_sense.band import Band, Lead
from psoas_sense.ui import bigtext
from psoas_sense.ui.theme import BAND_TEXT, BANDS
from psoas_sense.vocab import Meaning

BORDERS: dict[Lead | None, EdgeType] = {Lead.BREATH: "heavy", Lead.CLOCK: "dashed", Lead.NONE: "double", None: "round"}
"""The band's border for who leads: a shape that needs no colour."""


def lead_line(words: str, width: int) -> str:
    """Who leads, shortened to ``width``: the whole, then its head and the reason (``sensor
    down``, ``I can't follow your breathing``: the advice goes first), then its head."""
    if len(words) <= width:
        return words
    head, _, rest = words.partition(" · ")
    reason = rest.partition(": ")[0]
    short = f"{head} · {reason}" if reason else head
    return short if len(short) <= width else head[:width]


def band_lines(band: Band, width: int, height: int) -> list[tuple[str, str]]:
    """The band's rows inside ``width`` x ``height``, as (text, style) pairs, centred and padded.

    The lead line first; then the instruction in the largest type that fits beside at least part
    of the sentence (else the type alone, else plain capitals); then as much of the sentence as
    fits, the last line shortened with an ellipsis.
    """
    width, height = max(1, width), max(1, height)
    lead = [(lead_line(band.lead_words, width), "bold")] if band.lead_words else []
    sentence = textwrap.wrap(band.text, width) if band.text and band.text.upper() != band.headline else []
    fitted = None
    for keep in dict.fromkeys((min(len(sentence), 2), min(len(sentence), 1), 0)):
        fitted = bigtext.fit(band.headline, width, height - len(lead) - keep)
        if fitted is not None:
            break
    if fitted is not None:
        size, lines = fitted
        big = [(line, "bold") for line in bigtext.render(size, lines)]
    else:
        big = [(line, "bold") for line in textwrap.wrap(band.headline, width)]
    left = max(0, height - len(lead) - len(big))
    shown = sentence[:left]
    if 0 < len(shown) < len(sentence):
        shown[-1] = textwrap.shorten(" ".join(sentence[len(shown) - 1:]), width, placeholder=" …")
    spare = left - len(shown)
    gap: list[tuple[str, str]] = [("", "")]
    rows = lead + (gap if lead and spare >= 1 else []) + big + (gap if shown and spare >= 2 else []) + [
        (line, "") for line in shown]
    rows = rows[:height]
    top = (height - len(rows)) // 2
    out = [("", "")] * top + rows
    return [(_centre(text, width), style) for text, style in out] + [("", "")] * (height - len(out))


def _centre(text: str, width: int) -> str:
    pad = max(0, (width - len(text)) // 2)
    return (" " * pad + text)[:width]


class BandWidget(Widget):
    """The instruction band (see the module)."""

    DEFAULT_CSS = """
    BandWidget { width: 1fr; height: 11; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's own name
        super().__init__(id=id)
        self.band = Band("", "", Meaning.CALM, "", None, "")

    def show(self, band: Band) -> None:
        """Draw this band (its colour and border at once, its text on the next refresh)."""
        if band == self.band:
            return
        self.band = band
        self.styles.background = BANDS[band.tone]
        self.styles.color = BAND_TEXT
        self.styles.border = (BORDERS[band.lead], BAND_TEXT)
        self.refresh()

    def render(self) -> Text:
        size = self.content_region.size if self.is_mounted else self.size
        rows = band_lines(self.band, size.width, size.height)
        text = Text(no_wrap=True, overflow="crop", end="")
        for i, (line, style) in enumerate(rows):
            if i:
                text.append("\n")
            text.append(line, style=style)
        return text
