"""Modal screens: the safety check before massage work, and the pain stop."""

from __future__ import annotations

from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Label, Static

from psoas_sense.coach.safety import CONDITIONS
from psoas_sense.coach.texts import NOT_MEDICAL_ADVICE, PAIN_STOP


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
        Binding("escape,b", "breathing_only", "Breathing practice only"),
        Binding("c", "continue", "Continue"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="safety"):
            yield Label("Before deep abdominal work", id="safety-title")
            yield Static("Tick anything that applies to you:")
            for key, question in CONDITIONS.items():
                yield Checkbox(question, id=f"cond-{key}")
            yield Static(NOT_MEDICAL_ADVICE, id="safety-note")
            with Horizontal(id="safety-buttons"):
                yield Button("Continue", variant="primary", id="continue")
                yield Button("Breathing practice only", id="breathing-only")

    def _ticked(self) -> tuple[str, ...]:
        return tuple(k for k in CONDITIONS if self.query_one(f"#cond-{k}", Checkbox).value)

    @on(Button.Pressed, "#continue")
    def action_continue(self) -> None:
        self.dismiss(SafetyAnswer(self._ticked()))

    @on(Button.Pressed, "#breathing-only")
    def action_breathing_only(self) -> None:
        self.dismiss(SafetyAnswer(self._ticked(), breathing_only=True))


class PainScreen(ModalScreen[None]):
    """Shown at once on a pain stop: stop now, and when to see a professional."""

    BINDINGS = [Binding("escape,enter,q", "close", "Close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text or PAIN_STOP

    def compose(self) -> ComposeResult:
        with Vertical(id="pain"):
            yield Label("STOP", id="pain-title")
            yield Static(self._text, id="pain-text")
            yield Button("Close", id="pain-close")

    @on(Button.Pressed, "#pain-close")
    def action_close(self) -> None:
        self.dismiss(None)
