"""The coach: the guide's psoas-release practice as a pure, deterministic session engine.

No clock, no I/O, no textual or bleak: driven by data time, so a whole session replays in
milliseconds. Loading presets from files lives in :mod:`psoas_sense.config`.

Names are loaded on first use, so the command line can read the safety questions and the
protocol names without loading the engine (and NumPy) just to print its help.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from psoas_sense.coach.engine import CoachEngine
    from psoas_sense.coach.pacer import Pacer, adherence
    from psoas_sense.coach.safety import CONDITIONS, SafetyCheck
    from psoas_sense.coach.settings import PROTOCOLS, CoachSettings, SettingsError, settings_from_mapping

_WHERE = {
    "CoachEngine": "psoas_sense.coach.engine",
    "Pacer": "psoas_sense.coach.pacer",
    "adherence": "psoas_sense.coach.pacer",
    "CONDITIONS": "psoas_sense.coach.safety",
    "SafetyCheck": "psoas_sense.coach.safety",
    "PROTOCOLS": "psoas_sense.coach.settings",
    "CoachSettings": "psoas_sense.coach.settings",
    "SettingsError": "psoas_sense.coach.settings",
    "settings_from_mapping": "psoas_sense.coach.settings",
}

__all__ = [
    "CONDITIONS",
    "PROTOCOLS",
    "CoachEngine",
    "CoachSettings",
    "Pacer",
    "SafetyCheck",
    "SettingsError",
    "adherence",
    "settings_from_mapping",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'psoas_sense.coach' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
