"""The key bar: the keys of a screen on one line that always fits, and a line-fitting helper.

Imports nothing of the signal stack, so the start, history and help screens stay light.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


def fit_parts(parts: list[str], width: int, sep: str) -> str:
    """``parts`` joined by ``sep``, dropping parts from the end until the line fits ``width`` (the
    first part is kept, cropped if it must be)."""
    parts = [p for p in parts if p]
    while len(parts) > 1 and len(sep.join(parts)) > width:
        parts.pop()
    return sep.join(parts)[:width]


KeyHint = tuple[str, str, str]
"""A key as the key bar shows it: (key, what it does, a shorter word for narrow screens)."""


def key_line(keys: list[KeyHint] | tuple[KeyHint, ...], width: int) -> list[tuple[str, str]]:
    """The keys that fit ``width``, as (key, words) pairs: full words if they all fit, else the
    short words, else the short words of the first keys only. The first key is always kept (it is
    the pain stop on every screen that has one)."""
    full = [(k, w) for k, w, _ in keys]
    if len(keys_text(full)) <= width:
        return full
    shown = [(k, s) for k, _, s in keys]
    while len(shown) > 1 and len(keys_text(shown)) > width:
        shown.pop()
    return shown


def keys_text(shown: list[tuple[str, str]]) -> str:
    """The key bar's text for these keys (the key, a space, its words; two spaces between keys)."""
    return "  ".join(f" {k}  {w}" for k, w in shown)


class KeyBar(Widget):
    """The keys of the screen, on one line that always fits: shorter words, then fewer keys (never
    the first) on a narrow terminal. Made for a glance: the key in reverse, then what it does."""

    DEFAULT_CSS = """
    KeyBar { height: 1; width: 1fr; dock: bottom; background: $panel; color: $text; }
    """

    def __init__(self, keys: list[KeyHint] | tuple[KeyHint, ...], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self._keys = tuple(keys)

    def set_keys(self, keys: list[KeyHint] | tuple[KeyHint, ...]) -> None:
        """Show other keys."""
        if tuple(keys) != self._keys:
            self._keys = tuple(keys)
            self.refresh()

    @property
    def shown(self) -> list[tuple[str, str]]:
        """The (key, words) pairs shown at the current width."""
        return key_line(self._keys, max(1, self.size.width))

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="crop")
        for i, (key, words) in enumerate(self.shown):
            if i:
                text.append("  ")
            text.append(f" {key} ", style="bold reverse")
            text.append(f" {words}", style="bold" if i == 0 else "")
        return text
