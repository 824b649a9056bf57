"""Memory over a long session on the emulated strap, on data time (issue 20, point 6).

Runs the emulated H10 (heart rate, RR and 200 Hz accelerometer through the real BLE client code)
at max speed for ``--hours`` of data through the one session loop, with the printer (to
/dev/null) and the detector, and samples the process's resident set size (``VmRSS``) and the
emulator's bookkeeping every ``--every-min`` minutes of data. The memory is flat when the peak
after the first hour stays within 10 % of the RSS at the first hour.

Run: ``python benchmarks/long_run_memory.py [--hours 10] [--every-min 60]``.

Latest run (2 shared cores, other work beside; ``--hours 10 --every-min 30``, 24 min)::

    0.5 h 127.3 MB   1 h 129.8 MB   2 h 131.7 MB   4 h 133.7 MB   6 h 135.4 MB   8 h 136.7 MB
    10 h 138.0 MB: peak +6.3 % on the first hour (+8.4 % on the first half hour): flat within 10 %

Before (the emulator kept every sent frame and every 5-minute chunk of its breather)::

    1 h 144.9 MB   2 h 162.8 MB   3 h 180.7 MB   (+18 MB per hour of data)

What still grows slowly is bounded: the loop keeps up to 50,000 breath phases and beats for the
figures of holds and sides (about 14 h of beats).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from psoas_sense.session.loop import run_session  # noqa: E402
from psoas_sense.session.sinks import JsonPrinter, Sink  # noqa: E402
from psoas_sense.sources.devices import open_device_source  # noqa: E402


def rss_mb() -> float:
    """The process's resident set size now, MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Sampler(Sink):
    """RSS (and the strap's bookkeeping) every ``every_s`` seconds of data."""

    def __init__(self, every_s: float, strap: object) -> None:
        self.every_s = every_s
        self.next_s = every_s
        self.strap = strap
        self.rows: list[tuple[float, float, int, float]] = []
        self.t0 = time.monotonic()

    def advance(self, t_s: float) -> None:
        if t_s >= self.next_s:
            self.next_s += self.every_s
            sent = len(getattr(self.strap, "sent", ()))
            self.rows.append((t_s / 3600, rss_mb(), sent, time.monotonic() - self.t0))
            h, mb, n, wall = self.rows[-1]
            print(f"  {h:5.2f} h of data   RSS {mb:7.1f} MB   strap.sent {n:6d}   wall {wall:6.0f} s",
                  file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=10.0)
    ap.add_argument("--every-min", type=float, default=60.0)
    args = ap.parse_args()
    src = open_device_source("emulated:h10", speed=None)
    sampler = Sampler(args.every_min * 60, getattr(src, "strap", None))
    with open(os.devnull, "w") as null:
        asyncio.run(run_session(src, sinks=[JsonPrinter(null), sampler], duration_s=args.hours * 3600))
    rows = sampler.rows
    if not rows:
        print("no sample taken", file=sys.stderr)
        return 1
    first = rows[0][1]
    peak = max(r[1] for r in rows)
    print(f"RSS at {rows[0][0]:.1f} h: {first:.1f} MB; peak over {rows[-1][0]:.1f} h: {peak:.1f} MB "
          f"({100 * (peak - first) / first:+.1f} %); flat within 10 %: {peak <= first * 1.10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
