"""What the terminal UI costs while a session runs: CPU share of one core and redraws per second.

Runs the demo (the bundled recording, manual protocol, real pace) in Textual's headless driver
for a while and reports process CPU time over wall time, and the session screen's redraws.

    python benchmarks/ui_cost.py [--seconds 30] [--size 100x30]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from psoas_sense.session.setup import CoachConfig, RunConfig
from psoas_sense.ui.app import make_app
from psoas_sense.ui.audio import CuePlayer

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "recordings" / "neurokit2-resting-belt-rr.jsonl.gz"


async def measure(seconds: float, size: tuple[int, int]) -> tuple[float, float, int]:
    config = RunConfig("demo", file=DEMO, speed=1.0, loop=True,
                       coach=CoachConfig(protocol="manual", safety_confirmed=True, save_history=False))
    app = make_app(config, audio=CuePlayer(enabled=False, player=None, speaker=None))
    async with app.run_test(size=size) as pilot:
        await pilot.pause(2.0)  # settle: imports, first frames
        r0, c0, w0 = app.redraws, time.process_time(), time.monotonic()
        await asyncio.sleep(seconds)
        r1, c1, w1 = app.redraws, time.process_time(), time.monotonic()
    return (c1 - c0) / (w1 - w0), (r1 - r0) / (w1 - w0), r1 - r0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--size", default="100x30")
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.split("x"))
    cpu, rate, n = asyncio.run(measure(args.seconds, (w, h)))
    print(f"demo at real pace, {args.size}, {args.seconds:.0f} s: CPU {100 * cpu:.1f} % of one core, "
          f"{rate:.1f} redraws/s ({n} redraws)")


if __name__ == "__main__":
    main()
