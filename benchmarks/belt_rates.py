"""Detection and latency on the DEV belts resampled to a breathing belt's rates (10 and 20 Hz).

Usage::

    python benchmarks/belt_rates.py [--rates 10,20] [--chunk-s 1.0] [--json]

A Vernier Go Direct Respiration Belt samples its force at 10 Hz (its typical period) or 20 Hz (its
fastest). This takes the ``belt`` DEV set (``datasets.belt()``: NeuroKit2 5 min and event-related,
BioSPPy, ``SCGwithResp.resp``, ``fingerPPGwithRIIV.resp``; 100 or 1000 Hz), resamples each waveform
to the belt's rate with a polyphase anti-alias filter (``scipy.signal.resample_poly``: linear phase,
its delay compensated, so the resampling adds no latency), and runs the online detector on it as a
belt session does (the ``resp`` signal, its rate in the header, 1 s frames). The references are the
set's own (computed once on the original waveform), scored by ``scoring.py`` exactly as
``evaluate.py --set belt`` scores the original rate, which is printed first for comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
from scipy import signal as sps

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import datasets  # noqa: E402
from datasets import Case  # noqa: E402
from evaluate import ours, table  # noqa: E402
from scoring import pooled  # noqa: E402


def at_rate(case: Case, rate_hz: float) -> Case:
    """The case's waveform resampled to ``rate_hz`` (references unchanged)."""
    assert case.fs_hz is not None
    ratio = Fraction(rate_hz / case.fs_hz).limit_denominator(1000)
    x = sps.resample_poly(np.asarray(case.x, float), ratio.numerator, ratio.denominator)
    t = case.t_s[0] + np.arange(x.shape[0]) / rate_hz
    return dataclasses.replace(case, name=f"{case.name}@{rate_hz:g}", t_s=t, x=x, fs_hz=float(rate_hz))


def run(rates: list[float], chunk_s: float) -> dict[str, list[dict]]:
    cases = datasets.belt()
    out: dict[str, list[dict]] = {"original": [ours(c, chunk_s) for c in cases]}
    for rate in rates:
        out[f"{rate:g} Hz"] = [ours(at_rate(c, rate), chunk_s) for c in cases]
    for rows in out.values():
        rows.append(pooled(rows))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="10,20", help="comma-separated rates, Hz")
    ap.add_argument("--chunk-s", type=float, default=1.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    res = run([float(r) for r in args.rates.split(",") if r], args.chunk_s)
    keep = ("name", "n_ref", "se", "ppv", "f1", "lat_med_s", "lat_p90_s", "timing_err_med_s", "conf_ppv", "conf_se")
    for label, rows in res.items():
        print(f"# belt set, {label} (online, chunks of {args.chunk_s:g} s)")
        print(table([{k: v for k, v in r.items() if k in keep} for r in rows]))
        print()
    if args.json:
        print(json.dumps({k: [{kk: v for kk, v in r.items() if kk != "lat"} for r in rows] for k, rows in res.items()},
                         default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
