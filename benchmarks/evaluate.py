"""Detection benchmark: psoas-sense's online detector (and optionally NeuroKit2 offline).

Usage::

    python benchmarks/evaluate.py --set bidmc-dev|belt|acc|phone|rr|speed [--peer neurokit2]
                                  [--chunk-s 1.0] [--json]

See benchmarks/README.md for the metrics and the reference method.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "src"))

import datasets  # noqa: E402
from datasets import Case  # noqa: E402
from psoas_sense.dsp.pipeline import Pipeline  # noqa: E402
from psoas_sense.model import AccFrame, BreathEvent, RespFrame, RRFrame, SignalNotice  # noqa: E402
from scoring import (  # noqa: E402
    confident,
    inverted,
    pooled,
    reliability,
    reliability_table,
    resume_breaths,
    score,
    score_predictions,
)

DEV_SETS = ("still", "bidmc-dev", "belt", "hexoskin", "acc", "phone", "rr")
"""What ``--set dev`` runs (every DEV set; ``speed`` is separate)."""

def frames(case: Case, chunk_s: float) -> list:
    """The case as a time-ordered list of frames, ``chunk_s`` seconds each (streams merged)."""
    items: list[tuple[float, object]] = []

    def cut(t: np.ndarray, make) -> None:
        if t.size == 0:
            return
        edges = np.arange(t[0], t[-1] + chunk_s, chunk_s)
        ks = np.searchsorted(t, edges, side="left")
        ks = np.unique(np.concatenate((ks, [t.shape[0]])))
        a = 0
        for b in ks:
            if b > a:
                items.append((float(t[b - 1]), make(a, b)))
                a = int(b)

    if case.kind == "resp":
        cut(case.t_s, lambda a, b: RespFrame(case.t_s[a:b], case.x[a:b]))
    elif case.kind == "acc":
        cut(case.t_s, lambda a, b: AccFrame(case.t_s[a:b], case.x[a:b]))
        if case.rr is not None:
            bt, rr = case.rr
            cut(bt, lambda a, b: RRFrame(bt[a:b], rr[a:b]))
    else:
        cut(case.t_s, lambda a, b: RRFrame(case.t_s[a:b], case.x[a:b]))
    items.sort(key=lambda p: p[0])
    return [f for _, f in items]


def run(case: Case, chunk_s: float = 1.0) -> tuple[list[BreathEvent], list[SignalNotice], float, Pipeline]:
    streams = {case.kind: {"rate_hz": case.fs_hz}} if case.fs_hz else {}
    if case.rr is not None:
        streams["rr"] = {}
    # an accelerometer with RR runs as a strap's session does (auto: the RR lead while the
    # accelerometer's polarity is unsure)
    pipe = Pipeline(signal="auto" if case.kind == "acc" and case.rr is not None else case.kind, streams=streams)
    fr = frames(case, chunk_s)
    t0 = time.perf_counter()
    out = []
    for f in fr:
        out.extend(pipe.feed(f))
    el = time.perf_counter() - t0
    ev = [e for e in out if isinstance(e, BreathEvent)]
    no = [e for e in out if isinstance(e, SignalNotice)]
    return ev, no, el, pipe


def peer_neurokit2(case: Case) -> dict:
    """NeuroKit2 ``rsp_process`` offline on the same waveform (accelerometers: see peers.py)."""
    from peers import neurokit2_exhales

    ex_t = neurokit2_exhales(case)
    return {"name": case.name} if ex_t is None else score(case, ex_t, None)


def peer_baseline(case: Case) -> dict:
    """The plain causal detector (benchmarks/baseline.py) on the same input."""
    from baseline import baseline_acc_exhales, baseline_exhales

    if case.kind == "resp":
        ex_t, ex_d = baseline_exhales(case.t_s, np.asarray(case.x, float), float(case.fs_hz or 100.0))
    elif case.kind == "acc" and case.fs_hz:
        ex_t, ex_d = baseline_acc_exhales(case.t_s, np.asarray(case.x, float), float(case.fs_hz))
    else:
        return {"name": case.name}
    return score(case, ex_t, ex_d)


COLS = [
    ("name", "{:<28}"),
    ("n_ref", "{:>5}"),
    ("se", "{:>6.3f}"),
    ("ppv", "{:>6.3f}"),
    ("f1", "{:>6.3f}"),
    ("lat_med_s", "{:>7.2f}"),
    ("lat_p90_s", "{:>7.2f}"),
    ("timing_err_med_s", "{:>7.2f}"),
    ("rate_err_mean_bpm", "{:>7.2f}"),
    ("rate_err_max_bpm", "{:>7.2f}"),
    ("polarity", "{:>6}"),
    ("rate_ref_bpm", "{:>6.2f}"),
    ("rate_est_bpm", "{:>6.2f}"),
    ("rate_err_bpm", "{:>6.2f}"),
    ("pred_hit", "{:>6.2f}"),
    ("pred_err_s", "{:>6.2f}"),
    ("pred_lead_s", "{:>6.2f}"),
    ("conf_ppv", "{:>6.3f}"),
    ("conf_se", "{:>6.3f}"),
    ("mot_all_pm", "{:>6.1f}"),
    ("mot_conf_pm", "{:>6.2f}"),
    ("flips_10min", "{:>6.1f}"),
    ("inverted", "{:>4}"),
    ("resume", "{:>6.1f}"),
    ("cresume", "{:>6.1f}"),
    ("xrt", "{:>7.0f}"),
]
HEAD = {
    "name": "file", "n_ref": "nref", "se": "Se", "ppv": "PPV", "f1": "F1", "lat_med_s": "latmed",
    "lat_p90_s": "latp90", "timing_err_med_s": "terr", "rate_err_mean_bpm": "rerr", "rate_err_max_bpm": "rerrmx",
    "polarity": "pol", "rate_ref_bpm": "paced", "rate_est_bpm": "est", "rate_err_bpm": "err", "xrt": "xRT",
    "pred_hit": "phit", "pred_err_s": "perr", "pred_lead_s": "plead", "conf_ppv": "cPPV", "conf_se": "cSe",
    "mot_all_pm": "mov/m", "mot_conf_pm": "movc/m", "flips_10min": "fl/10m", "resume": "resume",
    "cresume": "cresum", "inverted": "inv",
}


def table(rows: list[dict]) -> str:
    """Fixed-width text table of the rows (columns that no row has are left out)."""
    cols = [(k, f) for k, f in COLS if any(k in r for r in rows)]
    heads = []
    for k, f in cols:
        plain = f.replace(".3f", "").replace(".2f", "").replace(".1f", "").replace(".0f", "")
        heads.append(plain.format(HEAD[k]) if k != "name" else f.format("file"))
    out = [" ".join(heads)]
    for r in rows:
        cells = []
        for k, f in cols:
            v = r.get(k)
            if v is None or (isinstance(v, float) and not np.isfinite(v)):
                w = int("".join(ch for ch in f.split(".")[0] if ch.isdigit()) or 6)
                cells.append(("-").rjust(w))
            else:
                cells.append(f.format(v))
        out.append(" ".join(cells))
    return "\n".join(out)


def cases_for(name: str) -> list[Case]:
    if name == "bidmc-dev":
        return datasets.bidmc(datasets.BIDMC_DEV)
    if name == "bidmc-holdout":
        return datasets.bidmc(datasets.BIDMC_HOLDOUT)
    if name == "belt":
        return datasets.belt()
    if name == "belt-holdout":
        return datasets.belt_holdout()
    if name == "acc":
        return datasets.acc_chest()
    if name == "hexoskin":
        from hexoskin import hexoskin

        return hexoskin()
    if name == "still":
        from still_chest import still_chest

        return still_chest()
    if name == "phone":
        return datasets.phone("pos1")
    if name == "phone-holdout":
        return datasets.phone("pos2")
    if name == "rr":
        from still_chest import still_chest_rr

        return datasets.rr() + still_chest_rr()
    if name == "rr-holdout":
        return datasets.rr_holdout()
    raise SystemExit(f"unknown set {name}")


def speed(hours: float = 1.0, fs: float = 200.0) -> dict:
    """``detect`` throughput on synthetic 3-axis accelerometer, and peak traced memory."""
    from psoas_sense.simulate import synthesize

    minutes = 10.0
    syn = synthesize(minutes * 60.0, seed=7, fs_hz=fs)
    n10 = syn.t_s.shape[0]
    reps = int(round(hours * 60 / minutes))
    chunk = int(fs)  # 1 s frames, like a BLE stream batched per second

    def feed(pipe: Pipeline, reps: int) -> int:
        ne = 0
        for r in range(reps):
            off = r * minutes * 60.0
            for a in range(0, n10, chunk):
                ne += len(pipe.feed(AccFrame(syn.t_s[a : a + chunk] + off, syn.acc_mg[a : a + chunk])))
        return ne

    pipe = Pipeline(signal="acc", streams={"acc": {"rate_hz": fs}})
    t0 = time.perf_counter()
    ne = feed(pipe, reps)
    el = time.perf_counter() - t0
    mem = {}
    for r in (1, reps):
        pipe = Pipeline(signal="acc", streams={"acc": {"rate_hz": fs}})
        tracemalloc.start()
        feed(pipe, r)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        mem[r] = peak
    return {
        "duration_h": hours,
        "fs_hz": fs,
        "events": ne,
        "seconds": el,
        "x_real_time": hours * 3600 / el,
        "peak_mem_10min_MB": mem[1] / 1e6,
        "peak_mem_1h_MB": mem[reps] / 1e6,
    }


def ours(c: Case, chunk_s: float) -> dict:
    """Our detector on one case, scored."""
    ev, no, el, pipe = run(c, chunk_s)
    ex = [e for e in ev if e.kind == "exhale"]
    ex_t = np.asarray([e.t_s for e in ex])
    ex_d = np.asarray([e.detected_at_s for e in ex])
    ex_q = np.asarray([e.quality for e in ex], dtype=float)
    ex_r = np.asarray([np.nan if e.rate_bpm is None else e.rate_bpm for e in ex], dtype=float)
    r = score(c, ex_t, ex_d, ex_r if c.kind == "rr" else None)
    r.update(score_predictions(c, [n for n in no if n.kind == "exhale_expected"]))
    dur = float(c.t_s[-1] - c.t_s[0])
    r["xrt"] = dur / max(el, 1e-9)
    if c.kind == "acc":
        ch = pipe._chains.get("acc")
        if ch is not None and ch.polarity is not None:
            # final confidence and the evidence that dominates (r = RR, a = asymmetry, c = calibration)
            r["polarity"] = f"{ch.polarity.confidence:.2f}{ch.polarity.source[0]}"
    r.update(confident(c, ex_t, ex_q))
    r["reliability"] = reliability(c, ex_t, ex_q)
    inv = inverted(c, ex_t)
    if inv is not None:
        r["inverted"] = "INV" if inv else "ok"
    if c.score_windows is not None:
        flips = sum(1 for n in no if n.kind == "polarity" and n.detail.get("flipped"))
        r.update(flips=flips, dur_s=dur, flips_10min=flips / (dur / 600.0),
                 resume=resume_breaths(c, ex_t, ex_q, 0.0), cresume=resume_breaths(c, ex_t, ex_q))
    return r


def evaluate(name: str, chunk_s: float, peers: list[str]) -> dict:
    """One set: our rows and each peer's rows, pooled."""
    cases = cases_for(name)
    out: dict = {"ours": [], **{p: [] for p in peers}}
    for c in cases:
        out["ours"].append(ours(c, chunk_s))
        if "baseline" in peers:
            out["baseline"].append(peer_baseline(c))
        if "neurokit2" in peers:
            out["neurokit2"].append(peer_neurokit2(c))
    for rows in out.values():
        if any("f1" in r for r in rows):
            groups = group_rows(name, rows)
            for label, sub in groups.items():
                rows.append(pooled(sub, label))
    return out


