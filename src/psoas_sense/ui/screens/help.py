"""The help: every key and every sound, in plain words, in a box at the bottom that keeps the
session in sight above it. Any key closes it, except the pain stop (``p`` or Escape), which
during a session stops everything as it does everywhere.

The sounds are described here, not read from :mod:`psoas_sense.ui.audio` (which loads NumPy to
make its tones); a test checks that every tone there has its words here.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("p or Esc", "PAIN: stop everything now"),
    ("space", "the spot has softened"),
    ("n", "next step"),
    ("m", "sound off / on"),
    ("?", "this help"),
    ("q", "end the session / leave (asks)"),
    ("h", "past sessions"),
    ("Esc", "outside a session: back"),
)
"""Every key of the app and what it does."""

SOUNDS: tuple[tuple[str, str, str], ...] = (
    ("exhale", "falling tone", "breathe out"),
    ("inhale", "soft rising tone", "breathe in"),
    ("chime", "two-note chime", "a hold or stage begins/ends"),
    ("switch", "three rising notes", "switch sides"),
    ("attention", "two short beeps", "attention"),
    ("stop", "low plain tone", "pain stop"),
    ("end", "long falling tone", "session over"),
)
"""Every tone (its name in :data:`psoas_sense.ui.audio.TONES`), how it sounds and what it means."""

BELLS = "No audio player: bells, 1 = breathe out, 2 = hold, stage or side, 3 = attention, 4 = pain."
"""What the bells mean when no audio player is found."""
KEEP_IN_SIGHT = 10
"""Rows at the top (the status line and the instruction band) the help leaves in sight, room allowing."""


class HelpScreen(ModalScreen[None]):
    """Lists every key and every sound; any other key (or a click) closes it and dismisses with None.

    Args:
        in_session: a session runs under it (the closing line then recalls the pain stop).
    """

    DEFAULT_CSS = """
    HelpScreen { align: center bottom; background: $background 15%; }
    HelpScreen #help { width: 100%; height: auto; border: round $primary; padding: 0 1; background: $surface; }
    HelpScreen #help-tables { height: auto; layout: vertical; }
    HelpScreen #help-scroll { height: auto; }
    HelpScreen .help-heading { text-style: bold; color: $text-primary; }
    HelpScreen Grid { grid-size: 2; grid-columns: 10 1fr; grid-rows: auto; height: auto; }
    HelpScreen #help-sounds { grid-columns: 19 1fr; }
    HelpScreen .what { text-style: bold; }
    HelpScreen .help-part { height: auto; }
    HelpScreen.-wide #help-tables { layout: horizontal; }
    HelpScreen.-wide .help-part { width: 1fr; padding-right: 2; }
    HelpScreen #help-close { text-style: bold; }
    """
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (80, "-wide")]

    def __init__(self, *, in_session: bool = False) -> None:
        super().__init__()
        self.in_session = in_session

    def compose(self) -> ComposeResult:
        with Vertical(id="help") as box:
            box.border_title = "Keys and sounds"
            with VerticalScroll(id="help-scroll"):
                with Horizontal(id="help-tables"):
                    with Vertical(classes="help-part"):
                        yield Static("Keys", classes="help-heading", id="keys-heading")
                        with Grid(id="help-keys"):
                            for key, meaning in KEYS:
                                yield Static(key, classes="what")
                                yield Static(meaning)
                    with Vertical(classes="help-part"):
                        yield Static("Sounds", classes="help-heading")
                        with Grid(id="help-sounds"):
                            for _name, sound, meaning in SOUNDS:
                                yield Static(sound, classes="what")
                                yield Static(meaning)
                        yield Static(BELLS, id="help-bells")
            pain = "  p or Esc: PAIN stop." if self.in_session else ""
            yield Static(f"Any other key closes this.{pain}", id="help-close")

    def on_mount(self) -> None:
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        """Leave the band in sight: the box takes the rows below it, and scrolls when it must."""
        height = self.app.size.height
        room = max(8, height - KEEP_IN_SIGHT) if height >= 20 else height
        self.query_one("#help-scroll").styles.max_height = max(3, room - 3)

    def on_key(self, event: events.Key) -> None:
        """Close on any key but the arrows and page keys (which scroll a help too tall for the screen)."""
        if event.key in ("up", "down", "pageup", "pagedown", "home", "end"):
            return
        event.stop()
        self.dismiss(None)

    def on_click(self, event: events.Click) -> None:
        """Close on a click."""
        event.stop()
        self.dismiss(None)
