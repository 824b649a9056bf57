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

MATCH_TOL_S = 0.5
"""A detection whose ``t`` is within this of a reference exhale onset matches it."""
RATE_WINDOW_S = 60.0


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
    pipe = Pipeline(signal=case.kind, streams=streams)
    fr = frames(case, chunk_s)
    t0 = time.perf_counter()
    out = []
    for f in fr:
        out.extend(pipe.feed(f))
    el = time.perf_counter() - t0
    ev = [e for e in out if isinstance(e, BreathEvent)]
    no = [e for e in out if isinstance(e, SignalNotice)]
    return ev, no, el, pipe


def match(ref: np.ndarray, det: np.ndarray, tol: float) -> list[tuple[int, int]]:
    """Greedy one-to-one matching of detections to references by closeness in time."""
    pairs = []
    if ref.size == 0 or det.size == 0:
        return pairs
    cand = []
    for i, r in enumerate(ref):
        lo, hi = np.searchsorted(det, [r - tol, r + tol])
        for j in range(lo, hi):
            cand.append((abs(det[j] - r), i, j))
    cand.sort()
    ur, ud = set(), set()
    for _, i, j in cand:
        if i in ur or j in ud:
            continue
        ur.add(i)
        ud.add(j)
        pairs.append((i, j))
    return pairs


def window_rates(times: np.ndarray, t0: float, t1: float) -> list[tuple[float, float]]:
    """Reference breathing rate per 60 s window: 60 / the median interval between its onsets there.

    The detector's rate in a window is computed the same way from its exhales (robust to one
    missed or extra breath), or for RR input it is the median of the rate the detector reports
    (its spectral tracker)."""
    out = []
    w = t0
    while w + RATE_WINDOW_S <= t1 + 1e-9:
        tt = times[(times >= w) & (times < w + RATE_WINDOW_S)]
        out.append((w, 60.0 / float(np.median(np.diff(tt))) if tt.size >= 3 else np.nan))
        w += RATE_WINDOW_S
    return out


def score(case: Case, ex_t: np.ndarray, ex_det: np.ndarray | None, ex_rate: np.ndarray | None = None) -> dict:
    """Se, PPV, F1, latency, timing error and rate error of exhale times against the reference."""
    t_end = float(case.t_s[-1]) if case.kind != "rr" else float(case.ref_signal[0][-1]) if case.ref_signal else float(case.t_s[-1])
    lo, hi = case.score_from_s, min(case.score_to_s, t_end - 2.0)
    res: dict = {"name": case.name}
    if case.ref_exhale_s is not None:
        ref = case.ref_exhale_s[(case.ref_exhale_s >= lo) & (case.ref_exhale_s <= hi)]
        sel = (ex_t >= lo - MATCH_TOL_S) & (ex_t <= hi + MATCH_TOL_S)
        det = ex_t[sel]
        dat = ex_det[sel] if ex_det is not None else None
        pairs = match(ref, det, MATCH_TOL_S)
        matched_d = {j for _, j in pairs}
        # unmatched detections near single-annotator marks or just outside the window: ignored
        fp = 0
        for j, d in enumerate(det):
            if j in matched_d:
                continue
            if case.ref_ignore_s.size and np.min(np.abs(case.ref_ignore_s - d)) <= MATCH_TOL_S:
                continue
            if d < lo or d > hi:
                continue
            fp += 1
        tp = len(pairs)
        fn = ref.size - tp
        res.update(n_ref=int(ref.size), tp=tp, fp=fp, fn=fn)
        res["se"] = tp / max(1, tp + fn)
        res["ppv"] = tp / max(1, tp + fp)
        res["f1"] = 2 * tp / max(1, 2 * tp + fp + fn)
        if pairs:
            terr = np.asarray([det[j] - ref[i] for i, j in pairs])
            res["timing_err_med_s"] = float(np.median(terr))
            res["timing_err_mae_s"] = float(np.mean(np.abs(terr)))
            if dat is not None:
                lat = np.asarray([dat[j] - ref[i] for i, j in pairs])
                res["lat_med_s"] = float(np.median(lat))
                res["lat_p90_s"] = float(np.percentile(lat, 90))
        rr = window_rates(case.ref_exhale_s, max(lo, float(case.ref_exhale_s[0]) if case.ref_exhale_s.size else lo), hi)
        errs = []
        for w0, r in rr:
            sel_w = (ex_t >= w0) & (ex_t < w0 + RATE_WINDOW_S)
            tt = ex_t[sel_w]
            if ex_rate is not None and np.isfinite(ex_rate[sel_w]).any():
                # the detector's own reported rate (median over the window's events)
                d = float(np.nanmedian(ex_rate[sel_w]))
            else:
                d = 60.0 / float(np.median(np.diff(tt))) if tt.size >= 3 else np.nan
            if np.isfinite(r):
                errs.append(abs(d - r) if np.isfinite(d) else np.inf)
        res["rate_err_mean_bpm"] = float(np.mean(errs)) if errs else np.nan
        res["rate_err_max_bpm"] = float(np.max(errs)) if errs else np.nan
    if case.ref_rate_bpm is not None:
        sel_r = (ex_t >= lo) & (ex_t <= hi)
        tt = ex_t[sel_r]
        if ex_rate is not None and np.isfinite(ex_rate[sel_r]).any():
            est = float(np.nanmedian(ex_rate[sel_r]))
        else:
            est = 60.0 / float(np.median(np.diff(tt))) if tt.size >= 3 else np.nan
        res["rate_ref_bpm"] = case.ref_rate_bpm
        res["rate_est_bpm"] = float(est)
        res["rate_err_bpm"] = float(abs(est - case.ref_rate_bpm)) if np.isfinite(est) else np.inf
    return res


