"""``psoas-sense scan``: nearby straps and breathing belts, strongest first, with what each can stream."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from psoas_sense.cli.options import PROG, seconds_arg


def add_parser(sub: Any) -> None:
    sc = sub.add_parser(
        "scan",
        help="list nearby heart-rate straps, Polar accelerometer straps and breathing belts, strongest first",
        description="List devices advertising the Heart Rate Service or Polar PMD, and Vernier Go Direct "
        "Respiration Belts (GDX-RB): name, address, signal strength and what each can stream (hr, rr, acc; "
        "a belt: force and its own breathing rate, with its channels). Use the address or name with --device.",
    )
    sc.add_argument("--timeout", type=seconds_arg, default=5.0, help="seconds to listen (default 5)")
    sc.add_argument("--json", action="store_true", help="one JSON object per device")
    sc.add_argument("--emulated", action="store_true", help="list the emulated devices instead of the radio")
    sc.set_defaults(func=cmd_scan)


def cmd_scan(args: argparse.Namespace) -> int:
    """List nearby straps and belts a device profile recognises, strongest first."""
    from psoas_sense.cli.running import run_with_signals
    from psoas_sense.sources import ble

    async def go() -> int:
        scanner_backend = None
        straps: list[Any] = []
        if args.emulated:
            from psoas_sense.sources.ble.profiles import emulated_kinds
            from psoas_sense.sources.clock import VirtualClock
            from psoas_sense.sources.emulator import EmulatedBleakScanner, make_emulated, parse_emulator_spec

            clock = VirtualClock(None)
            straps = [make_emulated(parse_emulator_spec(f"emulated:{k}"), clock) for k in emulated_kinds()]
            scanner_backend = EmulatedBleakScanner
        found = await ble.scan(
            args.timeout,
            scanner_backend=scanner_backend,
            scanner_kwargs={"devices": straps} if args.emulated else None,
        )
        if args.json:
            for d in found:
                row: dict[str, Any] = {"name": d.name, "address": d.address, "rssi": d.rssi, "streams": list(d.streams)}
                if d.channels:
                    row["channels"] = [dict(c) for c in d.channels]
                print(json.dumps(row))
            return 0
        if not found:
            print(
                f"{PROG}: no strap or belt found in {args.timeout:g} s: wear the strap (it sleeps off the "
                "skin), wet the electrodes, switch a belt on, and make sure no phone app holds it",
                file=sys.stderr,
            )
            return 1
        print(f"{'name':<24} {'address':<38} {'signal':>8}  streams")
        for d in found:
            rssi = f"{d.rssi} dBm" if d.rssi is not None else "?"
            what = ", ".join(d.streams) or "?"
            print(f"{d.name or '?':<24} {d.address:<38} {rssi:>8}  {what}")
            if d.channels:
                chans = ", ".join(f"{c['channel']} {c['name']} ({c['unit']})" for c in d.channels)
                print(f"{'':<24} channels: {chans}")
        return 0

    return run_with_signals(go, "scan stopped")