def group_rows(set_name: str, rows: list[dict]) -> dict[str, list[dict]]:
    """The pooled rows of a set: all of it, and for the still chests per posture and with/without RR."""
    groups = {"POOLED": list(rows)}
    if set_name == "still":
        from still_chest import posture_of

        for label in ("supine", "sitting", "upright"):
            sub = [r for r in rows if posture_of(r["name"]) == label]
            if sub:
                groups[f"POOLED {label}"] = sub
        groups["POOLED acc only"] = [r for r in rows if not r["name"].endswith("+rr")]
        groups["POOLED acc+rr"] = [r for r in rows if r["name"].endswith("+rr")]
    return groups


TITLES = {
    "ours": "psoas-sense online (chunks of {chunk} s)",
    "baseline": "plain causal band-pass + hysteresis (benchmarks/baseline.py)",
    "neurokit2": "NeuroKit2 rsp_process (offline, zero-phase; accelerometers: per-window hindsight axis)",
}


def reliability_text(rows: list[dict]) -> str:
    """The reliability table of a set's rows, one line per bin."""
    pairs = [p for r in rows for p in r.get("reliability", [])]
    lines = []
    for b in reliability_table(pairs):
        right = "-" if not np.isfinite(b["right"]) else f"{b['right']:.3f}"
        extra = f"  (share of events: {b['share']:.3f})" if "share" in b and np.isfinite(b["share"]) else ""
        lines.append(f"  q {b['bin']:>8}: {b['n']:5d} events, right {right}{extra}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", required=True, help="a set, a comma-separated list, or 'dev' (every DEV set)")
    ap.add_argument("--peers", "--peer", default="baseline,neurokit2", help="comma-separated peers, or 'none'")
    ap.add_argument("--chunk-s", type=float, default=1.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.set == "speed":
        r = speed()
        lines = [f"{k:>18}: {v:.3f}" if isinstance(v, float) else f"{k:>18}: {v}" for k, v in r.items()]
        print(json.dumps(r, indent=1) if args.json else "\n".join(lines))
        return 0
    peers = [] if args.peers == "none" else [p for p in args.peers.split(",") if p]
    sets = DEV_SETS if args.set == "dev" else tuple(args.set.split(","))
    everything = {}
    for name in sets:
        res = evaluate(name, args.chunk_s, peers)
        everything[name] = res
        for who, rows in res.items():
            if who != "ours" and not any("f1" in r for r in rows):
                continue  # the peer does not apply to this kind of input
            print(f"# set {name}: {TITLES[who].format(chunk=args.chunk_s)}")
            print(table([{k: v for k, v in r.items() if k not in ("lat", "reliability")} for r in rows]))
            print()
        print(f"# set {name}: reliability of our exhale events (quality bin: events, share right)")
        print(reliability_text(res["ours"]))
        print()
    if args.json:
        print(json.dumps(everything, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