def score_predictions(case: Case, notices: list) -> dict:
    """``exhale_expected`` notices: share whose ``at`` lands within 0.5 s of a reference exhale,
    the median |error| of those, and the median lead (reference time minus ``detected_at``)."""
    if case.ref_exhale_s is None or not notices:
        return {}
    ref = case.ref_exhale_s[case.ref_exhale_s >= case.score_from_s]
    at = np.asarray([n.detail["at"] for n in notices])
    da = np.asarray([n.detected_at_s for n in notices])
    keep = at >= case.score_from_s
    at, da = at[keep], da[keep]
    if at.size == 0 or ref.size == 0:
        return {}
    pairs = match(ref, at, MATCH_TOL_S)
    out = {"pred_n": int(at.size), "pred_hit": len(pairs) / at.size}
    if pairs:
        out["pred_err_s"] = float(np.median([abs(at[j] - ref[i]) for i, j in pairs]))
        out["pred_lead_s"] = float(np.median([ref[i] - da[j] for i, j in pairs]))
    return out


def peer_neurokit2(case: Case) -> dict:
    import neurokit2 as nk  # optional `bench` extra

    if case.kind != "resp":
        return {"name": case.name}
    x = np.asarray(case.x, float)
    fs = int(round(case.fs_hz or 100))
    _, info = nk.rsp_process(x, sampling_rate=fs)
    pk = np.asarray(info["RSP_Peaks"], int)
    return score(case, case.t_s[pk], None)


def peer_baseline(case: Case, lat: list[float]) -> dict:
    from baseline import baseline_exhales

    if case.kind != "resp":
        return {"name": case.name}
    x = np.asarray(case.x, float)
    ex_t, ex_d = baseline_exhales(case.t_s, x, float(case.fs_hz or 100.0))
    r = score(case, ex_t, ex_d)
    if case.ref_exhale_s is not None:
        ref = case.ref_exhale_s[(case.ref_exhale_s >= case.score_from_s)]
        for i, j in match(ref, ex_t, MATCH_TOL_S):
            lat.append(ex_d[j] - ref[i])
    return r


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
    ("xrt", "{:>7.0f}"),
]
HEAD = {
    "name": "file", "n_ref": "nref", "se": "Se", "ppv": "PPV", "f1": "F1", "lat_med_s": "latmed",
    "lat_p90_s": "latp90", "timing_err_med_s": "terr", "rate_err_mean_bpm": "rerr", "rate_err_max_bpm": "rerrmx",
    "polarity": "pol", "rate_ref_bpm": "paced", "rate_est_bpm": "est", "rate_err_bpm": "err", "xrt": "xRT",
    "pred_hit": "phit", "pred_err_s": "perr", "pred_lead_s": "plead",
}


def table(rows: list[dict]) -> str:
    cols = [(k, f) for k, f in COLS if any(k in r for r in rows)]
    out = [" ".join(f.replace(".3f", "").replace(".2f", "").replace(".0f", "").replace("{:", "{:").format(HEAD[k]) if k != "name" else f.format("file") for k, f in cols)]
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


def pooled(rows: list[dict], lat: list[float]) -> dict:
    tp = sum(r.get("tp", 0) for r in rows)
    fp = sum(r.get("fp", 0) for r in rows)
    fn = sum(r.get("fn", 0) for r in rows)
    d = {"name": "POOLED", "n_ref": tp + fn, "se": tp / max(1, tp + fn), "ppv": tp / max(1, tp + fp),
         "f1": 2 * tp / max(1, 2 * tp + fp + fn)}
    if lat:
        d["lat_med_s"] = float(np.median(lat))
        d["lat_p90_s"] = float(np.percentile(lat, 90))
    return d


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
    if name == "phone":
        return datasets.phone("pos1")
    if name == "phone-holdout":
        return datasets.phone("pos2")
    if name == "rr":
        return datasets.rr()
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", required=True)
    ap.add_argument("--peer", choices=["neurokit2", "baseline"])
    ap.add_argument("--chunk-s", type=float, default=1.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.set == "speed":
        r = speed()
        print(json.dumps(r, indent=1) if args.json else "\n".join(f"{k:>18}: {v:.3f}" if isinstance(v, float) else f"{k:>18}: {v}" for k, v in r.items()))
        return 0
    cases = cases_for(args.set)
    rows, peer_rows, lat, peer_lat = [], [], [], []
    for c in cases:
        ev, no, el, pipe = run(c, args.chunk_s)
        ex = [e for e in ev if e.kind == "exhale"]
        ex_t = np.asarray([e.t_s for e in ex])
        ex_d = np.asarray([e.detected_at_s for e in ex])
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
        if c.ref_exhale_s is not None and "lat_med_s" in r:
            ref = c.ref_exhale_s[(c.ref_exhale_s >= c.score_from_s)]
            for i, j in match(ref, ex_t, MATCH_TOL_S):
                lat.append(ex_d[j] - ref[i])
        rows.append(r)
        if args.peer == "neurokit2":
            peer_rows.append(peer_neurokit2(c))
        elif args.peer == "baseline":
            peer_rows.append(peer_baseline(c, peer_lat))
    if any("f1" in r for r in rows):
        rows.append(pooled(rows, lat))
    print(f"# set {args.set}: psoas-sense online (chunks of {args.chunk_s} s)")
    print(table(rows))
    if peer_rows:
        peer_rows.append(pooled(peer_rows, peer_lat))
        title = "NeuroKit2 rsp_process (offline, zero-phase)" if args.peer == "neurokit2" else (
            "plain causal band-pass + hysteresis (benchmarks/baseline.py)")
        print(f"\n# set {args.set}: {title}")
        print(table(peer_rows))
    if args.json:
        print(json.dumps({"online": rows, "peer": peer_rows}, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
