"""Memory and time of large inputs through ``psoas-sense detect`` and ``replay`` (issue 10, point 4).

Prints, for each input, the wall time and the largest resident set size of the ``detect`` (and
``replay --speed max --headless``) process (``ru_maxrss`` of a child that runs nothing else):

- 1 h of 200 Hz accelerometer as a format-v1 recording (``.jsonl.gz``, 1 s frames);
- a 10^7-row generic CSV (``t,resp`` at 100 Hz, about 28 h);
- a 10^6-row RR CSV (``t,rr_ms``; ``detect`` only).

Run: ``python benchmarks/bounded_inputs.py [--rows 10000000] [--keep DIR] [--no-replay]``. The inputs are
synthetic (seeded) and written to a temporary folder, removed at the end unless ``--keep``.

Figures (2 shared cores, other work running beside; the same inputs and the same dsp code, run
one after the other; the same events before and after):

=================================  ====================  ====================
input                              before (whole read)   after (streamed)
=================================  ====================  ====================
1 h of 200 Hz ACC (.jsonl.gz)      3.0 s, 158 MB         2.4 s, 138 MB
10^7 rows CSV ``t,resp``           23.1 s, 513 MB        19.8 s, 210 MB
10^6 rows CSV ``t,rr_ms``          104.1 s, 646 MB       66.2 s, 539 MB
=================================  ====================  ====================

Latest run (the final commit of this round, ``python benchmarks/bounded_inputs.py``, 2 min 6 s in
all; detector 5x faster and the session no longer keeping its events since the table above)::

    1 h of 200 Hz ACC (.jsonl.gz)      detect     2.4 s   max RSS     137 MB   1438 events
    1 h of 200 Hz ACC (.jsonl.gz)      replay     4.5 s   max RSS     136 MB   2154 events
    10,000,000 rows CSV t,resp         detect    15.9 s   max RSS     196 MB   39998 events
    10,000,000 rows CSV t,resp         replay    59.7 s   max RSS     203 MB   59994 events
    1,000,000 rows CSV t,rr_ms         detect    29.9 s   max RSS     191 MB   359282 events

Before: the table reader listed every raw block of the file before parsing one
(``[*pending, *blocks]``), ``load_input`` returned every frame and ``detect`` merged them into a
second copy. After: ``open_input`` streams (a table's first 2^20 rows are read ahead for the
header's nominal rate) and ``detect`` merges one minute at a time; the reader's memory is flat
(tests/test_streaming_inputs.py). The RR extractor alone went from 4.1 s to 0.74 s per 10^5
beats fed a minute at a time (ectopic check and period tracker vectorised, the resonator run
without a SciPy design and filter call per 2 s; bit-identical output, and its memory is flat).
Most of the rest of the RR time is the detector's per-breath work (``dsp/detector.py``
``_confirm`` and ``dsp/breath_stats.py``: NumPy medians and means of small arrays), and what still
grows with the length of the RR run is outside the reader: the session keeps every event it
emitted (``SessionResult.events``: 161,672 events and about 48 MB after 3x10^5 beats), and
about 44 MB more by then that is neither the reader's nor the RR extractor's (both stay flat;
not traced further).

``replay FILE --speed max --headless`` (same machine and inputs, the same dsp code before and
after; byte-identical output):

=================================  ====================  ====================
input                              before (whole read)   after (streamed)
=================================  ====================  ====================
1 h of 200 Hz ACC (.jsonl.gz)      6.2 s, 150 MB         4.7 s, 136 MB
10^7 rows CSV ``t,resp``           86.2 s, 373 MB        57.6 s, 206 MB
=================================  ====================  ====================

Before: ``ReplaySource`` held every frame (``load_input``, 10^5 frames of 1 s for the CSV).
After: it plays ``open_input``'s stream as it is read, and a ``--loop`` reads the file again for
each pass; what is left is the table's read-ahead of 2^20 rows (as ``detect``) and the
interpreter with NumPy and SciPy (about 130 MB). Replay stays about 3x slower than ``detect`` on
the CSV: it feeds 1 s frames (as a live stream; ``detect`` merges a minute), each through the
session loop's per-item work and a yield to the event loop.

``report FILE --json`` (measured by hand with ``/usr/bin/time -v`` on the 1 h ACC recording this
script writes with ``--keep``; same machine, the same dsp code before and after; byte-identical
report):

=================================  ====================  ====================
input                              before (whole read)   after (streamed)
=================================  ====================  ====================
1 h of 200 Hz ACC (.jsonl.gz)      5.0-5.5 s, 151 MB     5.4-5.9 s, 134 MB
=================================  ====================  ====================

Before: ``report/data.py`` read every item into a list, made a second list of pairs, and kept
every decoded frame to extract the plot's breathing signal at the end. After: the items are
streamed into the session loop and the breathing signal is extracted frame by frame as it runs,
keeping only the 25 Hz signal (about 1.4 MB an hour), never the raw frames.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

BREATH_HZ = 0.2
"""Synthetic breathing rate (12 breaths a minute)."""
CHUNK_ROWS = 1_000_000
"""Rows formatted at a time when writing a CSV."""


def write_acc_recording(path: Path, hours: float = 1.0, rate_hz: float = 200.0) -> None:
    """A format-v1 recording of ``hours`` of 3-axis accelerometer at ``rate_hz`` in 1 s frames."""
    from psoas_sense.model import AccFrame
    from psoas_sense.recording.format import Header, RecordingWriter

    rng = np.random.default_rng(10)
    header = Header(streams={"acc": {"unit": "mG", "rate_hz": rate_hz}}, device={"source": "import"})
    n_per = int(rate_hz)
    with RecordingWriter(path, header) as w:
        for k in range(int(hours * 3600)):
            t = (k * n_per + np.arange(n_per)) / rate_hz
            z = 1000 + 8 * np.sin(2 * np.pi * BREATH_HZ * t) + rng.normal(0, 1, n_per)
            acc = np.stack([rng.normal(0, 1, n_per), rng.normal(0, 1, n_per), z], axis=1).round()
            w.write(AccFrame(t_s=t, acc_mg=acc), t_s=float(t[-1]))


def write_resp_csv(path: Path, rows: int, rate_hz: float = 100.0) -> None:
    """A generic ``t,resp`` CSV of ``rows`` rows."""
    rng = np.random.default_rng(11)
    with path.open("w") as f:
        f.write("t,resp\n")
        for start in range(0, rows, CHUNK_ROWS):
            i = np.arange(start, min(rows, start + CHUNK_ROWS))
            t = i / rate_hz
            y = np.sin(2 * np.pi * BREATH_HZ * t) + rng.normal(0, 0.05, i.size)
            f.write("\n".join(f"{a:.2f},{b:.4f}" for a, b in zip(t.tolist(), y.tolist())) + "\n")


def write_rr_csv(path: Path, rows: int) -> None:
    """A generic ``t,rr_ms`` CSV of ``rows`` beats with respiratory sinus arrhythmia."""
    rng = np.random.default_rng(12)
    rr = np.empty(rows)
    t = np.empty(rows)
    now = 0.0
    for k in range(rows):
        rr[k] = 900 + 60 * np.sin(2 * np.pi * BREATH_HZ * now) + rng.normal(0, 5)
        now += rr[k] / 1000.0
        t[k] = now
    with path.open("w") as f:
        f.write("t,rr_ms\n")
        f.write("\n".join(f"{a:.3f},{b:.1f}" for a, b in zip(t.tolist(), rr.tolist())) + "\n")


REPLAY_ARGS = ["--speed", "max", "--headless"]
"""``replay`` as fast as possible, printing JSON lines."""


def measure(args: list[str], command: str = "detect") -> tuple[float, float, int]:
    """``(seconds, max RSS in MB, output lines)`` of ``psoas-sense COMMAND ARGS`` run in a
    wrapper process, so the RSS is that of the command's process alone."""
    code = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "dt = time.perf_counter() - t\n"
        "sys.stderr.write(p.stderr.decode()[-500:])\n"
        "print(dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, p.stdout.count(b'\\n'), p.returncode)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "psoas_sense", command, *args],
                         capture_output=True, text=True, check=True)
    dt, rss_kb, lines, rc = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"{command} {args} failed ({rc}): {out.stderr}")
    return float(dt), int(rss_kb) / 1024.0, int(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows of the big CSV")
    ap.add_argument("--rr-rows", type=int, default=1_000_000, help="beats of the RR CSV")
    ap.add_argument("--keep", type=Path, default=None, help="write the inputs here and keep them")
    ap.add_argument("--no-replay", action="store_true", help="measure detect only (not replay as well)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        replayed = () if args.no_replay else ("replay",)
        cases = [
            ("1 h of 200 Hz ACC (.jsonl.gz)", folder / "acc-1h.jsonl.gz", lambda p: write_acc_recording(p), [],
             ("detect", *replayed)),
            (f"{args.rows:,} rows CSV t,resp", folder / "big.csv", lambda p: write_resp_csv(p, args.rows), [],
             ("detect", *replayed)),
            (f"{args.rr_rows:,} rows CSV t,rr_ms", folder / "rr.csv", lambda p: write_rr_csv(p, args.rr_rows),
             ["--signal", "rr"], ("detect",)),
        ]
        for name, path, make, extra, commands in cases:
            if not path.exists():
                t0 = time.perf_counter()
                make(path)
                print(f"# wrote {path.name}: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - t0:.0f} s",
                      flush=True)
            for command in commands:
                more = REPLAY_ARGS if command == "replay" else []
                dt, rss_mb, lines = measure([str(path), *extra, *more], command)
                print(f"{name:<34} {command:<6} {dt:7.1f} s   max RSS {rss_mb:7.0f} MB   {lines} events", flush=True)


if __name__ == "__main__":
    main()
