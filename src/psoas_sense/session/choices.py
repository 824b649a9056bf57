"""What the terminal UI's start screen hands back, and what the command line asks of the runs it
starts (plain data, no widgets): both front ends build them, so they live with the run's
configuration (:mod:`psoas_sense.session.setup`), below both."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psoas_sense.session.setup import RunConfig


@dataclass(frozen=True)
class StartChoice:
    """What to run, as chosen on the start screen."""

    kind: str
    """``demo``, ``strap``, ``phone``, ``recording`` or ``emulated``."""
    device: str | None = None
    """``--device`` spec: a strap's address or name, ``emulated:h10``, ``phyphox:HOST``,
    ``sensorlogger:PORT`` or ``udp:PORT``."""
    file: Path | None = None
    """The recording to replay."""
    protocol: str = "manual"
    """``manual``, ``tool`` or ``breathing``."""


@dataclass(frozen=True)
class StartOptions:
    """What the command line asked of the runs the start screen starts (``psoas-sense --speed 4``)."""

    speed: float | None = 1.0
    """Pace of the demo and of a recording: 1 = real pace, None = as fast as possible."""
    duration_s: float | None = None
    """Stop the demo or a recording after this much data."""
    save: bool = False
    """Save the demo or a recording in the history (they are not, by default)."""
    mute: bool = False
    speak: bool = False


def config_for(choice: StartChoice, options: StartOptions | None = None) -> RunConfig:
    """The run a start-screen choice asks for."""
    from psoas_sense.session.setup import CoachConfig, RunConfig

    o = options or StartOptions()
    played = choice.kind in ("demo", "recording")
    coach = CoachConfig(protocol=choice.protocol, save_history=o.save or not played)
    if choice.kind == "demo":
        from psoas_sense.recording.bundled import demo_recording

        path = demo_recording()
        return RunConfig("demo", file=path, speed=o.speed, loop=True, duration_s=o.duration_s, coach=coach,
                         subtitle=f"demo: {path.name}", mute=o.mute, speak=o.speak)
    if choice.kind == "recording" and choice.file is not None:
        return RunConfig("replay", file=choice.file, speed=o.speed, duration_s=o.duration_s, coach=coach,
                         subtitle=f"replay: {choice.file.name}", mute=o.mute, speak=o.speak)
    return RunConfig("session", device=choice.device or "emulated:h10", coach=coach,
                     subtitle=f"device: {choice.device}", mute=o.mute,
                     speak=o.speak)
