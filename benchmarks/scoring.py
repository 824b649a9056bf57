"""Scoring of exhale detections against reference exhale onsets, the same for every set.

Matching (issue 12): a detection matches a reference exhale onset when its ``t`` is within
``min(MATCH_MAX_S, MATCH_PERIOD_SHARE x the local breath period)``, one to one, closest pairs
first. The local period of a reference is the median of the reference intervals on either side
of it (the median of all when it has none). Only references and detections inside the case's
scoring windows count; an unmatched detection there is a false positive (unless it is near a
breath only one annotator marked: neither).
"""

from __future__ import annotations

import numpy as np

from datasets import Case

MATCH_MAX_S = 1.0
"""A match is never further than this..."""
MATCH_PERIOD_SHARE = 0.25
"""... nor than this share of the local breath period."""
RATE_WINDOW_S = 60.0
CONFIDENT_QUALITY = 0.5
"""Events with at least this quality are the ones a coach may cue on."""


def local_tolerance(ref: np.ndarray) -> np.ndarray:
    """Per-reference match tolerance: ``min(1 s, 25 % of the local period)``."""
    if ref.size < 2:
        return np.full(ref.shape, MATCH_MAX_S)
    d = np.diff(ref)
    prev = np.concatenate(([np.nan], d))
    nxt = np.concatenate((d, [np.nan]))
    per = np.nanmedian(np.stack([prev, nxt]), axis=0)
    per = np.where(np.isfinite(per), per, float(np.median(d)))
    return np.minimum(MATCH_MAX_S, MATCH_PERIOD_SHARE * per)


def match(ref: np.ndarray, det: np.ndarray, tol: np.ndarray | float) -> list[tuple[int, int]]:
    """One-to-one matching of detections to references, closest pairs first."""
    pairs: list[tuple[int, int]] = []
    if ref.size == 0 or det.size == 0:
        return pairs
    tol_a = np.broadcast_to(np.asarray(tol, float), ref.shape)
    cand = []
    for i, r in enumerate(ref):
        lo, hi = np.searchsorted(det, [r - tol_a[i], r + tol_a[i]])
        for j in range(lo, hi):
            cand.append((abs(det[j] - r), i, j))
    cand.sort()
    ur: set[int] = set()
    ud: set[int] = set()
    for _, i, j in cand:
        if i in ur or j in ud:
            continue
        ur.add(i)
        ud.add(j)
        pairs.append((i, j))
    return pairs


def windows(case: Case) -> list[tuple[float, float]]:
    """Where the case is scored."""
    if case.score_windows is not None:
        return case.score_windows
    t_end = float(case.ref_signal[0][-1]) if case.kind == "rr" and case.ref_signal else float(case.t_s[-1])
    return [(case.score_from_s, min(case.score_to_s, t_end - 2.0))]


def inside(x: np.ndarray, wins: list[tuple[float, float]]) -> np.ndarray:
    """Mask of ``x`` inside any of ``wins``."""
    m = np.zeros(x.shape, bool)
    for a, b in wins:
        m |= (x >= a) & (x <= b)
    return m


def detections(case: Case, ex_t: np.ndarray) -> dict:
    """Match detections to the scored references: pairs, tolerances, TP/FP/FN counts."""
    assert case.ref_exhale_s is not None
    wins = windows(case)
    tol_all = local_tolerance(case.ref_exhale_s)
    keep_r = inside(case.ref_exhale_s, wins)
    ref, tol = case.ref_exhale_s[keep_r], tol_all[keep_r]
    # detections a little outside a window may still match a reference inside it
    pad = [(a - MATCH_MAX_S, b + MATCH_MAX_S) for a, b in wins]
    idx = np.nonzero(inside(ex_t, pad))[0]
    det = ex_t[idx]
    pairs = match(ref, det, tol)
    matched = {j for _, j in pairs}
    fp_idx = []
    for j, d in enumerate(det):
        if j in matched or not inside(np.asarray([d]), wins)[0]:
            continue
        if case.ref_ignore_s.size and np.min(np.abs(case.ref_ignore_s - d)) <= MATCH_MAX_S * 0.5:
            continue
        fp_idx.append(int(idx[j]))
    return {"ref": ref, "pairs": [(i, int(idx[j])) for i, j in pairs], "fp_idx": fp_idx}


def prf(tp: int, fp: int, fn: int) -> dict:
    """Se, PPV and F1 from counts."""
    return {"tp": tp, "fp": fp, "fn": fn, "se": tp / max(1, tp + fn), "ppv": tp / max(1, tp + fp),
            "f1": 2 * tp / max(1, 2 * tp + fp + fn)}


