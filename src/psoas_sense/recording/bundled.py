"""The recordings that travel with psoas-sense: where they are, and the one the demo plays.

Both front ends use them (the command line's demo, the start screen's "Demo"), so they live
here on the edge, where either may import them.
"""

from __future__ import annotations

from pathlib import Path

from psoas_sense.errors import PsoasError

DEMO_RECORDING = "neurokit2-resting-belt-rr.jsonl.gz"
"""The bundled recording the demo plays."""


def recordings_dir() -> Path:
    """Where the bundled recordings are: inside the installed package, or the source tree."""
    here = Path(__file__).resolve().parents[1]
    packaged = here / "_recordings"
    if packaged.is_dir():
        return packaged
    return here.parents[1] / "recordings"


def demo_recording() -> Path:
    """The bundled recording the demo plays.

    Raises:
        PsoasError: it is missing (a broken install).
    """
    path = recordings_dir() / DEMO_RECORDING
    if not path.exists():
        raise PsoasError(f"{path}: bundled demo recording is missing (reinstall psoas-sense)")
    return path
