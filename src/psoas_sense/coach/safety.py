"""The safety check asked before the first session and whenever the user asks for it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from psoas_sense.coach.texts import BREATHING_ONLY_CONDITIONS, BREATHING_ONLY_UNCONFIRMED

CONDITIONS: Mapping[str, str] = {
    "pregnancy": "Are you pregnant?",
    "recent_surgery": "Have you had abdominal surgery recently?",
    "inflammation": "Is there active inflammation or an acute injury in the belly or hip area?",
    "blood_clot": "Do you have blood clots?",
    "aneurysm": "Do you have an aneurysm?",
    "kidney_disease": "Do you have kidney disease?",
    "gallbladder_disease": "Do you have gallbladder disease?",
}
"""Contraindications for deep abdominal work: key -> the question asked."""

CONDITION_NAMES: Mapping[str, str] = {
    "pregnancy": "pregnancy",
    "recent_surgery": "recent abdominal surgery",
    "inflammation": "inflammation or an acute injury",
    "blood_clot": "blood clots",
    "aneurysm": "an aneurysm",
    "kidney_disease": "kidney disease",
    "gallbladder_disease": "gallbladder disease",
}


@dataclass(frozen=True)
class SafetyCheck:
    """The answer to the safety check."""

    confirmed: bool = False
    """True when the user has gone through the check (headless: ``--confirm-safety``)."""
    conditions: tuple[str, ...] = ()
    """Keys of :data:`CONDITIONS` that apply to the user."""
    simulated: bool = False
    """A replay of a recording: nobody is pressing on anything, so the check is not asked
    (``--condition`` still simulates a contraindication)."""

    def __post_init__(self) -> None:
        unknown = [c for c in self.conditions if c not in CONDITIONS]
        if unknown:
            raise ValueError(f"unknown condition {unknown[0]!r}; choose from {', '.join(CONDITIONS)}")

    @classmethod
    def answered(cls, conditions: Iterable[str]) -> SafetyCheck:
        """A completed check in which the given conditions apply (none: cleared)."""
        return cls(confirmed=True, conditions=tuple(conditions))

    @property
    def cleared(self) -> bool:
        """True when deep abdominal work is fine: the check was done and nothing applies."""
        return self.confirmed and not self.conditions

    @property
    def status(self) -> str:
        if not self.confirmed:
            return "not_confirmed"
        if self.conditions:
            return "contraindicated"
        return "not_asked_replay" if self.simulated else "cleared"

    def blocked_text(self) -> str:
        """Why the massage protocols are blocked (empty when they are not)."""
        if self.cleared:
            return ""
        if not self.confirmed:
            return BREATHING_ONLY_UNCONFIRMED
        names = [CONDITION_NAMES[c] for c in self.conditions]
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
        return BREATHING_ONLY_CONDITIONS.format(conditions=joined)
