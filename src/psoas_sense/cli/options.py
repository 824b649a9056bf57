"""Shared option types and option groups, and the typed configuration built from them once.

Each command module adds only its own options; the groups here (source pace, output, device,
coach) are defined once so their names, defaults and help never drift apart. Nothing heavy is
imported here: ``psoas-sense --help`` stays fast.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from psoas_sense.coach.safety import CONDITIONS
from psoas_sense.coach.settings import PROTOCOLS, SIDES

if TYPE_CHECKING:
    from psoas_sense.session.setup import CoachConfig, RunConfig

PROG = "psoas-sense"
SIGNALS = ("auto", "resp", "acc", "rr")
"""``--signal`` choices."""


def speed_arg(text: str) -> float | None:
    """``--speed``: a positive factor, or ``max`` (as fast as possible: None)."""
    if text.strip().lower() == "max":
        return None
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'max', not {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError("must be positive")
    return v


def seconds_arg(text: str) -> float:
    """A positive, finite number of seconds."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, not {text!r}") from None
    if not (v > 0 and math.isfinite(v)):
        raise argparse.ArgumentTypeError("must be positive")
    return v


def pace_arg(text: str) -> tuple[float, float, float, float]:
    """``--pace IN:OUT`` or ``IN:HOLD:OUT:HOLD`` seconds."""
    wants = f"--pace wants IN:OUT or IN:HOLD:OUT:HOLD seconds, got {text!r}"
    try:
        nums = [float(p) for p in text.split(":")]
    except ValueError:
        raise argparse.ArgumentTypeError(wants) from None
    if len(nums) == 2:
        return nums[0], 0.0, nums[1], 0.0
    if len(nums) == 4:
        return nums[0], nums[1], nums[2], nums[3]
    raise argparse.ArgumentTypeError(wants)


def device_help() -> str:
    """The ``--device`` help (built from the sources, so loaded only when help is shown)."""
    from psoas_sense.sources.devices import DEVICE_HELP

    return DEVICE_HELP


def add_signal(p: argparse.ArgumentParser) -> None:
    p.add_argument("--signal", choices=SIGNALS, default="auto", help="signal to detect on (default auto)")


def add_run_options(p: argparse.ArgumentParser, *, speed_help: str) -> None:
    """Pace, duration, headless mode, commands and sound: ``replay`` and ``session``."""
    p.add_argument("--speed", type=speed_arg, default=1.0, help=speed_help)
    p.add_argument("--duration", type=seconds_arg, default=None, metavar="S", help="stop after S seconds of data")
    p.add_argument("--headless", action="store_true", help="print JSON lines instead of the terminal UI")
    p.add_argument("--commands", metavar="FILE", help="read headless commands from FILE instead of stdin")
    add_signal(p)
    add_sound_options(p)


def add_sound_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mute", action="store_true", help="no sound cues (terminal UI)")
    p.add_argument("--speak", action="store_true", help="also speak the cues (needs espeak-ng, espeak or say)")


def add_device_options(p: argparse.ArgumentParser) -> None:
    """The device and its link: ``session`` and ``record``."""
    p.add_argument("--device", required=True, metavar="D",
                   help="address, name, emulated:h10, emulated:hrs, emulated:gdx-rb, phyphox:HOST, "
                   "sensorlogger:PORT or udp:PORT")
    p.add_argument("--acc-rate", type=int, default=200, metavar="HZ",
                   help="H10 accelerometer rate, Hz (25-200; 0 = off; default 200)")
    p.add_argument("--belt-rate", type=float, default=10.0, choices=(10.0, 20.0), metavar="HZ",
                   help="breathing belt (GDX-RB) rate: 10 (default, its typical) or 20 Hz (its fastest)")
    p.add_argument("--reconnect-timeout", type=seconds_arg, default=60.0, metavar="S",
                   help="give up after S seconds without a link (default 60)")


