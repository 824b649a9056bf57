"""The help screen: every key and every sound, in plain words; any key closes it.

The sounds are described here, not read from :mod:`psoas_sense.ui.audio` (which loads NumPy to
make its tones); a test checks that every tone there has its words here.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: tuple[tuple[str, str], ...] = (
    ("p or Escape", "PAIN: stop everything now (on any screen, nothing asked)"),
    ("space", "the spot has softened"),
    ("n", "next step"),
    ("m", "sound off / on"),
    ("?", "this help"),
    ("q", "end the session (asks first)"),
    ("h", "past sessions (on the start screen)"),
)
"""Every key of the app and what it does."""

SOUNDS: tuple[tuple[str, str, str], ...] = (
    ("exhale", "falling tone", "breathe out: sink deeper, slide the foot, let the leg go"),
    ("inhale", "soft rising tone", "breathe in and hold the pressure"),
    ("chime", "two-note chime", "a hold or a stage begins or ends"),
    ("switch", "three rising notes", "switch sides"),
    ("attention", "two short beeps", "attention: keep breathing, ease off, or follow my cues"),
    ("stop", "low plain tone", "pain stop: everything has stopped"),
    ("end", "long falling tone", "the session is over"),
)
"""Every tone (its name in :data:`psoas_sense.ui.audio.TONES`), how it sounds and what it means."""


class HelpScreen(ModalScreen[None]):
    """Lists every key and every sound; any key (or a click) closes it and dismisses with None."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help {
        width: 100%; max-width: 96; height: auto; max-height: 100%;
        border: round $primary; padding: 0 1; background: $surface;
    }
    HelpScreen #help-tables { height: auto; }
    HelpScreen .help-heading { text-style: bold; color: $text-primary; margin-top: 1; }
    HelpScreen Grid { grid-size: 2; grid-columns: 20 1fr; grid-rows: auto; height: auto; }
    HelpScreen .what { text-style: bold; }
    HelpScreen #help-close { margin-top: 1; }
    HelpScreen #keys-heading, HelpScreen.-wide .help-heading { margin-top: 0; }
    HelpScreen.-wide #help-tables { layout: horizontal; height: auto; }
    HelpScreen.-wide #help { max-width: 150; }
    HelpScreen.-wide .help-part { width: 1fr; padding-right: 2; }
    HelpScreen .help-part { height: auto; }
    """
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (140, "-wide")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help") as box:
            box.border_title = "Keys and sounds"
            with Vertical(id="help-tables"):
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
                    yield Static("No audio player: terminal bells, 1 = breathe out, 2 = a hold, stage or side "
                                 "changes, 3 = attention, 4 = pain stop.", id="help-bells")
            yield Static("Press any key to close.", id="help-close")

    def on_key(self, event: events.Key) -> None:
        """Close on any key."""
        event.stop()
        self.dismiss(None)

    def on_click(self, event: events.Click) -> None:
        """Close on a click."""
        event.stop()
        self.dismiss(None)
