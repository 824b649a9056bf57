"""The options of an emulated strap: ``emulated:KIND?key=value&...`` and its help text."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from psoas_sense.errors import PsoasError

MAX_LATENCY_S = 5.0
"""Largest link latency ``latency_ms`` may ask for."""
KINDS = ("h10", "hrs", "gdx-rb")
"""The emulated devices."""
BELT_KIND = "gdx-rb"
"""The emulated Go Direct Respiration Belt."""
STRAP_ONLY = ("start_delay", "acc_frames", "hr_flags", "no_contact_at", "restart_at", "move_at", "move_for", "hr_bpm",
              "malformed_at")
"""Options of the emulated straps that a belt does not have."""
BELT_ONLY = ("per_packet", "mtu", "pause_every", "pause_for", "packet_loss", "lose_at", "bad_checksum_at",
             "rate_after")
"""Options only the emulated belt has."""


@dataclass
class EmulatorOptions:
    """What ``emulated:KIND?key=value&...`` sets (see :data:`EMULATOR_HELP`)."""

    kind: str = "h10"
    """``h10`` (Polar H10: HRS and PMD), ``hrs`` (a standard heart-rate strap) or ``gdx-rb``
    (Vernier's Go Direct Respiration Belt)."""
    start_delay_s: float = 0.0
    """Seconds from the ACC start command to the first ACC frame."""
    drop_at_s: tuple[float, ...] = ()
    """Session times at which the link drops."""
    drop_for_s: float = 3.0
    """Seconds the strap stays out of reach after a drop or restart."""
    malformed_at_s: tuple[float, ...] = ()
    """Session times at which one malformed frame is sent."""
    stall_at_s: tuple[float, ...] = ()
    """Session times at which the ACC stream stalls."""
    stall_for_s: float = 10.0
    """Seconds a stall lasts."""
    recording: str | None = None
    """Recording or CSV driving the strap instead of the synthetic breather."""
    seed: int = 1
    """Seed of the synthetic breather and of the link latency."""
    rate_bpm: float = 12.0
    """Breathing rate of the synthetic breather, breaths per minute."""
    hr_bpm: float = 65.0
    """Heart rate of the synthetic breather, beats per minute."""
    acc_frames: str = "delta"
    """ACC frame type: ``delta`` (0x81) or ``raw`` (int16, 0x01)."""
    hr_flags: int | None = None
    """Flags byte of Heart Rate Measurement (None: the kind's default)."""
    rssi: int = -60
    """Advertised signal strength, dBm."""
    name: str | None = None
    """Advertised name (None: the kind's default)."""
    address: str | None = None
    """Address (None: the kind's default)."""
    no_contact_at_s: tuple[float, ...] = ()
    """Session times starting 10 s without skin contact."""
    restart_at_s: tuple[float, ...] = ()
    """Session times at which the strap reboots."""
    move_at_s: tuple[float, ...] = ()
    """Session times at which the wearer moves (rolls over, sits up) for ``move_for_s``."""
    move_for_s: float = 8.0
    """Seconds each movement lasts."""
    latency_s: tuple[float, float] = (0.010, 0.040)
    """(min, max) delay from sample to notification arrival, s."""
    per_packet: int = 2
    """Belt: samples per measurement packet (2 in the packet captured from a real belt)."""
    mtu: int = 23
    """Belt: the link's ATT MTU; frames longer than MTU - 3 go in several notifications."""
    pause_every_s: float = 0.0
    """Belt: a pause in delivery every this many seconds (0: none; a real belt pauses about once a second)."""
    pause_for_s: float = 0.5
    """Belt: how long each pause holds the packets back (they come afterwards, all at once)."""
    packet_loss: float = 0.0
    """Belt: share of measurement packets lost at random (seeded)."""
    lose_at_s: tuple[float, ...] = ()
    """Belt: session times at which one measurement packet is lost."""
    bad_checksum_at_s: tuple[float, ...] = ()
    """Belt: session times at which one measurement packet goes out with a wrong checksum."""
    rate_after_s: float = 30.0
    """Belt: seconds after START before its own respiration rate is valid (NaN until then)."""

    @property
    def is_h10(self) -> bool:
        """A Polar H10 (with the PMD service)."""
        return self.kind == "h10"

    @property
    def is_belt(self) -> bool:
        """A Go Direct Respiration Belt."""
        return self.kind == BELT_KIND


EMULATOR_HELP = """\
emulated:h10 | emulated:hrs, with options after '?' joined by '&' (quote it in the shell), e.g.
  --device 'emulated:h10?drop_at=60&start_delay=25&recording=PATH'
  start_delay=S    seconds between the ACC start command and the first ACC frame (H10; a real
                   H10 often takes 25-30 s; default 0)
  drop_at=S[,S..]  drop the link at these session times; drop_for=S (default 3) the device stays
                   out of reach
  malformed_at=S[,S..]  send one malformed frame at these times (skipped and counted)
  stall_at=S[,S..] the ACC stream stalls for stall_for=S seconds (default 10)
  restart_at=S[,S..]  the strap reboots: the link drops for drop_for, streams stop, and its
                   clock restarts from 2019-01-01 (as an H10 whose battery was pulled)
  no_contact_at=S[,S..]  10 s without skin contact (contact bits; straps that report them)
  move_at=S[,S..]  the wearer moves (rolls over, sits up: body motion on the accelerometer) for
                   move_for=S seconds (default 8)
  recording=PATH   drive the strap from a recording or CSV (acc and/or RR) instead of the
                   synthetic breather; seed=N, rate_bpm=X, hr_bpm=X tune the synthetic one
  acc_frames=delta|raw   ACC frame type: delta-compressed 0x81 (default) or raw int16 0x01 (what
                   a real H10 sends)
  hr_flags=0xNN    flags byte of Heart Rate Measurement (default 0x10 on h10, 0x16 on hrs)
  latency_ms=MIN-MAX  delay from the sample to the notification's arrival (default 10-40,
                   seeded; order kept, as on one BLE link)
  name=..., address=..., rssi=N   what the strap advertises

emulated:gdx-rb, Vernier's Go Direct Respiration Belt (force in N at 10 or 20 Hz, and its own
respiration rate); drop_at, drop_for, stall_at, stall_for, recording (a belt recording: its
breathing waveform), seed, rate_bpm, latency_ms, name, address and rssi as above, and
  per_packet=N     samples per measurement packet (default 2, as a real belt sends)
  mtu=N            the link's MTU (default 23: longer frames come in pieces)
  pause_every=S    hold the packets back every S seconds for pause_for=S (default 0.5): a real
                   belt pauses about once a second (default: no pauses)
  packet_loss=P    lose this share of measurement packets at random (seeded); lose_at=S[,S..]
                   lose one packet at these times
  bad_checksum_at=S[,S..]  one packet with a wrong checksum at these times (dropped, counted)
  rate_after=S     the belt's own respiration rate stays NaN this long after START (default 30)"""


def _floats(value: str, key: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise PsoasError(f"emulated device option {key}={value!r}: expected seconds (e.g. {key}=60)") from None


def parse_emulator_spec(spec: str) -> EmulatorOptions:
    """``emulated:h10?drop_at=60&start_delay=25`` -> options; :class:`PsoasError` when bad."""
    if not spec.startswith("emulated:"):
        raise PsoasError(f"not an emulated device: {spec!r}")
    body = spec[len("emulated:") :]
    kind, _, query = body.partition("?")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise PsoasError(f"unknown emulated device {kind!r}: use emulated:h10, emulated:hrs or emulated:gdx-rb")
    opts = EmulatorOptions(kind=kind)
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        key = key.strip().lower()
        if opts.is_belt and key in STRAP_ONLY:
            raise PsoasError(f"emulated device option {key} is for the emulated straps, not emulated:gdx-rb")
        if not opts.is_belt and key in BELT_ONLY:
            raise PsoasError(f"emulated device option {key} is for emulated:gdx-rb only")
        try:
            _set_option(opts, key, value)
        except ValueError:
            raise PsoasError(f"emulated device option {key}={value!r} is not a number") from None
    durations = (("start_delay", opts.start_delay_s), ("drop_for", opts.drop_for_s), ("stall_for", opts.stall_for_s),
                 ("move_for", opts.move_for_s))
    for name, v in durations:
        if not (v >= 0 and math.isfinite(v)):
            raise PsoasError(f"emulated device option {name} must be a non-negative number of seconds")
    if opts.is_belt:
        _check_belt(opts)
    elif not opts.is_h10 and (opts.stall_at_s or opts.start_delay_s):
        raise PsoasError("start_delay and stall_at apply to emulated:h10 only (a standard strap has no accelerometer)")
    return opts



def _latency(value: str, key: str) -> tuple[float, float]:
    lo, _, hi = value.partition("-")
    a, b = float(lo) / 1000.0, float(hi or lo) / 1000.0
    if not (0 <= a <= b <= MAX_LATENCY_S):
        raise PsoasError("emulated device option latency_ms must be MIN-MAX milliseconds, e.g. 10-40")
    return (a, b)


def _recording(value: str, key: str) -> str:
    if not value or not Path(value).exists():
        raise PsoasError(f"emulated device recording not found: {value!r}")
    return value


def _acc_frames(value: str, key: str) -> str:
    if value not in ("delta", "raw"):
        raise PsoasError("emulated device option acc_frames must be delta or raw")
    return value


def _seconds(value: str, key: str) -> float:
    return float(value)


def _whole(value: str, key: str) -> int:
    return int(value)


_OPTIONS: dict[str, tuple[str, Callable[[str, str], object]]] = {
    # the straps
    "start_delay": ("start_delay_s", _seconds),
    "drop_at": ("drop_at_s", _floats),
    "drop_for": ("drop_for_s", _seconds),
    "malformed_at": ("malformed_at_s", _floats),
    "stall_at": ("stall_at_s", _floats),
    "stall_for": ("stall_for_s", _seconds),
    "latency_ms": ("latency_s", _latency),
    "restart_at": ("restart_at_s", _floats),
    "no_contact_at": ("no_contact_at_s", _floats),
    "move_at": ("move_at_s", _floats),
    "move_for": ("move_for_s", _seconds),
    "recording": ("recording", _recording),
    "seed": ("seed", _whole),
    "rate_bpm": ("rate_bpm", _seconds),
    "hr_bpm": ("hr_bpm", _seconds),
    "acc_frames": ("acc_frames", _acc_frames),
    "hr_flags": ("hr_flags", lambda v, k: int(v, 0) & 0xFF),
    "rssi": ("rssi", _whole),
    "name": ("name", lambda v, k: v),
    "address": ("address", lambda v, k: v),
    # the belt
    "per_packet": ("per_packet", _whole),
    "mtu": ("mtu", _whole),
    "pause_every": ("pause_every_s", _seconds),
    "pause_for": ("pause_for_s", _seconds),
    "packet_loss": ("packet_loss", _seconds),
    "lose_at": ("lose_at_s", _floats),
    "bad_checksum_at": ("bad_checksum_at_s", _floats),
    "rate_after": ("rate_after_s", _seconds),
}
"""Every option: the attribute it sets and how its text becomes the value (``ValueError``: not a
number; :class:`PsoasError`: another reason, said)."""


def _set_option(opts: EmulatorOptions, key: str, value: str) -> None:
    """Set one option from its text; :class:`PsoasError` for an unknown one."""
    if key not in _OPTIONS:
        raise PsoasError(f"unknown emulated device option {key!r} (see --help for the list)")
    attr, convert = _OPTIONS[key]
    setattr(opts, attr, convert(value, key))


def _check_belt(opts: EmulatorOptions) -> None:
    """The belt's options in range, in one line each."""
    if not 1 <= opts.per_packet <= 30:
        raise PsoasError("emulated device option per_packet must be 1 to 30 samples")
    if not 23 <= opts.mtu <= 517:
        raise PsoasError("emulated device option mtu must be 23 to 517")
    if not (0.0 <= opts.packet_loss < 1.0):
        raise PsoasError("emulated device option packet_loss must be a share from 0 to below 1")
    for name, v in (("pause_every", opts.pause_every_s), ("pause_for", opts.pause_for_s),
                    ("rate_after", opts.rate_after_s)):
        if not (v >= 0 and math.isfinite(v)):
            raise PsoasError(f"emulated device option {name} must be a non-negative number of seconds")
    if opts.pause_every_s and opts.pause_for_s >= opts.pause_every_s:
        raise PsoasError("emulated device option pause_for must be shorter than pause_every")
