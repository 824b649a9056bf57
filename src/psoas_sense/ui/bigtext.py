"""Large type for the instruction band: a 5-pixel font drawn with block characters.

Two sizes: ``large`` packs two pixel rows into one text row with half blocks (a letter is 3
rows high, its pixels square on a usual terminal cell), ``huge`` draws each pixel as two full
blocks side by side (5 rows high). :func:`fit` picks the largest size whose lines fit a box,
wrapping at spaces; text that does not fit even in ``large`` is left to the caller (plain text).
"""

from __future__ import annotations

GLYPHS: dict[str, tuple[str, ...]] = {
    "A": (" ## ", "#  #", "####", "#  #", "#  #"),
    "B": ("### ", "#  #", "### ", "#  #", "### "),
    "C": (" ###", "#   ", "#   ", "#   ", " ###"),
    "D": ("### ", "#  #", "#  #", "#  #", "### "),
    "E": ("####", "#   ", "### ", "#   ", "####"),
    "F": ("####", "#   ", "### ", "#   ", "#   "),
    "G": (" ###", "#   ", "# ##", "#  #", " ###"),
    "H": ("#  #", "#  #", "####", "#  #", "#  #"),
    "I": ("###", " # ", " # ", " # ", "###"),
    "J": ("  ##", "   #", "   #", "#  #", " ## "),
    "K": ("#  #", "# # ", "##  ", "# # ", "#  #"),
    "L": ("#   ", "#   ", "#   ", "#   ", "####"),
    "M": ("#   #", "## ##", "# # #", "#   #", "#   #"),
    "N": ("#   #", "##  #", "# # #", "#  ##", "#   #"),
    "O": (" ## ", "#  #", "#  #", "#  #", " ## "),
    "P": ("### ", "#  #", "### ", "#   ", "#   "),
    "Q": (" ## ", "#  #", "#  #", "# ##", " ###"),
    "R": ("### ", "#  #", "### ", "# # ", "#  #"),
    "S": (" ###", "#   ", " ## ", "   #", "### "),
    "T": ("#####", "  #  ", "  #  ", "  #  ", "  #  "),
    "U": ("#  #", "#  #", "#  #", "#  #", " ## "),
    "V": ("#   #", "#   #", "#   #", " # # ", "  #  "),
    "W": ("#   #", "#   #", "# # #", "## ##", "#   #"),
    "X": ("#   #", " # # ", "  #  ", " # # ", "#   #"),
    "Y": ("#   #", " # # ", "  #  ", "  #  ", "  #  "),
    "Z": ("####", "   #", " ## ", "#   ", "####"),
    "0": (" ## ", "#  #", "#  #", "#  #", " ## "),
    "1": (" # ", "## ", " # ", " # ", "###"),
    "2": ("### ", "   #", " ## ", "#   ", "####"),
    "3": ("### ", "   #", " ## ", "   #", "### "),
    "4": ("#  #", "#  #", "####", "   #", "   #"),
    "5": ("####", "#   ", "### ", "   #", "### "),
    "6": (" ## ", "#   ", "### ", "#  #", " ## "),
    "7": ("####", "   #", "  # ", " #  ", " #  "),
    "8": (" ## ", "#  #", " ## ", "#  #", " ## "),
    "9": (" ## ", "#  #", " ###", "   #", " ## "),
    "'": ("#", "#", " ", " ", " "),
    ".": (" ", " ", " ", " ", "#"),
    ",": (" ", " ", " ", "#", "#"),
    ":": (" ", "#", " ", "#", " "),
    "!": ("#", "#", "#", " ", "#"),
    "?": ("### ", "   #", " ## ", "    ", " #  "),
    "-": ("   ", "   ", "###", "   ", "   "),
    "…": ("     ", "     ", "     ", "     ", "# # #"),
    " ": ("  ", "  ", "  ", "  ", "  "),
}
"""Each character as five rows of pixels (``#`` on)."""
HALF = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}
"""Two stacked pixels as one character."""
ROWS = {"huge": 5, "large": 3}
"""Text rows of one line of type in each size."""
LINE_GAP = 1
"""Blank text rows between two lines of type."""


def _pixels(text: str) -> list[str]:
    """The five pixel rows of ``text`` (unknown characters are left out), a blank column between letters."""
    rows = [""] * 5
    first = True
    for ch in text.upper():
        glyph = GLYPHS.get(ch)
        if glyph is None:
            continue
        for i in range(5):
            rows[i] += ("" if first else " ") + glyph[i]
        first = False
    return rows


def width_of(text: str, size: str) -> int:
    """Columns ``text`` takes in one line of type of this size."""
    n = len(_pixels(text)[0])
    return 2 * n if size == "huge" else n


def render_line(text: str, size: str) -> list[str]:
    """One line of type: :data:`ROWS` text rows of block characters."""
    px = _pixels(text)
    if size == "huge":
        return [row.replace("#", "██").replace(" ", "  ") for row in px]
    px.append(" " * len(px[0]))
    return ["".join(HALF[(a == "#", b == "#")] for a, b in zip(px[i], px[i + 1])) for i in (0, 2, 4)]


def wrap(text: str, size: str, width: int) -> list[str] | None:
    """The words of ``text`` in lines that fit ``width`` in this size, or None when a word does not."""
    lines: list[str] = []
    for word in text.split():
        if width_of(word, size) > width:
            return None
        if lines and width_of(lines[-1] + " " + word, size) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def block_height(lines: int, size: str) -> int:
    """Text rows of ``lines`` lines of type."""
    return lines * ROWS[size] + max(0, lines - 1) * LINE_GAP


def fit(text: str, width: int, height: int) -> tuple[str, list[str]] | None:
    """The largest size (``huge``, then ``large``) in which ``text`` fits ``width`` x ``height``, and
    its lines; None when it fits in neither."""
    for size in ("huge", "large"):
        lines = wrap(text, size, width)
        if lines and block_height(len(lines), size) <= height:
            return size, lines
    return None


def render(size: str, lines: list[str]) -> list[str]:
    """Lines of type, stacked with :data:`LINE_GAP` blank rows between them (each row unpadded)."""
    out: list[str] = []
    for i, line in enumerate(lines):
        if i:
            out.extend([""] * LINE_GAP)
        out.extend(render_line(line, size))
    return out
