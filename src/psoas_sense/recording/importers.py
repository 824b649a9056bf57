"""Readers of every input the tools accept, into ``(header, [(t, item), ...])``.

- a format-v1 recording (``.jsonl`` or ``.jsonl.gz``);
- a generic CSV: a header row with ``t`` (seconds) and ``resp``, or ``ax,ay,az`` (mG), or
  ``rr_ms`` (``t`` = time of each beat);
- exports of phone apps: phyphox CSV ("Time (s)","Acceleration x (m/s^2)",...), Sensor Logger
  ``Accelerometer.csv``/``TotalAcceleration.csv`` (``time,seconds_elapsed,z,y,x``), and Polar
  Sensor Logger ``*_ACC.txt`` / ``*_RR.txt`` (semicolon-separated).

Every problem is an :class:`~psoas_sense.errors.InputError` naming the file and line.
"""

from __future__ import annotations

import io
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from psoas_sense.errors import InputError
from psoas_sense.model import AccFrame, Item, RespFrame, RRFrame
from psoas_sense.recording.header import FORMAT_NAME, Header
from psoas_sense.recording.reader import Recording, read_bytes_tolerant

FRAME_S = 1.0
"""Imported samples are grouped into frames of this many seconds (like a live stream)."""
G_TO_MG = 1000.0
MS2_TO_MG = 1000.0 / 9.80665


def load_input(path: str | os.PathLike[str]) -> tuple[Header, list[tuple[float, Item]]]:
    """Read any supported input; raises :class:`InputError` with file and line on a problem."""
    p = Path(path)
    data, _ = read_bytes_tolerant(p)
    head = data[:4096]
    if not head.strip():
        raise InputError(p, "empty file")
    if b"\x00" in head:
        raise InputError(p, "unknown format: binary data, not a recording or CSV")
    try:
        text_head = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the 4096-byte boundary is fine
        if exc.start < len(head) - 4:
            raise InputError(p, "unknown format: not UTF-8 text, not a recording or CSV") from None
        text_head = head[: exc.start].decode("utf-8")
    first_line = text_head.lstrip("\ufeff").split("\n", 1)[0].strip()
    if first_line.startswith("{"):
        if FORMAT_NAME not in first_line:
            raise InputError(p, "unknown format: a JSON line, but not a psoas-sense recording header", 1)
        rec = Recording(p)
        return rec.header, list(rec.timed_items())
    text = _decode_text(p, data)
    return _load_table(p, text)