def add_coach_options(p: argparse.ArgumentParser) -> None:
    """The coach: ``replay``, ``session`` and ``report FILE``."""
    g = p.add_argument_group("coach")
    g.add_argument("--protocol", choices=PROTOCOLS, default=None,
                   help="coach a session: manual (fingers), tool (face down on a tool) or breathing (paced)")
    g.add_argument("--confirm-safety", action="store_true",
                   help="none of the safety-check conditions apply to me (pregnancy, recent abdominal surgery, "
                        "inflammation or acute injury, blood clots, aneurysm, kidney or gallbladder disease); "
                        "without it massage protocols offer breathing practice only")
    g.add_argument("--condition", action="append", default=[], choices=sorted(CONDITIONS), metavar="NAME",
                   help="a safety-check condition that applies to me (repeatable; massage is then replaced by "
                        f"breathing practice): {', '.join(CONDITIONS)}")
    g.add_argument("--side-minutes", type=float, default=None, metavar="M", help="minutes per side (default 3)")
    g.add_argument("--hold-seconds", type=float, default=None, metavar="S",
                   help="length of a static hold, 30-60 (default 45; tool holds default 150)")
    g.add_argument("--first-side", choices=SIDES, default=None, help="side to start with (default left)")
    g.add_argument("--breathing-minutes", type=float, default=None, metavar="M",
                   help="length of breathing practice (default 5)")
    g.add_argument("--pace", type=pace_arg, default=None, metavar="IN:OUT",
                   help="paced breathing rhythm, seconds: IN:OUT or IN:HOLD:OUT:HOLD (default 4:6)")
    g.add_argument("--preset", default=None, metavar="NAME",
                   help="a named preset (built in: manual gentle|long, tool long, breathing calm|even|slow|box; "
                        "or [presets.NAME] in your coach.toml)")
    g.add_argument("--config", default=None, metavar="FILE",
                   help="coach settings file (default: coach.toml in the config directory)")
    g.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="coach_set",
                   help="override one coach setting, e.g. --set side_warning_s=20 (repeatable)")
    g.add_argument("--no-history", action="store_true", help="do not save this session in the history")


def coach_config(args: argparse.Namespace, *, simulated_safety: bool = False) -> CoachConfig:
    """The coach part of the configuration, from the coach options (absent ones: defaults)."""
    from psoas_sense.session.setup import PACE_KEYS, CoachConfig, parse_overrides

    ns = vars(args)
    overrides: dict[str, object] = {}
    for opt, key in (("side_minutes", "side_minutes"), ("hold_seconds", "hold_s"),
                     ("first_side", "first_side"), ("breathing_minutes", "breathing_minutes")):
        if ns.get(opt) is not None:
            overrides[key] = ns[opt]
    if ns.get("pace") is not None:
        overrides.update(zip(PACE_KEYS, ns["pace"]))
    overrides.update(parse_overrides(ns.get("coach_set") or []))
    if ns.get("protocol") is None and (overrides or ns.get("preset") or ns.get("config")):
        print(f"{PROG}: note: coach settings apply to a coached session; add --protocol manual, tool or "
              "breathing (without it only the breathing is detected)", file=sys.stderr)
    return CoachConfig(
        protocol=ns.get("protocol"),
        preset=ns.get("preset"),
        config_file=Path(ns["config"]) if ns.get("config") else None,
        overrides=overrides,
        conditions=tuple(ns.get("condition") or ()),
        safety_confirmed=bool(ns.get("confirm_safety")),
        simulated_safety=simulated_safety,
        save_history=not ns.get("no_history", False),
    )


def run_config(args: argparse.Namespace, command: str, *, simulated_safety: bool = False) -> RunConfig:
    """The whole typed configuration of a run, built once from the parsed arguments."""
    from psoas_sense.session.setup import RunConfig

    ns = vars(args)
    file = ns.get("file")
    record = ns.get("record") or ns.get("out")
    commands = ns.get("commands")
    return RunConfig(
        command=command,
        file=Path(file) if file else None,
        device=ns.get("device"),
        signal=ns.get("signal") or "auto",
        speed=ns.get("speed", 1.0),
        loop=bool(ns.get("loop")),
        duration_s=ns.get("duration"),
        headless=bool(ns.get("headless")),
        record_path=Path(record) if record else None,
        commands_file=Path(commands) if commands else None,
        mute=bool(ns.get("mute")),
        speak=bool(ns.get("speak")),
        acc_rate_hz=int(ns.get("acc_rate", 200)),
        belt_rate_hz=float(ns.get("belt_rate", 10.0)),
        reconnect_timeout_s=float(ns.get("reconnect_timeout", 60.0)),
        coach=coach_config(args, simulated_safety=simulated_safety),
        subtitle=f"replay: {Path(file).name}" if file else (f"device: {ns['device']}" if ns.get("device") else ""),
    )
