"""What the start and history screens hand back to the app (plain data, no widgets)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