def _decode_text(p: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(p, "not UTF-8 text", line) from None


def _split_header(line: str, sep: str) -> list[str]:
    return [c.strip().strip('"').strip() for c in line.split(sep)]


def _columns(
    p: Path,
    rows: Sequence[str],
    sep: str,
    ncols: int,
    first_lineno: int,
    names: Sequence[str],
    use: Sequence[int],
) -> np.ndarray:
    """Parse rows into a float array (n, ncols), reading only the columns in ``use`` (the others
    are 0); on failure find the first bad line."""
    cells = [r.split(sep) for r in rows]
    try:
        if any(len(c) != ncols for c in cells):
            raise ValueError
        sub = np.array([[c[j] for j in use] for c in cells], dtype=np.float64)
        if sub.ndim == 2 and np.isfinite(sub).all():
            arr = np.zeros((sub.shape[0], ncols))
            arr[:, list(use)] = sub
            return arr
    except ValueError:
        pass
    for i, c in enumerate(cells):
        lineno = first_lineno + i
        if len(c) != ncols:
            raise InputError(p, f"expected {ncols} values, found {len(c)}", lineno)
        for j in use:
            v = c[j]
            s = v.strip().strip('"')
            try:
                x = float(s)
            except ValueError:
                raise InputError(p, f"column '{names[j]}' is not a number: {s[:40]!r}", lineno) from None
            if not np.isfinite(x):
                raise InputError(p, f"column '{names[j]}' is not a finite number: {s[:40]!r}", lineno)
    raise InputError(p, "cannot parse the table", first_lineno)  # pragma: no cover


def _check_time(p: Path, t: np.ndarray, line_of: np.ndarray) -> None:
    bad = np.nonzero(np.diff(t) < 0)[0]
    if bad.size:
        i = int(bad[0]) + 1
        raise InputError(p, f"time goes backwards ({t[i]:g} after {t[i - 1]:g})", int(line_of[i]))


def _frames_by_time(t: np.ndarray) -> list[slice]:
    """Slices grouping samples into FRAME_S-long frames by time."""
    if t.size == 0:
        return []
    key = np.floor((t - t[0]) / FRAME_S).astype(np.int64)
    cuts = np.nonzero(np.diff(key))[0] + 1
    bounds = [0, *cuts.tolist(), t.size]
    return [slice(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]


def _items_from_columns(
    t: np.ndarray,
    resp: np.ndarray | None,
    acc_mg: np.ndarray | None,
    rr_ms: np.ndarray | None,
) -> list[tuple[float, Item]]:
    out: list[tuple[float, Item]] = []
    for sl in _frames_by_time(t):
        ts = t[sl]
        t_arr = float(ts[-1])
        if resp is not None:
            out.append((t_arr, RespFrame(t_s=ts, resp=resp[sl])))
        if acc_mg is not None:
            out.append((t_arr, AccFrame(t_s=ts, acc_mg=acc_mg[sl])))
        if rr_ms is not None:
            out.append((t_arr, RRFrame(t_s=ts, rr_ms=rr_ms[sl])))
    return out


def _nominal_rate(t: np.ndarray) -> float | None:
    u = np.unique(t)
    if u.size < 3:
        return None
    return float(round(1.0 / float(np.median(np.diff(u))), 3))


def _fast_rows(body_text: str, sep: str, ncols: int, use: Sequence[int]) -> np.ndarray | None:
    """The whole table parsed by NumPy's C reader, or None when anything is unusual (then the
    line-by-line reader finds and names the bad line)."""
    stripped = body_text.rstrip()
    if not stripped:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sub = np.loadtxt(
                io.StringIO(stripped), delimiter=sep, usecols=list(use), dtype=np.float64,
                ndmin=2, comments=None, encoding=None,
            )
    except (ValueError, Warning):
        return None
    # NumPy skips blank lines: then the row count differs and the slow path keeps line numbers
    if sub.shape[0] != stripped.count("\n") + 1 or not np.isfinite(sub).all():
        return None
    # every row must have the header's number of columns (a trailing ';' is allowed)
    first_row = stripped.split("\n", 1)[0].rstrip("\r")
    cells = first_row.rstrip(sep).count(sep) + 1 if sep == ";" else first_row.count(sep) + 1
    if cells != ncols:
        return None
    arr = np.zeros((sub.shape[0], ncols))
    arr[:, list(use)] = sub
    return arr


def _load_table(p: Path, text: str) -> tuple[Header, list[tuple[float, Item]]]:
    # the header: the first line that is neither blank nor a '#' comment
    pos = 0
    lineno = 0
    while True:
        nl = text.find("\n", pos)
        line = text[pos : nl if nl >= 0 else len(text)]
        lineno += 1
        if line.strip() and not line.lstrip().startswith("#"):
            break
        if nl < 0:
            raise InputError(p, "empty file")
        pos = nl + 1
    header_line = line.rstrip("\r")
    header_lineno = lineno
    body_text = text[nl + 1 :] if nl >= 0 else ""
    sep = ";" if header_line.count(";") > header_line.count(",") else ","
    if "\t" in header_line and sep == "," and "," not in header_line:
        sep = "\t"
    names = _split_header(header_line, sep)
    if names and names[-1] == "":
        names = names[:-1]
    lower = [n.lower() for n in names]
    kind, mapping = _identify(p, names, lower, header_lineno)
    use = sorted(set(mapping.values()))

    arr = _fast_rows(body_text, sep, len(names), use)
    if arr is not None:
        first = header_lineno + 1
        line_of = np.arange(first, first + arr.shape[0])
    else:
        body: list[str] = []
        body_lines: list[int] = []
        for j, s in enumerate(body_text.splitlines(), start=header_lineno + 1):
            if not s.strip():
                continue
            if sep == ";" and s.rstrip().endswith(";") and len(s.split(";")) == len(names) + 1:
                s = s.rstrip()[:-1]
            body.append(s)
            body_lines.append(j)
        if not body:
            raise InputError(p, "no data rows after the header", header_lineno)
        first = body_lines[0]
        contiguous = body_lines[-1] - first + 1 == len(body_lines)
        arr = _parse_rows(p, body, sep, len(names), names, body_lines, first, contiguous, use)
        line_of = np.asarray(body_lines)

    streams: dict[str, dict[str, object]] = {}
    device = {"source": "import", "format": kind, "file": p.name}
    resp = acc = rr = None
    if kind == "generic":
        t = arr[:, mapping["t"]]
        if "resp" in mapping:
            resp = arr[:, mapping["resp"]]
        if "ax" in mapping:
            acc = arr[:, [mapping["ax"], mapping["ay"], mapping["az"]]]
        if "rr_ms" in mapping:
            rr = arr[:, mapping["rr_ms"]]
            bad = np.nonzero(rr <= 0)[0]
            if bad.size:
                raise InputError(p, "rr_ms must be positive", int(line_of[bad[0]]))
    elif kind in ("phyphox", "sensorlogger"):
        t = arr[:, mapping["t"]]
        acc = arr[:, [mapping["ax"], mapping["ay"], mapping["az"]]] * MS2_TO_MG
    elif kind == "polar_acc":
        t = arr[:, mapping["t"]] * 1e-9
        acc = arr[:, [mapping["ax"], mapping["ay"], mapping["az"]]]
    else:  # pragma: no cover - _identify returns only the kinds above
        raise InputError(p, "unknown format", header_lineno)
    if kind == "polar_acc" or kind == "sensorlogger":
        t = t - t[0]
    _check_time(p, t, line_of)
    if t.size and t[0] < 0:
        t = t - t[0]
    if resp is not None:
        streams["resp"] = {"unit": "au", "rate_hz": _nominal_rate(t)}
    if acc is not None:
        streams["acc"] = {"unit": "mG", "rate_hz": _nominal_rate(t)}
    if rr is not None:
        streams["rr"] = {"unit": "ms", "rate_hz": None}
    header = Header(streams=streams, device=device)
    return header, _items_from_columns(t, resp, acc, rr)


def _parse_rows(
    p: Path,
    body: list[str],
    sep: str,
    ncols: int,
    names: Sequence[str],
    body_lines: list[int],
    first: int,
    contiguous: bool,
    use: Sequence[int],
) -> np.ndarray:
    try:
        return _columns(p, body, sep, ncols, first, names, use)
    except InputError as exc:
        if contiguous or exc.line is None:
            raise
        # map the row index back to the real line number (blank lines were skipped)
        row = exc.line - first
        raise InputError(p, exc.reason, body_lines[row]) from None


_PHYPHOX_ACC = re.compile(r"^(linear )?acceleration ([xyz]) \(m/s\^2\)$")


def _identify(p: Path, names: list[str], lower: list[str], lineno: int) -> tuple[str, dict[str, int]]:
    """Which table this is, and where its columns are."""
    pos = {n: i for i, n in enumerate(lower)}
    if "t" in pos:
        m: dict[str, int] = {"t": pos["t"]}
        found = []
        if "resp" in pos:
            m["resp"] = pos["resp"]
            found.append("resp")
        if all(a in pos for a in ("ax", "ay", "az")):
            m.update(ax=pos["ax"], ay=pos["ay"], az=pos["az"])
            found.append("ax,ay,az")
        elif any(a in pos for a in ("ax", "ay", "az")):
            raise InputError(p, "CSV has some of ax, ay, az but not all three", lineno)
        if "rr_ms" in pos:
            m["rr_ms"] = pos["rr_ms"]
            found.append("rr_ms")
        if not found:
            raise InputError(
                p,
                "CSV needs a 'resp', 'ax,ay,az' or 'rr_ms' column besides 't' "
                f"(found: {', '.join(names)[:120]})",
                lineno,
            )
        return "generic", m
    if "time (s)" in pos:
        axes: dict[str, int] = {}
        for i, n in enumerate(lower):
            mm = _PHYPHOX_ACC.match(n)
            if mm:
                axes["a" + mm.group(2)] = i
        if len(axes) == 3:
            return "phyphox", {"t": pos["time (s)"], **axes}
    if "seconds_elapsed" in pos and all(a in pos for a in ("x", "y", "z")):
        return "sensorlogger", {"t": pos["seconds_elapsed"], "ax": pos["x"], "ay": pos["y"], "az": pos["z"]}
    if "sensor timestamp [ns]" in pos and all(a in pos for a in ("x [mg]", "y [mg]", "z [mg]")):
        return "polar_acc", {
            "t": pos["sensor timestamp [ns]"],
            "ax": pos["x [mg]"],
            "ay": pos["y [mg]"],
            "az": pos["z [mg]"],
        }
    if "phone timestamp" in pos:
        raise InputError(
            p,
            "Polar Sensor Logger file without sensor timestamps or ACC columns: not supported "
            "(use the *_ACC.txt export)",
            lineno,
        )
    if "t" not in pos and any(n in pos for n in ("resp", "rr_ms", "ax")):
        raise InputError(p, "CSV header has no 't' column (time in seconds)", lineno)
    raise InputError(
        p,
        "unknown format: expected a psoas-sense recording (.jsonl, .jsonl.gz) or a CSV whose "
        "header names t and resp, ax,ay,az or rr_ms",
        lineno,
    )
