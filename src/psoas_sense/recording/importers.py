"""Readers of every input the tools accept: :func:`open_input` gives the header at once and the
``(t, item)`` pairs as a stream (memory bounded whatever the length of the file);
:func:`load_input` gives them as a list.

- a format-v1 recording (``.jsonl`` or ``.jsonl.gz``);
- a generic CSV: a header row with ``t`` (seconds) and ``resp``, or ``ax,ay,az`` (mG), or
  ``rr_ms`` (``t`` = time of each beat);
- exports of phone apps: phyphox CSV ("Time (s)","Acceleration x (m/s^2)",...), Sensor Logger
  ``Accelerometer.csv``/``TotalAcceleration.csv`` (``time,seconds_elapsed,z,y,x``), and Polar
  Sensor Logger ``*_ACC.txt`` / ``*_RR.txt`` (semicolon-separated).

Every problem is an :class:`~psoas_sense.errors.InputError` naming the file and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from psoas_sense.errors import InputError
from psoas_sense.model import AccFrame, Item, RespFrame, RRFrame
from psoas_sense.recording.header import FORMAT_NAME, Header
from psoas_sense.recording.reader import Recording
from psoas_sense.recording.table import ISO_TIME, NANOSECONDS, TableReader

FRAME_S = 1.0
"""Imported samples are grouped into frames of this many seconds (like a live stream)."""
RATE_SAMPLES = 1 << 20
"""The nominal rate is the median spacing of (at most) this many first distinct sample times."""
MAX_FRAME_SAMPLES = 1 << 16
"""A frame never holds more samples than this (a file whose clock stands still stays bounded)."""
HEAD_BYTES = 4096
"""Bytes looked at to tell a recording from a table."""
G_TO_MG = 1000.0
MS2_TO_MG = 1000.0 / 9.80665


def load_input(path: str | os.PathLike[str]) -> tuple[Header, list[tuple[float, Item]]]:
    """Read any supported input whole; raises :class:`InputError` with file and line on a problem.

    Every item is held in memory: for long inputs prefer :func:`open_input`.
    """
    header, items = open_input(path)
    return header, list(items)


def open_input(
    path: str | os.PathLike[str], *, frame_s: float = FRAME_S
) -> tuple[Header, Iterator[tuple[float, Item]]]:
    """Any supported input as its header and a lazy iterator of ``(t, item)`` pairs.

    The file is streamed (bounded by :mod:`.bounded`): a recording line by line, a table one
    block of rows at a time, so memory does not grow with the length of the file. A table's
    header needs its nominal rate, so up to :data:`RATE_SAMPLES` rows are read ahead (and kept)
    before this returns; problems in those rows (and in a recording's header) are raised here.

    Problems further on are raised by the iterator when it reaches them: an
    :class:`InputError` naming the file and line, after the items before it were given out
    (so a consumer may already have acted on them).

    Args:
        path: a recording or a supported table.
        frame_s: a table's samples are grouped into frames of this many seconds (a recording
            keeps its own frames; a table of several streams always has frames of
            :data:`FRAME_S`, so its streams interleave as in a live stream).
    """
    from psoas_sense.recording.bounded import InputStream

    p = Path(path)
    head = InputStream(p).head(HEAD_BYTES)
    if not head.strip():
        raise InputError(p, "empty file")
    if b"\x00" in head:
        raise InputError(p, "unknown format: binary data, not a recording or CSV")
    try:
        text_head = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the boundary is fine
        if exc.start < len(head) - 4:
            raise InputError(p, "unknown format: not UTF-8 text, not a recording or CSV") from None
        text_head = head[: exc.start].decode("utf-8")
    first_line = text_head.lstrip("\ufeff").split("\n", 1)[0].strip()
    if first_line.startswith("{"):
        if FORMAT_NAME not in first_line:
            raise InputError(p, "unknown format: a JSON line, but not a psoas-sense recording header", 1)
        rec = Recording(p)
        return rec.header, rec.timed_items()
    return _open_table(p, frame_s)


class _Frames:
    """Turns blocks of rows into frames of about ``frame_s``, checking time as it goes; the
    frames made so far wait in :attr:`items` until :meth:`take` hands them out."""

    def __init__(self, p: Path, shift_to_zero: bool, rr_first_offset: bool, frame_s: float = FRAME_S) -> None:
        self.p = p
        self.frame_s = frame_s
        self.shift_to_zero = shift_to_zero
        self.rr_first_offset = rr_first_offset
        self.offset: float | None = None
        self.t0 = 0.0
        self.last: tuple[float, int] | None = None
        self.carry: dict[str, np.ndarray] = {}
        self.items: list[tuple[float, Item]] = []
        self.positive_dt: list[np.ndarray] = []
        self.n_dt = 0

    def add(self, line_of: np.ndarray, cols: dict[str, np.ndarray]) -> None:
        """One block: ``cols`` holds ``t`` and the sample columns (``resp``, ``acc``, ``rr``)."""
        t = cols["t"]
        if "rr" in cols:
            bad = np.nonzero(cols["rr"] <= 0)[0]
            if bad.size:
                raise InputError(self.p, "rr_ms must be positive", int(line_of[bad[0]]))
        if self.offset is None:
            first = float(t[0])
            self.offset = -first if self.shift_to_zero or first < 0 else 0.0
            if self.rr_first_offset:
                self.offset += float(cols["rr"][0]) / 1000.0
        if self.offset:
            t = t + self.offset
        prev_t = np.asarray([self.last[0]]) if self.last is not None else t[:0]
        dt = np.diff(np.concatenate([prev_t, t]))
        bad = np.nonzero(dt < 0)[0]
        if bad.size:
            i = int(bad[0]) - prev_t.size + 1
            before = float(t[i - 1]) if i > 0 else float(prev_t[0])
            raise InputError(self.p, f"time goes backwards ({float(t[i]):g} after {before:g})", int(line_of[i]))
        if self.last is None:
            self.t0 = float(t[0])
        if self.n_dt < RATE_SAMPLES:
            self.positive_dt.append(dt[dt > 0][: RATE_SAMPLES - self.n_dt])
            self.n_dt += self.positive_dt[-1].size
        self.last = (float(t[-1]), int(line_of[-1]))
        block = {"t": t, **{k: v for k, v in cols.items() if k != "t"}}
        if self.carry:
            block = {k: np.concatenate([self.carry[k], v]) for k, v in block.items()}
        key = np.floor((block["t"] - self.t0) / self.frame_s).astype(np.int64)
        cuts = np.nonzero(np.diff(key))[0] + 1
        bounds = [0, *cuts.tolist(), key.size]
        for lo, hi in zip(bounds[:-2], bounds[1:-1]):
            self._emit(block, lo, hi)
        self.carry = {k: v[bounds[-2] :] for k, v in block.items()}
        while self.carry["t"].size > MAX_FRAME_SAMPLES:
            self._emit(self.carry, 0, MAX_FRAME_SAMPLES)
            self.carry = {k: v[MAX_FRAME_SAMPLES:] for k, v in self.carry.items()}

    def _emit(self, block: dict[str, np.ndarray], lo: int, hi: int) -> None:
        for start in range(lo, hi, MAX_FRAME_SAMPLES):
            end = min(hi, start + MAX_FRAME_SAMPLES)
            # views of the block's contiguous arrays: no small copies (they fragment the heap)
            ts = block["t"][start:end]
            t_arr = float(ts[-1])
            if "resp" in block:
                self.items.append((t_arr, RespFrame(t_s=ts, resp=block["resp"][start:end])))
            if "acc" in block:
                self.items.append((t_arr, AccFrame(t_s=ts, acc_mg=block["acc"][start:end])))
            if "rr" in block:
                self.items.append((t_arr, RRFrame(t_s=ts, rr_ms=block["rr"][start:end])))

    def take(self) -> list[tuple[float, Item]]:
        """The frames made since the last call (the one still open stays)."""
        out, self.items = self.items, []
        return out

    def finish(self) -> list[tuple[float, Item]]:
        """The frames not taken yet, the last one included."""
        if self.carry and self.carry["t"].size:
            self._emit(self.carry, 0, self.carry["t"].size)
            self.carry = {}
        return self.take()

    def nominal_rate(self) -> float | None:
        """The rate from the median spacing of distinct sample times (None with under 3 times)."""
        dt = np.concatenate(self.positive_dt) if self.positive_dt else np.zeros(0)
        if dt.size < 2:
            return None
        return float(round(1.0 / float(np.median(dt)), 3))


def _open_table(p: Path, frame_s: float) -> tuple[Header, Iterator[tuple[float, Item]]]:
    table = TableReader(p)
    names = table.names
    kind, mapping = _identify(p, names, [n.lower() for n in names], table.header_lineno)
    use = sorted(set(mapping.values()))
    time_kind = {"polar_acc": NANOSECONDS, "polar_rr": ISO_TIME}.get(kind, "")
    kinds = [time_kind if j == mapping["t"] else "" for j in use]
    if sum(k in mapping for k in ("resp", "ax", "rr_ms")) > 1:
        frame_s = FRAME_S  # several streams interleave second by second, as in a live stream
    frames = _Frames(p, shift_to_zero=kind in ("polar_acc", "sensorlogger", "polar_rr"),
                     rr_first_offset=kind == "polar_rr", frame_s=frame_s)
    scale = MS2_TO_MG if kind in ("phyphox", "sensorlogger") else 1.0
    blocks = table.blocks(use, kinds)

    def add(line_of: np.ndarray, vals: np.ndarray) -> None:
        col = {name: np.ascontiguousarray(vals[:, use.index(j)]) for name, j in mapping.items()}
        cols = {"t": col["t"]}
        if "resp" in col:
            cols["resp"] = col["resp"]
        if "ax" in col:
            acc = np.stack([col["ax"], col["ay"], col["az"]], axis=1)
            cols["acc"] = acc * scale if scale != 1.0 else acc
        if "rr_ms" in col:
            cols["rr"] = col["rr_ms"]
        frames.add(line_of, cols)

    rate: float | None = None
    if "resp" in mapping or "ax" in mapping:
        # the header's nominal rate: read ahead (a bounded number of rows) until it is known
        for line_of, vals in blocks:
            add(line_of, vals)
            if frames.n_dt >= RATE_SAMPLES:
                break
        rate = frames.nominal_rate()
    frames.positive_dt, frames.n_dt = [], RATE_SAMPLES  # no more spacings kept
    streams: dict[str, dict[str, object]] = {}
    if "resp" in mapping:
        streams["resp"] = {"unit": "au", "rate_hz": rate}
    if "ax" in mapping:
        streams["acc"] = {"unit": "mG", "rate_hz": rate}
    if "rr_ms" in mapping:
        streams["rr"] = {"unit": "ms", "rate_hz": None}
    device = {"source": "import", "format": kind, "file": p.name}

    def items() -> Iterator[tuple[float, Item]]:
        yield from frames.take()
        for line_of, vals in blocks:
            add(line_of, vals)
            yield from frames.take()
        yield from frames.finish()

    return Header(streams=streams, device=device), items()


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
    if "phone timestamp" in pos and "rr-interval [ms]" in pos:
        return "polar_rr", {"t": pos["phone timestamp"], "rr_ms": pos["rr-interval [ms]"]}
    if "phone timestamp" in pos:
        raise InputError(
            p,
            "Polar Sensor Logger file without sensor timestamps or ACC columns, nor an RR export: "
            "not supported (use the *_ACC.txt or *_RR.txt export)",
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