def score(case: Case, ex_t: np.ndarray, ex_det: np.ndarray | None, ex_rate: np.ndarray | None = None) -> dict:
    """Se, PPV, F1, latency, timing error and rate error of exhale times against the reference."""
    res: dict = {"name": case.name}
    wins = windows(case)
    lo, hi = (wins[0][0], wins[-1][1]) if wins else (0.0, 0.0)
    if case.ref_exhale_s is not None and wins:
        m = detections(case, ex_t)
        ref, pairs = m["ref"], m["pairs"]
        tp = len(pairs)
        res.update(n_ref=int(ref.size), **prf(tp, len(m["fp_idx"]), int(ref.size) - tp))
        res["lat"] = []
        if pairs:
            terr = np.asarray([ex_t[j] - ref[i] for i, j in pairs])
            res["timing_err_med_s"] = float(np.median(terr))
            if ex_det is not None:
                lat = [float(ex_det[j] - ref[i]) for i, j in pairs]
                res["lat"] = lat
                res["lat_med_s"] = float(np.median(lat))
                res["lat_p90_s"] = float(np.percentile(lat, 90))
        if case.score_windows is None:
            res.update(rate_errors(case, ex_t, ex_rate, lo, hi))
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


def rate_errors(case: Case, ex_t: np.ndarray, ex_rate: np.ndarray | None, lo: float, hi: float) -> dict:
    """Mean and max rate error over 60 s windows: 60 / the median interval between onsets (or,
    for RR input, the detector's own reported rate, median over the window's events)."""
    assert case.ref_exhale_s is not None
    errs = []
    w = max(lo, float(case.ref_exhale_s[0])) if case.ref_exhale_s.size else lo
    while w + RATE_WINDOW_S <= hi + 1e-9:
        rt = case.ref_exhale_s[(case.ref_exhale_s >= w) & (case.ref_exhale_s < w + RATE_WINDOW_S)]
        r = 60.0 / float(np.median(np.diff(rt))) if rt.size >= 3 else np.nan
        sel_w = (ex_t >= w) & (ex_t < w + RATE_WINDOW_S)
        tt = ex_t[sel_w]
        if ex_rate is not None and np.isfinite(ex_rate[sel_w]).any():
            d = float(np.nanmedian(ex_rate[sel_w]))
        else:
            d = 60.0 / float(np.median(np.diff(tt))) if tt.size >= 3 else np.nan
        if np.isfinite(r):
            errs.append(abs(d - r) if np.isfinite(d) else np.inf)
        w += RATE_WINDOW_S
    return {"rate_err_mean_bpm": float(np.mean(errs)) if errs else np.nan,
            "rate_err_max_bpm": float(np.max(errs)) if errs else np.nan}


def confident(case: Case, ex_t: np.ndarray, ex_q: np.ndarray) -> dict:
    """Events with quality >= 0.5: their PPV in the scored windows, their share of the scored
    references found, and how many per minute come during motion."""
    out: dict = {}
    if case.ref_exhale_s is None:
        return out
    sel = ex_q >= CONFIDENT_QUALITY
    m = detections(case, ex_t[sel])
    tp, fp = len(m["pairs"]), len(m["fp_idx"])
    out["conf_n"] = tp + fp
    out["conf_ppv"] = tp / (tp + fp) if tp + fp else np.nan
    out["conf_se"] = tp / max(1, int(m["ref"].size))
    out["conf_tp"], out["conf_fp"] = tp, fp
    if case.motion_windows:
        mins = sum(b - a for a, b in case.motion_windows) / 60.0
        out["mot_all_pm"] = int(inside(ex_t, case.motion_windows).sum()) / max(mins, 1e-9)
        out["mot_conf_pm"] = int(inside(ex_t[sel], case.motion_windows).sum()) / max(mins, 1e-9)
        out["mot_min"] = mins
        out["mot_conf_n"] = int(inside(ex_t[sel], case.motion_windows).sum())
    return out


def resume_breaths(case: Case, ex_t: np.ndarray, ex_q: np.ndarray, min_quality: float = CONFIDENT_QUALITY) -> float:
    """Median over resting stretches of the reference breaths from the stretch start until the
    first event of at least ``min_quality`` that matches one (NaN without stretches; a stretch
    without any counts as its breaths + 1)."""
    if case.ref_exhale_s is None or not case.rest_stretches:
        return np.nan
    tol = local_tolerance(case.ref_exhale_s)
    conf = np.sort(ex_t[ex_q >= min_quality])
    counts = []
    for a, b in case.rest_stretches:
        k = np.nonzero((case.ref_exhale_s >= a) & (case.ref_exhale_s <= b))[0]
        n = np.nan
        for c, i in enumerate(k):
            if conf.size and np.min(np.abs(conf - case.ref_exhale_s[i])) <= tol[i]:
                n = float(c + 1)
                break
        counts.append(n if np.isfinite(n) else float(len(k) + 1))
    return float(np.median(counts))


