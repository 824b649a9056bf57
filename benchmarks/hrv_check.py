"""Validation of the heart figures: our RMSSD and mean heart rate against NeuroKit2's ``hrv_time``.

Run: ``python benchmarks/hrv_check.py`` (needs the ``bench`` extra: ``pip install neurokit2``).

For every bundled recording with RR intervals (``recordings/*.jsonl.gz``) and the DEV RR files in
``shared/data/rr_intervals`` (all of them are DEV: format examples), the beats go through the
artifact rule of :mod:`psoas_sense.insight` once; the same cleaned intervals are then given to
NeuroKit2 (``hrv_time`` with ``RRI`` and ``RRI_Time``: the kept intervals at their cumulative beat
times, so a dropped interval leaves a gap and NeuroKit2 skips the difference across it, as we do).
Mean heart rate from NeuroKit2 is ``60000 / HRV_MeanNN``. Target: within 2 ms and 0.5 bpm.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import warnings
from pathlib import Path

import numpy as np

from psoas_sense.insight import beat_runs, clean_rr, pooled_heart_figures
from psoas_sense.model import RRFrame
from psoas_sense.recording.format import read_recording

ROOT = Path(__file__).resolve().parents[1]
RR_DIR = ROOT.parent / "shared" / "data" / "rr_intervals"
TOL_RMSSD_MS = 2.0
TOL_HR_BPM = 0.5


def recording_beats(path: Path) -> list[tuple[float, float]]:
    """``(t_s, rr_ms)`` beats of a recording's RR frames."""
    _, items = read_recording(path)
    beats: list[tuple[float, float]] = []
    for it in items:
        if isinstance(it, RRFrame):
            beats += zip(it.t_s.tolist(), it.rr_ms.tolist(), strict=True)
    return beats


def ibi_csv_beats(path: Path) -> list[tuple[float, float]]:
    """``time [s], IBI [ms]`` rows without a header (dont-hold-your-breath)."""
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    return [(float(t), float(v)) for t, v in rows]


def polar_logger_beats(path: Path) -> list[tuple[float, float]]:
    """Polar Sensor Logger ``Phone timestamp;RR-interval [ms]`` (ISO local time)."""
    beats: list[tuple[float, float]] = []
    t0: dt.datetime | None = None
    for line in path.read_text().splitlines()[1:]:
        stamp, _, rr = line.partition(";")
        if not rr.strip():
            continue
        t = dt.datetime.fromisoformat(stamp.strip())
        t0 = t0 or t
        beats.append(((t - t0).total_seconds(), float(rr)))
    return beats


def neurokit_figures(beats: list[tuple[float, float]]) -> tuple[float, float]:
    """NeuroKit2's RMSSD (ms) and mean heart rate (bpm) on our cleaned intervals."""
    import neurokit2 as nk

    rri: list[float] = []
    times: list[float] = []
    clock = 0.0
    for run in beat_runs(beats):
        clock += 60.0  # a run never follows the previous one: leave a gap NeuroKit2 sees
        for rr, keep in zip(run, clean_rr(run), strict=True):
            clock += rr / 1000.0
            if keep:
                rri.append(rr)
                times.append(clock)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # SDANN of a short series: not compared here
        out = nk.hrv_time({"RRI": np.asarray(rri), "RRI_Time": np.asarray(times)})
    return float(out["HRV_RMSSD"].iloc[0]), 60000.0 / float(out["HRV_MeanNN"].iloc[0])


def hand_made() -> list[tuple[float, float]]:
    """A steady series with an ectopic beat, a missed beat and a 5-beat link drop (RMSSD 10 ms)."""
    rr = [800.0, 810.0] * 40
    rr[20:22] = [500.0, 1100.0]  # premature beat and its compensatory pause
    rr[50] = 1610.0  # a missed beat
    beats, t = [], 0.0
    for v in rr:
        t += v / 1000.0
        beats.append((t, v))
    return beats[:60] + beats[65:]


def sources() -> list[tuple[str, list[tuple[float, float]]]]:
    out = [("hand-made: ectopic, missed beat, link drop", hand_made())]
    for path in sorted((ROOT / "recordings").glob("*.jsonl.gz")):
        beats = recording_beats(path)
        if beats:
            out.append((f"recordings/{path.name}", beats))
    if RR_DIR.is_dir():
        for path in sorted(RR_DIR.glob("*.csv")):
            out.append((f"rr_intervals/{path.name} (DEV)", ibi_csv_beats(path)))
        for path in sorted(RR_DIR.glob("*.txt")):
            out.append((f"rr_intervals/{path.name} (DEV)", polar_logger_beats(path)))
    return out


def main() -> int:
    print(f"{'series':<58} {'beats':>6} {'kept':>6} {'RMSSD ours':>10} {'NK2':>8} {'diff':>6} "
          f"{'HR ours':>8} {'NK2':>7} {'diff':>6}  ok")
    bad = 0
    for name, beats in sources():
        fig = pooled_heart_figures(beat_runs(beats))
        rm, hr = fig.rmssd_ms.value, fig.hr_bpm.value
        nk_rm, nk_hr = neurokit_figures(beats)
        assert rm is not None and hr is not None
        ok = abs(rm - nk_rm) <= TOL_RMSSD_MS and abs(hr - nk_hr) <= TOL_HR_BPM and math.isfinite(nk_rm)
        bad += not ok
        print(f"{name:<58} {fig.beats:>6} {fig.kept:>6} {rm:>10.2f} {nk_rm:>8.2f} {rm - nk_rm:>+6.2f} "
              f"{hr:>8.2f} {nk_hr:>7.2f} {hr - nk_hr:>+6.2f}  {'yes' if ok else 'NO'}")
    print(f"target: RMSSD within {TOL_RMSSD_MS} ms, mean HR within {TOL_HR_BPM} bpm; "
          f"{'all agree' if not bad else f'{bad} disagree'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
