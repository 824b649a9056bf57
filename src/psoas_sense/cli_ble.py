"""``psoas-sense scan`` and ``psoas-sense record``: the BLE subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from psoas_sense.cli_common import run_with_signals, seconds_arg, speed_arg
from psoas_sense.errors import PsoasError

PROG = "psoas-sense"




def _run(coro_factory: Callable[[], Awaitable[int]]) -> int:
    return run_with_signals(coro_factory, "strap stopped and disconnected, recording closed")


# --------------------------------------------------------------------------- scan


def cmd_scan(args: argparse.Namespace) -> int:
    """List nearby straps advertising the Heart Rate Service or Polar PMD, strongest first."""
    from psoas_sense.sources import ble

    async def go() -> int:
        scanner_backend = None
        straps: list[Any] = []
        if args.emulated:
            from psoas_sense.sources.clock import VirtualClock
            from psoas_sense.sources.emulator import EmulatedBleakScanner, EmulatedStrap, parse_emulator_spec

            clock = VirtualClock(None)
            straps = [EmulatedStrap(parse_emulator_spec(f"emulated:{k}"), clock) for k in ("h10", "hrs")]
            scanner_backend = EmulatedBleakScanner
        found = await ble.scan(
            args.timeout,
            scanner_backend=scanner_backend,
            scanner_kwargs={"devices": straps} if args.emulated else None,
        )
        if args.json:
            for d in found:
                print(json.dumps({"name": d.name, "address": d.address, "rssi": d.rssi, "streams": list(d.streams)}))
            return 0
        if not found:
            print(
                f"{PROG}: no heart-rate strap found in {args.timeout:g} s: wear the strap (it sleeps off the "
                "skin), wet the electrodes, and make sure no phone app holds it",
                file=sys.stderr,
            )
            return 1
        print(f"{'name':<24} {'address':<38} {'signal':>8}  streams")
        for d in found:
            rssi = f"{d.rssi} dBm" if d.rssi is not None else "?"
            what = ", ".join(d.streams) or "?"
            print(f"{d.name or '?':<24} {d.address:<38} {rssi:>8}  {what}")
        return 0

    return _run(go)


# --------------------------------------------------------------------------- record


def cmd_record(args: argparse.Namespace) -> int:
    """Record a strap's raw traffic (every notification's bytes) to a format-v1 recording."""
    from psoas_sense.runner import run_session
    from psoas_sense.sources.devices import open_device_source

    out = Path(args.out)
    if out.exists():
        raise PsoasError(f"{out}: already exists; choose a new file (recordings are never overwritten)")
    if not out.parent.exists():
        raise PsoasError(f"{out.parent}: folder does not exist")
    source = open_device_source(args.device, speed=args.speed, acc_rate_hz=args.acc_rate, reconnect_timeout_s=args.reconnect_timeout)

    def emit(line: dict[str, Any]) -> None:
        if line.get("event") == "status":
            detail = f" ({line['detail']})" if line.get("detail") else ""
            print(f"{PROG}: {line['t']:8.2f} s  {line['state']}{detail}", file=sys.stderr)

    async def go() -> int:
        result = await run_session(source, signal="auto", emit=emit, record_path=out, duration_s=args.duration)
        print(
            f"{PROG}: recorded {result.items} items, {result.last_t_s:.1f} s, to {out}"
            + (f"; {result.decode_errors} malformed notifications" if result.decode_errors else ""),
            file=sys.stderr,
        )
        return 0

    return _run(go)


# --------------------------------------------------------------------------- parsers


def add_parsers(subparsers: Any) -> None:
    """Add ``scan`` and ``record`` to the command line."""
    from psoas_sense.sources.devices import DEVICE_HELP

    sc = subparsers.add_parser(
        "scan",
        help="list nearby heart-rate straps (and Polar accelerometer straps), strongest first",
        description="List devices advertising the Heart Rate Service or Polar PMD: name, address, "
        "signal strength and what each can stream (hr, rr, acc). Use the address or name with --device.",
    )
    sc.add_argument("--timeout", type=seconds_arg, default=5.0, help="seconds to listen (default 5)")
    sc.add_argument("--json", action="store_true", help="one JSON object per device")
    sc.add_argument("--emulated", action="store_true", help="list the emulated straps instead of the radio")
    sc.set_defaults(func=cmd_scan)

    rc = subparsers.add_parser(
        "record",
        help="record a strap's raw BLE traffic for replay or a bug report",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Store every notification's raw bytes (Heart Rate Measurement, Polar PMD control\n"
        "point and data) with their arrival times in a format-v1 recording;\n"
        "`psoas-sense replay FILE` re-runs the decoders on it.\n\n" + DEVICE_HELP,
    )
    rc.add_argument("--device", required=True, metavar="D", help="address, name, emulated:h10 or emulated:hrs (options: see above)")
    rc.add_argument("--out", required=True, metavar="FILE", help="new recording (.jsonl or .jsonl.gz)")
    rc.add_argument("--duration", type=seconds_arg, default=None, help="stop after S seconds (default: until Ctrl-C)")
    rc.add_argument("--speed", type=speed_arg, default=1.0, help="emulated devices only: 1, 4, ... or max")
    rc.add_argument("--acc-rate", type=int, default=200, help="H10 accelerometer rate, Hz (25-200; 0 = off)")
    rc.add_argument(
        "--reconnect-timeout", type=seconds_arg, default=60.0, help="give up after S seconds without a link (default 60)"
    )
    rc.set_defaults(func=cmd_record)