def score_predictions(case: Case, notices: list) -> dict:
    """``exhale_expected`` notices: share whose ``at`` matches a reference exhale, the median
    |error| of those, and the median lead (reference time minus ``detected_at``)."""
    if case.ref_exhale_s is None or not notices:
        return {}
    at = np.asarray([n.detail["at"] for n in notices])
    da = np.asarray([n.detected_at_s for n in notices])
    wins = windows(case)
    keep_r = inside(case.ref_exhale_s, wins)
    ref, tol = case.ref_exhale_s[keep_r], local_tolerance(case.ref_exhale_s)[keep_r]
    keep = inside(at, wins)
    at, da = at[keep], da[keep]
    if at.size == 0 or ref.size == 0:
        return {}
    order = np.argsort(at)
    at, da = at[order], da[order]
    pairs = match(ref, at, tol)
    out = {"pred_n": int(at.size), "pred_hit": len(pairs) / at.size}
    if pairs:
        out["pred_err_s"] = float(np.median([abs(at[j] - ref[i]) for i, j in pairs]))
        out["pred_lead_s"] = float(np.median([ref[i] - da[j] for i, j in pairs]))
    return out


RELIABILITY_BINS = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0001)
"""Quality bins of the reliability table (the 0.5 edge is the coach's bar)."""


def reliability(case: Case, ex_t: np.ndarray, ex_q: np.ndarray) -> list[tuple[float, bool]]:
    """Each scored exhale event's quality and whether it is right (matches a reference exhale);
    events near a breath only one annotator marked are left out."""
    if case.ref_exhale_s is None:
        return []
    m = detections(case, ex_t)
    right = {j for _, j in m["pairs"]}
    wrong = set(m["fp_idx"])
    return [(float(ex_q[j]), j in right) for j in sorted(right | wrong)]


def reliability_table(pairs: list[tuple[float, bool]]) -> list[dict]:
    """Quality bins against the share of their events that is right, plus the share of events
    at or above 0.5 and how often those are right."""
    q = np.asarray([p[0] for p in pairs], float)
    ok = np.asarray([p[1] for p in pairs], bool)
    rows = []
    for lo, hi in zip(RELIABILITY_BINS[:-1], RELIABILITY_BINS[1:]):
        sel = (q >= lo) & (q < hi)
        rows.append({"bin": f"{lo:.1f}-{min(hi, 1.0):.1f}", "n": int(sel.sum()),
                     "right": float(ok[sel].mean()) if sel.any() else np.nan})
    conf = q >= CONFIDENT_QUALITY
    rows.append({"bin": ">=0.5", "n": int(conf.sum()), "right": float(ok[conf].mean()) if conf.any() else np.nan,
                 "share": float(conf.mean()) if q.size else np.nan})
    return rows


def inverted(case: Case, ex_t: np.ndarray) -> bool | None:
    """Whether the detected exhales sit on the reference inhales rather than on the exhales
    (None when the case has no inhale reference)."""
    if case.ref_inhale_s is None or case.ref_exhale_s is None:
        return None
    right = len(detections(case, ex_t)["pairs"])
    flipped = Case(case.name, case.kind, case.t_s, case.x, case.fs_hz, case.ref_inhale_s,
                   score_from_s=case.score_from_s, score_to_s=case.score_to_s, score_windows=case.score_windows)
    wrong = len(detections(flipped, ex_t)["pairs"])
    return wrong > right


def pooled(rows: list[dict], label: str = "POOLED") -> dict:
    """Pooled Se/PPV/F1 and latency over a set's rows."""
    rows = [r for r in rows if not str(r.get("name", "")).startswith("POOLED")]
    tp = sum(r.get("tp", 0) for r in rows)
    fp = sum(r.get("fp", 0) for r in rows)
    fn = sum(r.get("fn", 0) for r in rows)
    d = {"name": label, "n_ref": tp + fn, **prf(tp, fp, fn)}
    inv = [r["inverted"] for r in rows if "inverted" in r]
    if inv:
        d["inverted"] = f"{sum(x == 'INV' for x in inv)}/{len(inv)}"
    lat = [x for r in rows for x in r.get("lat", [])]
    if lat:
        d["lat_med_s"] = float(np.median(lat))
        d["lat_p90_s"] = float(np.percentile(lat, 90))
    ctp = sum(r.get("conf_tp", 0) for r in rows)
    cfp = sum(r.get("conf_fp", 0) for r in rows)
    if any("conf_tp" in r for r in rows):
        d["conf_ppv"] = ctp / (ctp + cfp) if ctp + cfp else np.nan
        d["conf_se"] = ctp / max(1, tp + fn)
    mins = sum(r.get("mot_min", 0.0) for r in rows)
    if mins > 0:
        d["mot_conf_pm"] = sum(r.get("mot_conf_n", 0) for r in rows) / mins
    fl = [r for r in rows if "flips_10min" in r]
    if fl:
        d["flips_10min"] = sum(r["flips"] for r in fl) / (sum(r["dur_s"] for r in fl) / 600.0)
    return d
