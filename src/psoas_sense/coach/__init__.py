"""The coach: the guide's psoas-release practice as a pure, deterministic session engine.

No clock, no I/O, no textual or bleak: driven by data time, so a whole session replays in
milliseconds. Loading presets from files lives in :mod:`psoas_sense.config`.
"""

from psoas_sense.coach.engine import CoachEngine
from psoas_sense.coach.pacer import Pacer, adherence
from psoas_sense.coach.safety import CONDITIONS, SafetyCheck
from psoas_sense.coach.settings import PROTOCOLS, CoachSettings, SettingsError, settings_from_mapping

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
