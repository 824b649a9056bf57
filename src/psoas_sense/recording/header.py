"""The header of a recording (its first line): what was recorded, when and with what.

:class:`Header` is what the writer writes first and the reader gives back; :func:`parse_header`
validates a parsed first line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from psoas_sense.errors import InputError

FORMAT_NAME = "psoas-sense-recording"
"""The ``format`` of the header line."""
FORMAT_VERSION = 1
"""The ``version`` of the header line (the only one this program reads and writes)."""
STREAMS: Mapping[str, str] = {
    "resp": "a breathing waveform: 'au' (arbitrary units), or 'N' for a belt's force (a Vernier GDX-RB: "
            "'quantity': 'force', 'channel': 1, 'inhale': 'rises')",
    "acc": "a 3-axis accelerometer, 'mG'",
    "rr": "RR intervals, 'ms'",
    "hr": "heart rate, 'bpm'",
    "device_rate": "the breathing rate a device computes itself (a GDX-RB's channel 2), 'bpm'",
}
"""The streams a header may name, with their units (``streams`` keys; others are kept as they are)."""
INHALE_DIRECTIONS = ("rises", "falls")
"""A stream's ``inhale``: which way its values go on the inhale, when the device makes it known."""


@dataclass(frozen=True)
class Header:
    """The first line of a recording."""

    streams: Mapping[str, Mapping[str, Any]]
    """Stream name -> ``{"unit": ..., "rate_hz": ...}`` (see :data:`STREAMS`), plus what the device
    says of it: a belt's force is ``{"unit": "N", "rate_hz": 10.0, "quantity": "force", "channel": 1,
    "inhale": "rises"}``."""
    device: Mapping[str, Any] = field(default_factory=dict)
    """``name``, ``model``, ``firmware``, ``address``, ``source`` (ble, emulated, phone, import)."""
    recorded_at: str = ""
    """ISO 8601 UTC time the recording started (wall clock; informational only)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Any other header keys (``provenance``, ``licence``, ``notes``...), kept as they are."""

    def to_json(self) -> dict[str, Any]:
        """The header line's JSON object (``extra`` keys after the known ones, never overriding them)."""
        out: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "recorded_at": self.recorded_at,
            "device": dict(self.device),
            "streams": {k: dict(v) for k, v in self.streams.items()},
        }
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out



def is_finite_number(x: Any) -> bool:
    """True for a JSON number that is finite (and not a boolean)."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def parse_header(obj: Any, fail: Callable[[str], InputError]) -> Header:
    """The header from the parsed first line, validated.

    Args:
        obj: the first line, parsed JSON.
        fail: makes the error to raise from a reason (it names the file and line 1).
    """
    if not isinstance(obj, dict):
        raise fail("header must be a JSON object")
    if obj.get("format") != FORMAT_NAME:
        raise fail(f"not a psoas-sense recording (header 'format' is {obj.get('format')!r})"[:200])
    version = obj.get("version")
    if version != FORMAT_VERSION:
        raise fail(f"unsupported recording version {version!r} (this program reads 1)"[:200])
    streams = obj.get("streams", {})
    if not isinstance(streams, dict) or not all(isinstance(v, dict) for v in streams.values()):
        raise fail("header 'streams' must be an object of objects")
    for name, spec in streams.items():
        if "rate_hz" in spec and spec["rate_hz"] is not None and not (
            is_finite_number(spec["rate_hz"]) and spec["rate_hz"] > 0
        ):
            raise fail(f"stream {name!r}: 'rate_hz' must be a positive number")
        if "unit" in spec and not isinstance(spec["unit"], str):
            raise fail(f"stream {name!r}: 'unit' must be a string")
        if "inhale" in spec and spec["inhale"] not in INHALE_DIRECTIONS:
            raise fail(f"stream {name!r}: 'inhale' must be 'rises' or 'falls'")
    device = obj.get("device", {})
    if not isinstance(device, dict):
        raise fail("header 'device' must be an object")
    recorded_at = obj.get("recorded_at", "")
    known = {"format", "version", "streams", "device", "recorded_at"}
    extra = {k: v for k, v in obj.items() if k not in known}
    return Header(streams=streams, device=device, recorded_at=str(recorded_at), extra=extra)

