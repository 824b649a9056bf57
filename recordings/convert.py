"""Rebuild the bundled recordings from the third-party DEV data they come from.

Usage (from the project root, with ../shared/data beside it)::

    python recordings/convert.py [--data ../shared/data]

Each output is a format-v1 recording (gzip) whose header names its origin and licence. The
conversions are documented in recordings/README.md. Only MIT/BSD-licensed DEV files are used.
This script is provenance, not part of the package; it may use offline (zero-phase) methods.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import signal as sps

from psoas_sense.model import AccFrame, RespFrame, RRFrame
from psoas_sense.recording.format import Header, RecordingWriter

HERE = Path(__file__).resolve().parent
RECORDED_AT = "2026-11-24T00:00:00Z"  # conversion date; the original dates are unknown


def frames(t: np.ndarray, frame_s: float = 1.0) -> list[slice]:
    key = np.floor((t - t[0]) / frame_s).astype(int)
    cuts = np.nonzero(np.diff(key))[0] + 1
    b = [0, *cuts.tolist(), t.size]
    return [slice(b[i], b[i + 1]) for i in range(len(b) - 1)]


def write(name: str, header: Header, items: list[tuple[float, object]]) -> None:
    out = HERE / name
    if out.exists():
        out.unlink()
    items.sort(key=lambda x: x[0])
    with RecordingWriter(out, header) as w:
        for t, item in items:
            w.write(item, t_s=t)  # type: ignore[arg-type]
    print(f"{out.name}: {out.stat().st_size} bytes, {len(items)} items")


def r_peaks(ecg: np.ndarray, fs: float) -> np.ndarray:
    """Offline R-peak times (s): 5-20 Hz band-pass, energy peaks >= 0.45 s apart."""
    sos = sps.butter(3, [5, 20], btype="bandpass", fs=fs, output="sos")
    e = sps.sosfiltfilt(sos, ecg) ** 2
    pk, _ = sps.find_peaks(e, distance=int(0.45 * fs), height=0.2 * np.percentile(e, 99))
    half = int(0.05 * fs)
    refined = [p - half + int(np.argmax(ecg[max(p - half, 0) : p + half + 1])) for p in pk]
    return np.asarray(refined) / fs


def neurokit(data: Path) -> None:
    src = data / "neurokit2" / "bio_resting_5min_100hz.csv"
    d = np.genfromtxt(src, delimiter=",", skip_header=1)
    fs = 100.0
    t = np.round(np.arange(d.shape[0]) / fs, 6)
    resp = np.round(d[:, 2], 6)
    beats = r_peaks(d[:, 0], fs)
    rr_ms = np.round(np.diff(beats) * 1000.0, 1)
    beat_t = np.round(beats[1:], 3)
    items: list[tuple[float, object]] = []
    for sl in frames(t):
        items.append((float(t[sl][-1]), RespFrame(t_s=t[sl], resp=resp[sl])))
    # RR arrive like a strap sends them: about once a second, the beats since the last one
    for sl in frames(beat_t):
        items.append((float(beat_t[sl][-1]), RRFrame(t_s=beat_t[sl], rr_ms=rr_ms[sl])))
    header = Header(
        streams={"resp": {"unit": "au", "rate_hz": fs}, "rr": {"unit": "ms", "rate_hz": None}},
        device={"name": "NeuroKit2 example (belt + ECG)", "model": "unknown acquisition system", "source": "import"},
        recorded_at=RECORDED_AT,
        extra={
            "provenance": {
                "origin": "NeuroKit2 example data data/bio_resting_5min_100hz.csv (neuropsychology/NeuroKit, "
                "copied from the fork mixue-t/NeuroKit @ f2bb3452)",
                "licence": "MIT, (c) 2020 Dominique Makowski",
                "conversion": "RSP column as resp (100 Hz, arbitrary units); RR intervals from R peaks of the "
                "ECG column found offline (5-20 Hz band-pass, energy peaks >= 0.45 s apart)",
            }
        },
    )
    write("neurokit2-resting-belt-rr.jsonl.gz", header, items)


def biosppy(data: Path) -> None:
    src = data / "biosppy_resp" / "resp.txt"
    v = np.loadtxt(src, comments="#")
    fs_in = 1000.0
    # decimate 1000 -> 100 Hz offline (FIR anti-alias, zero phase) to keep the file small
    x = sps.decimate(v, 10, ftype="fir", zero_phase=True)
    fs = 100.0
    t = np.round(np.arange(x.size) / fs, 6)
    x = np.round(x, 2)
    items: list[tuple[float, object]] = [
        (float(t[sl][-1]), RespFrame(t_s=t[sl], resp=x[sl])) for sl in frames(t)
    ]
    header = Header(
        streams={"resp": {"unit": "au", "rate_hz": fs}},
        device={"name": "BioSPPy example respiration", "model": "likely BITalino/PLUX piezo belt", "source": "import"},
        recorded_at=RECORDED_AT,
        extra={
            "provenance": {
                "origin": "BioSPPy examples/resp.txt (PIA-Group/BioSPPy @ 77550221)",
                "licence": "BSD-3-Clause, (c) 2015 Instituto de Telecomunicacoes",
                "conversion": f"12-bit ADC values at {fs_in:g} Hz decimated to 100 Hz (FIR, zero phase)",
            }
        },
    )
    write("biosppy-belt-60s.jsonl.gz", header, items)


def phone(data: Path) -> None:
    src = data / "phone_imu_paced_breathing" / "pos1_accelerometer_data_6sbreathing.txt"
    a = np.loadtxt(src, delimiter=",")
    t = a[:, 0]
    keep = np.concatenate(([True], np.diff(t) > 0))  # the source repeats time stamps
    t = np.round(t[keep], 6)
    acc = np.round(a[keep, 1:4] * 1000.0, 1)  # g -> mG
    items: list[tuple[float, object]] = [
        (float(t[sl][-1]), AccFrame(t_s=t[sl], acc_mg=acc[sl])) for sl in frames(t)
    ]
    rate = round(1.0 / float(np.median(np.diff(t))), 1)
    header = Header(
        streams={"acc": {"unit": "mG", "rate_hz": rate}},
        device={"name": "smartphone on the thorax, supine", "model": "LSM6DS3 (per the source)", "source": "import"},
        recorded_at=RECORDED_AT,
        extra={
            "provenance": {
                "origin": "FedericaPaoli1/Respiration-rate-and-heart-rate-detection @ ecaffd51, "
                "signals/pos1_accelerometer_data_6sbreathing.txt",
                "licence": "MIT, (c) 2021 Federica Paoli",
                "conversion": "columns gFx, gFy, gFz (g) to mG; rows with a repeated time stamp dropped",
                "reference": "paced breathing, 6 s period (10 breaths/min), 12 cycles",
            }
        },
    )
    write("phone-chest-paced-6s.jsonl.gz", header, items)


def ibi(data: Path) -> None:
    src = data / "rr_intervals" / "dont_hold_your_breath_sample_data_ibi.csv"
    d = np.loadtxt(src, delimiter=",")
    t = np.round(d[:, 0], 3)
    rr = np.round(d[:, 1], 1)
    items: list[tuple[float, object]] = [
        (float(t[sl][-1]), RRFrame(t_s=t[sl], rr_ms=rr[sl])) for sl in frames(t)
    ]
    header = Header(
        streams={"rr": {"unit": "ms", "rate_hz": None}},
        device={"name": "Polar H10", "model": "Polar H10 (via bleak)", "source": "import"},
        recorded_at=RECORDED_AT,
        extra={
            "provenance": {
                "origin": "kieranabrennan/dont-hold-your-breath @ 0bf570ff, data/sample_data_ibi.csv",
                "licence": "MIT (dont-hold-your-breath repository licence)",
                "conversion": "columns time [s since start] and IBI [ms]; grouped into 1 s frames",
            }
        },
    )
    write("h10-rr-10min.jsonl.gz", header, items)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    args = ap.parse_args()
    if not args.data.is_dir():
        print(f"{args.data}: not found", file=sys.stderr)
        return 2
    neurokit(args.data)
    biosppy(args.data)
    phone(args.data)
    ibi(args.data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
