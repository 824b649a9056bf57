"""A session's typed configuration, built once, and what it assembles: source, coach, sinks.

The command line fills :class:`RunConfig` from its arguments, the presets and ``coach.toml``
(:func:`load_coach_settings`); the terminal UI's factory and the tests build the same objects
from it, so there is one way to wire a session. Edge code: it opens files and devices.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from psoas_sense.coach import CoachEngine, CoachSettings, SafetyCheck
from psoas_sense.coach.settings import FIELD_TYPES
from psoas_sense.config import MAX_VALUE_CHARS, ConfigError, load_settings, parse_value
from psoas_sense.errors import PsoasError
from psoas_sense.recording.format import Header
from psoas_sense.session.sinks import Recorder, Sink
from psoas_sense.sources.base import Source
from psoas_sense.vocab import Practice

PACE_KEYS = ("pacer_inhale_s", "pacer_hold_in_s", "pacer_exhale_s", "pacer_hold_out_s")
"""Settings that ``--pace IN:HOLD:OUT:HOLD`` sets, in order."""


@dataclass(frozen=True)
class CoachConfig:
    """What the coach is asked to do."""

    protocol: str | None = None
    """``manual``, ``tool``, ``breathing``, or None for detection only."""
    preset: str | None = None
    """A named preset."""
    config_file: Path | None = None
    """The settings file (default: ``coach.toml`` in the config directory)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Settings given on the command line (``--side-minutes``, ``--pace``, ``--set``...)."""
    conditions: tuple[str, ...] = ()
    """Safety-check conditions that apply."""
    safety_confirmed: bool = False
    """The person said none of the conditions apply."""
    simulated_safety: bool = False
    """A headless replay: nobody is pressing on anything; the check is not asked."""
    save_history: bool = True
    """Save the session in the history."""

    def safety(self) -> SafetyCheck:
        """The safety check as answered on the command line (or by the UI's screen)."""
        if self.safety_confirmed or self.conditions:
            return SafetyCheck.answered(list(self.conditions))
        if self.simulated_safety:
            return SafetyCheck(confirmed=True, simulated=True)
        return SafetyCheck()

    @property
    def needs_safety_screen(self) -> bool:
        """A massage protocol with no answer yet: the UI must ask first."""
        return self.protocol in (Practice.MANUAL, Practice.TOOL) and not (
            self.safety_confirmed or self.conditions or self.simulated_safety
        )


@dataclass(frozen=True)
class RunConfig:
    """Everything one run of ``replay``, ``session``, ``record`` or the demo needs."""

    command: str
    """``demo``, ``replay``, ``session``, ``record``."""
    file: Path | None = None
    """The recording to replay."""
    device: str | None = None
    """The device spec (``emulated:h10``, an address, ``phyphox:HOST``...)."""
    signal: str = "auto"
    """Detector signal."""
    speed: float | None = 1.0
    """Replay or emulator pace (None: as fast as possible)."""
    loop: bool = False
    """Repeat the recording."""
    duration_s: float | None = None
    """Stop after this much session time."""
    headless: bool = False
    """JSON lines instead of the terminal UI."""
    record_path: Path | None = None
    """Record the session here."""
    commands_file: Path | None = None
    """Read headless commands from this file."""
    mute: bool = False
    """No sound cues."""
    speak: bool = False
    """Speak the cues."""
    acc_rate_hz: int = 200
    """Highest accelerometer rate to ask a strap for."""
    belt_rate_hz: float = 10.0
    """Rate to ask a breathing belt for (10 or 20 Hz)."""
    reconnect_timeout_s: float = 60.0
    """Give up reconnecting after this long."""
    coach: CoachConfig = field(default_factory=CoachConfig)
    """The coach."""
    subtitle: str = ""
    """What the UI says it runs on."""

    def with_safety(self, conditions: Sequence[str], *, confirmed: bool) -> RunConfig:
        """The same run with the safety check answered (the UI's safety screen)."""
        coach = dataclasses.replace(self.coach, conditions=tuple(conditions), safety_confirmed=confirmed)
        return dataclasses.replace(self, coach=coach)


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` items as settings (values in TOML syntax)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set {item[:40]!r}: use KEY=VALUE")
        if key not in FIELD_TYPES:
            raise ConfigError(f"--set: {key[:40]}: unknown setting")
        if FIELD_TYPES[key] is str:
            out[key] = raw.strip()[:MAX_VALUE_CHARS]
            continue
        out[key] = parse_value(raw, f"--set: {key}")
    return out


def load_coach_settings(coach: CoachConfig) -> CoachSettings | None:
    """The coach settings from presets, ``coach.toml`` and overrides (None without a protocol).

    Raises:
        ConfigError: a bad preset, file or value (one line).
    """
    if coach.protocol is None:
        return None
    return load_settings(coach.protocol, preset=coach.preset, config_file=coach.config_file,
                         overrides=coach.overrides)


def signal_kind(config: RunConfig, header: Header | None) -> str:
    """The breathing signal the coach should expect (``acc`` starts with a calibration)."""
    if config.signal != "auto":
        return config.signal
    streams = header.streams if header is not None else {}
    for kind in ("resp", "acc", "rr"):
        if kind in streams:
            return kind
    return ""


def make_coach(config: RunConfig, header: Header | None) -> CoachEngine | None:
    """The coach the configuration asks for, or None for detection only."""
    settings = load_coach_settings(config.coach)
    if settings is None:
        return None
    return CoachEngine(settings, config.coach.safety(), signal=signal_kind(config, header))


def source_description(config: RunConfig, header: Header | None) -> dict[str, Any]:
    """What a session runs on, as saved in the history."""
    out: dict[str, Any] = {}
    if config.file is not None:
        out["file"] = str(config.file)
    if config.device:
        out["device"] = config.device
    out["kind"] = config.command
    if header is not None:
        out["device"] = dict(header.device or {}) or out.get("device", "")
        out["recorded_at"] = header.recorded_at
        out["streams"] = sorted(header.streams.keys())
    if config.loop:
        out["loop"] = True
    return out


def make_sinks(config: RunConfig, engine: CoachEngine | None, header: Header | None) -> list[Sink]:
    """The recorder and the history, as the configuration asks."""
    sinks: list[Sink] = []
    if config.record_path is not None:
        sinks.append(Recorder(config.record_path))
    if engine is not None and config.coach.save_history:
        from psoas_sense.session.history import HistorySink

        sinks.append(HistorySink(engine.settings, source=source_description(config, header)))
    return sinks


def open_source(config: RunConfig) -> Source:
    """The source the configuration names: a recording (replay, demo) or a device."""
    if config.file is not None:
        from psoas_sense.sources.replay import ReplaySource

        return ReplaySource(config.file, speed=config.speed, loop=config.loop)
    if config.device:
        from psoas_sense.sources.devices import open_device_source

        return open_device_source(config.device, speed=config.speed, acc_rate_hz=config.acc_rate_hz,
                                  reconnect_timeout_s=config.reconnect_timeout_s, belt_rate_hz=config.belt_rate_hz)
    raise PsoasError("nothing to run on: give a recording or --device")
