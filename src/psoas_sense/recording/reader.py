"""Reading recordings: every line validated, errors as ``FILE:LINE: what is wrong``.

A gzip stream or a last line cut short by a crash is tolerated: the incomplete last line is
skipped with a :class:`TruncatedLineWarning`.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from psoas_sense.errors import InputError
from psoas_sense.model import (
    AccFrame,
    HRFrame,
    Item,
    Marker,
    Notification,
    RespFrame,
    RRFrame,
    Status,
)
from psoas_sense.recording.bounded import (
    MAX_ABS_VALUE,
    MAX_LINE_BYTES,
    BlankBudget,
    InputStream,
    LineBlocks,
    loads_bounded,
)
from psoas_sense.recording.header import Header, is_finite_number, parse_header

__all__ = ["MAX_LINE_BYTES", "Recording", "TruncatedLineWarning", "read_bytes_tolerant", "read_recording"]

_NOT_JSON = "not valid JSON"


class TruncatedLineWarning(UserWarning):
    """The last line of a recording was cut short (a crash while writing) and was skipped."""


def read_bytes_tolerant(path: Path, *, max_bytes: int | None = None) -> tuple[bytes, bool]:
    """All bytes of the (possibly gzip) file, within ``max_bytes``; the flag is True when a gzip
    stream was cut short. Prefer streaming through :class:`~.bounded.InputStream`."""
    stream = InputStream(path, max_bytes=max_bytes)
    data = b"".join(stream.blocks())
    return data, stream.cut


def _numeric_array(v: Any, ndim: int, maybe_bool: bool = True) -> np.ndarray | str:
    """``v`` (parsed JSON) as a finite float array of ``ndim`` dimensions (rows of 3 for 2-D),
    or the reason it is not one. NumPy does the checking in C: a string, null or ragged row gives
    a non-numeric dtype or an error. NumPy would read a JSON ``true`` among numbers as 1, so when
    the line holds one (``maybe_bool``) every value is checked in Python. Magnitudes beyond
    :data:`~.bounded.MAX_ABS_VALUE` are refused (they overflow the filters)."""
    if not isinstance(v, list):
        return "must be a list"
    if maybe_bool:
        rows = v if ndim == 1 else [x for r in v if isinstance(r, list) for x in r]
        if any(isinstance(x, bool) for x in rows):
            return "must hold numbers, not booleans"
    if not v:
        return np.zeros((0, 3) if ndim == 2 else 0)
    try:
        arr = np.asarray(v)
    except (ValueError, TypeError, OverflowError):
        return "must hold numbers only"
    if arr.dtype.kind not in "fiu" or arr.ndim != ndim or (ndim == 2 and arr.shape[1] != 3):
        return "must hold numbers only" if ndim == 1 else "must hold rows of [x, y, z] numbers"
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        return "must hold finite numbers"
    if arr.size and float(np.max(np.abs(arr))) > MAX_ABS_VALUE:
        return f"has a value beyond ±{MAX_ABS_VALUE:g}"
    return arr


class _LineReader:
    """Validation helpers for one line, raising ``FILE:LINE: what is wrong``."""

    def __init__(self, path: Path, lineno: int, maybe_bool: bool = True) -> None:
        self.path = path
        self.lineno = lineno
        self.maybe_bool = maybe_bool

    def fail(self, reason: str) -> InputError:
        """The error to raise for this line."""
        return InputError(self.path, reason, self.lineno)

    def number(self, obj: Mapping[str, Any], key: str) -> float:
        """``obj[key]`` as a finite float."""
        if key not in obj:
            raise self.fail(f"missing '{key}'")
        v = obj[key]
        if not is_finite_number(v):
            raise self.fail(f"'{key}' is not a finite number: {v!r}"[:200])
        x = float(v)
        if abs(x) > MAX_ABS_VALUE:
            raise self.fail(f"'{key}' is out of range: {x:g} (beyond ±{MAX_ABS_VALUE:g})")
        return x

    def numbers(self, obj: Mapping[str, Any], key: str) -> np.ndarray:
        """``obj[key]`` as a 1-D array of finite floats."""
        if key not in obj:
            raise self.fail(f"missing '{key}'")
        arr = _numeric_array(obj[key], 1, self.maybe_bool)
        if isinstance(arr, str):
            raise self.fail(f"'{key}' {arr}" if arr.startswith("has") else f"'{key}' must be a list of finite numbers")
        return arr

    def times(self, obj: Mapping[str, Any], n: int) -> np.ndarray:
        """The ``n`` sample times of a frame line (``ts``, or ``t0`` + ``dt``), non-decreasing."""
        if "ts" in obj:
            ts = self.numbers(obj, "ts")
        elif "t0" in obj and "dt" in obj:
            t0, dt = self.number(obj, "t0"), self.number(obj, "dt")
            if dt <= 0:
                raise self.fail("'dt' must be positive")
            if "n" in obj and obj["n"] != n:
                raise self.fail(f"'n' is {obj['n']!r} but there are {n} values")
            ts = t0 + dt * np.arange(n)
        else:
            raise self.fail("sample times missing: give 'ts', or 't0' and 'dt'")
        if ts.shape[0] != n:
            raise self.fail(f"{ts.shape[0]} sample times for {n} values")
        if n > 1 and np.any(np.diff(ts) < 0):
            raise self.fail("sample times go backwards within the line")
        if n and not abs(float(ts[-1])) <= MAX_ABS_VALUE:
            raise self.fail(f"sample times go beyond ±{MAX_ABS_VALUE:g} s")
        return ts


def _decode_line(obj: Mapping[str, Any], lr: _LineReader) -> Item:
    """The item of one parsed line after the header, validated."""
    t = lr.number(obj, "t")
    if t < 0:
        raise lr.fail(f"time is negative: {t}")
    kind = obj.get("kind")
    if kind == "ble":
        char, hexdata = obj.get("char"), obj.get("hex")
        if not isinstance(char, str) or not char:
            raise lr.fail("'char' must be a characteristic UUID string")
        if not isinstance(hexdata, str):
            raise lr.fail("'hex' must be a string of hex bytes")
        try:
            data = bytes.fromhex(hexdata)
        except ValueError:
            raise lr.fail("'hex' is not valid hex") from None
        return Notification(t_s=t, char_uuid=char.lower(), data=data)
    if kind == "resp":
        v = lr.numbers(obj, "v")
        return RespFrame(t_s=lr.times(obj, v.shape[0]), resp=v)
    if kind == "acc":
        arr = _numeric_array(obj.get("v"), 2, lr.maybe_bool)
        if isinstance(arr, str):
            raise lr.fail(f"'v' {arr}" if arr.startswith("has") else "'v' must be a list of [x, y, z] finite numbers")
        return AccFrame(t_s=lr.times(obj, arr.shape[0]), acc_mg=arr)
    if kind == "rr":
        rr = lr.numbers(obj, "rr_ms")
        ts = lr.times(obj, rr.shape[0])
        if np.any(rr <= 0):
            raise lr.fail("'rr_ms' values must be positive")
        return RRFrame(t_s=ts, rr_ms=rr)
    if kind == "hr":
        return HRFrame(t_s=t, hr_bpm=lr.number(obj, "hr_bpm"))
    if kind == "status":
        state = obj.get("state")
        if not isinstance(state, str) or not state:
            raise lr.fail("'state' must be a non-empty string")
        detail = obj.get("detail", "")
        return Status(t_s=t, state=state, detail=str(detail))
    if kind == "marker":
        marker = obj.get("marker")
        if not isinstance(marker, str) or not marker:
            raise lr.fail("'marker' must be a non-empty string")
        data = obj.get("data", {})
        if not isinstance(data, dict):
            raise lr.fail("marker 'data' must be an object")
        return Marker(t_s=t, marker=marker, data=data)
    if kind is None:
        raise lr.fail("missing 'kind'")
    raise lr.fail(f"unknown kind {kind!r}"[:200])



class Recording:
    """A validated recording read from disk: its header and a lazy iterator of items.

    The file is streamed: only one block of lines is held at a time, so memory does not grow
    with the length of the recording.

    Args:
        path: the recording (``.jsonl`` or ``.jsonl.gz``).
        max_bytes: cap on bytes read after decompression.
        max_line_bytes: the longest line allowed (the header included).
        max_blank_bytes: bytes of blank lines allowed.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        max_line_bytes: int | None = None,
        max_blank_bytes: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.truncated = False
        self._limits = (max_bytes, max_line_bytes, max_blank_bytes)
        first = next(self._lines(InputStream(self.path, max_bytes=max_bytes)), None)
        if first is None:
            raise InputError(self.path, "empty file: no recording header")
        lr = _LineReader(self.path, 1)
        obj = loads_bounded(first[1], lr.fail, "not a psoas-sense recording (first line is not a JSON header)")
        self.header = parse_header(obj, lr.fail)

    def _lines(self, stream: InputStream) -> Iterator[tuple[int, bytes, bool, bool]]:
        """``(line number, bytes, ends in a newline, is the last line)`` for every line."""
        prev: tuple[int, bytes, bool] | None = None
        for first_lineno, block in LineBlocks(stream, max_line_bytes=self._limits[1]):
            parts = block.split(b"\n")
            whole = block.endswith(b"\n")
            if whole:
                parts.pop()
            for i, raw in enumerate(parts):
                if prev is not None:
                    yield (*prev, False)
                prev = (first_lineno + i, raw, whole or i < len(parts) - 1)
        if prev is not None:
            yield (*prev, True)

    def items(self) -> Iterator[Item]:
        """Every item after the header, validated, in file order."""
        for _, item in self.timed_items():
            yield item

    def timed_items(self) -> Iterator[tuple[float, Item]]:
        """``(t, item)`` for every line after the header: ``t`` is the line's arrival time."""
        last_t = 0.0
        last_sample_t: dict[str, float] = {}
        stream = InputStream(self.path, max_bytes=self._limits[0])
        blanks = BlankBudget(self.path, self._limits[2])
        for lineno, raw, terminated, is_last in self._lines(stream):
            if lineno == 1:
                continue
            if not raw.strip():
                blanks.spend(len(raw) + 1, lineno)
                continue
            lr = _LineReader(self.path, lineno, maybe_bool=b"true" in raw or b"false" in raw)
            try:
                obj = loads_bounded(raw, lr.fail, _NOT_JSON)
            except InputError as exc:
                if exc.reason == _NOT_JSON and is_last and (not terminated or stream.cut):
                    self.truncated = True
                    warnings.warn(
                        f"{self.path}:{lineno}: last line is incomplete (cut short while "
                        "writing); skipped",
                        TruncatedLineWarning,
                        stacklevel=2,
                    )
                    return
                raise
            if not isinstance(obj, dict):
                raise lr.fail("each line must be a JSON object")
            item = _decode_line(obj, lr)
            t = float(obj["t"])
            if t < last_t:
                raise lr.fail(f"time goes backwards ({t} after {last_t})")
            last_t = t
            if isinstance(item, (RespFrame, AccFrame, RRFrame)) and item.t_s.size:
                kind = item.kind
                first_t = float(item.t_s[0])
                if first_t < last_sample_t.get(kind, -math.inf):
                    raise lr.fail(
                        f"{kind} sample time goes backwards ({first_t} after "
                        f"{last_sample_t[kind]})"
                    )
                last_sample_t[kind] = float(item.t_s[-1])
            yield t, item

    def read_all(self) -> list[Item]:
        """Every item after the header, validated, as a list."""
        return list(self.items())


def read_recording(path: str | os.PathLike[str]) -> tuple[Header, list[Item]]:
    """Read and validate a whole recording."""
    rec = Recording(path)
    return rec.header, rec.read_all()

