"""Modal screens: the safety check before massage work, the pain stop, "end the session?" and
"leave psoas-sense?".

The safety check opens with "None of these apply" focused, so Enter starts massage work with
nothing ticked; ticking a condition says plainly why the session will be breathing practice
only, and advises a professional.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.style import Style
from textual.widgets import Button, Checkbox, Label, RadioButton, Static
from textual.widgets._toggle_button import ToggleButton

from psoas_sense.coach.safety import CONDITIONS
from psoas_sense.coach.texts import NOT_MEDICAL_ADVICE, PAIN_STOP
from psoas_sense.ui.keybar import KeyBar, KeyHint

SAFETY_KEYS: tuple[KeyHint, ...] = (
    ("Enter", "start (the button in focus)", "start"),
    ("b", "breathing practice only", "breathing only"),
    ("space", "tick", "tick"),
    ("tab", "next", "next"),
)
"""The safety check's keys."""

BREATHING_ONLY_WHY = (
    "Because of what you ticked, this session will be breathing practice only: no deep pressure "
    "into the belly. Please ask a doctor or physiotherapist before any deep abdominal work."
)


def _glyph_button(button: ToggleButton, on: str, off: str) -> Content:
    """A toggle's button showing ``on`` or ``off``: told apart without colour."""
    style = button.get_visual_style("toggle--button")
    side = Style(foreground=style.background, background=button.background_colors[1])
    return Content.assemble((button.BUTTON_LEFT, side), (on if button.value else off, style),
                            (button.BUTTON_RIGHT, side))


class YesBox(Checkbox):
    """A checkbox that shows a tick only when ticked (Textual's shows an X either way, told apart by
    colour alone: unreadable without colour)."""

    @property
    def _button(self) -> Content:
        return _glyph_button(self, "✓", " ")


class ChoiceButton(RadioButton):
    """A radio button that shows which one is chosen without colour: ● chosen, ○ not."""

    @property
    def _button(self) -> Content:
        return _glyph_button(self, "●", "○")


@dataclass(frozen=True)
class SafetyAnswer:
    """What the user answered in the safety check."""

    conditions: tuple[str, ...] = ()
    """Keys of the conditions that apply (any: no deep abdominal work)."""
    breathing_only: bool = False
    """The user chose breathing practice only."""


class SafetyScreen(ModalScreen[SafetyAnswer]):
    """Asks the safety questions; dismisses with a :class:`SafetyAnswer`."""

    BINDINGS = [
        Binding("b", "breathing_only", "Breathing practice only"),
        Binding("c", "continue", "Continue"),
    ]
    DEFAULT_CSS = """
    SafetyScreen { align: center middle; }
    #safety { width: 100%; max-width: 100; height: 1fr; padding: 0 1; border: thick $primary; background: $panel; }
    #safety-title { text-style: bold; }
    #safety Checkbox { height: auto; width: 1fr; border: none; padding: 0; margin: 0; background: $panel; }
    #safety-why { color: $text; text-style: bold; margin-top: 1; }
    #safety-buttons { height: auto; margin-top: 1; }
    #safety-buttons Button { margin-right: 1; }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="safety"):
            yield Label("Before deep abdominal work", id="safety-title")
            yield Static("Tick anything that applies to you (space ticks, tab moves on):")
            for key, question in CONDITIONS.items():
                yield YesBox(question, id=f"cond-{key}")
            yield Static("", id="safety-why")
            yield Static(NOT_MEDICAL_ADVICE, id="safety-note")
            with Horizontal(id="safety-buttons"):
                yield Button("None of these apply: start", variant="primary", id="continue")
                yield Button("Breathing practice only", id="breathing-only")
        yield KeyBar(SAFETY_KEYS)

    def on_mount(self) -> None:
        self.query_one("#continue", Button).focus()

    def _ticked(self) -> tuple[str, ...]:
        return tuple(k for k in CONDITIONS if self.query_one(f"#cond-{k}", Checkbox).value)

    @on(Checkbox.Changed)
    def _explain(self) -> None:
        ticked = self._ticked()
        self.query_one("#safety-why", Static).update(BREATHING_ONLY_WHY if ticked else "")
        self.query_one("#continue", Button).label = "Continue: breathing practice" if ticked else (
            "None of these apply: start")

    @on(Button.Pressed, "#continue")
    def action_continue(self) -> None:
        self.dismiss(SafetyAnswer(self._ticked()))

    @on(Button.Pressed, "#breathing-only")
    def action_breathing_only(self) -> None:
        self.dismiss(SafetyAnswer(self._ticked(), breathing_only=True))


class PainScreen(ModalScreen[None]):
    """Shown at once on a pain stop: stop now, and when to see a professional."""

    BINDINGS = [Binding("enter,q,space", "close", "Close")]
    DEFAULT_CSS = """
    PainScreen { align: center middle; }
    #pain { width: 100%; max-width: 90; height: auto; padding: 1 2; border: thick #b71c1c; background: $panel; }
    #pain-title { text-style: bold; color: #ffffff; background: #b71c1c; width: 1fr; content-align: center middle; }
    #pain-text { margin: 1 0; }
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text or PAIN_STOP

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="pain"):
            yield Label("STOPPED", id="pain-title")
            yield Static(self._text, id="pain-text")
            yield Button("Close: Enter", id="pain-close")

    @on(Button.Pressed, "#pain-close")
    def action_close(self) -> None:
        self.dismiss(None)


class Question(ModalScreen[bool]):
    """A yes/no question as a small box at the bottom, the screen under it still in sight."""

    BINDINGS = [Binding("y", "answer(True)", "Yes"), Binding("n", "answer(False)", "No")]
    DEFAULT_CSS = """
    Question { align: center bottom; background: $background 15%; }
    Question > Vertical { width: 100%; max-width: 72; height: auto; padding: 0 1; margin-bottom: 1;
                          border: thick $warning; background: $panel; }
    Question .question-keys { text-style: bold; margin-top: 1; }
    """
    TEXT = ""
    KEYS = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.TEXT, classes="question-text")
            yield Static(self.KEYS, classes="question-keys")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)

    def action_back(self) -> None:
        """Escape outside a session: no."""
        self.dismiss(False)


class QuitScreen(Question):
    """"End the session now?" while it runs: ``y`` ends it (saved as a quit), ``n`` goes on.
    Escape here is what it is everywhere in a session, the pain stop, and the box says so."""

    TEXT = "End the session now? What you did so far is kept, saved as a quit."
    KEYS = "y  end it     n  go on     p or Esc  PAIN: stop now"


class LeaveScreen(Question):
    """"Leave psoas-sense?" outside a session: ``y`` leaves, ``n`` or Escape stays."""

    TEXT = "Leave psoas-sense?"
    KEYS = "y  leave     n or Esc  stay"
