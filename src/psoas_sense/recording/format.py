"""Recording format v1: JSON Lines, one header object then one item per line.

See ``firmware_notes/recording-format.md`` for the full description. In short::

    {"format": "psoas-sense-recording", "version": 1, "recorded_at": "...", "device": {...},
     "streams": {"acc": {"unit": "mG", "rate_hz": 200.0}, ...}}
    {"t": 0.512, "kind": "ble", "char": "00002a37-0000-1000-8000-00805f9b34fb", "hex": "10482c03"}
    {"t": 1.0, "kind": "resp", "t0": 0.01, "dt": 0.01, "v": [0.49, 0.50, ...]}
    {"t": 1.0, "kind": "acc", "ts": [0.99, 1.0], "v": [[-9, -1, 999], [-8, -2, 997]]}
    {"t": 2.2, "kind": "rr", "ts": [1.4, 2.2], "rr_ms": [812.0, 800.0]}
    {"t": 2.2, "kind": "hr", "hr_bpm": 72}
    {"t": 3.0, "kind": "status", "state": "lost", "detail": "link dropped"}
    {"t": 4.0, "kind": "marker", "marker": "hold_start", "data": {"side": "left", "kind": "static"}}

The writer is append-only and flushes every line; it fsyncs at least once a second and on close.
It creates the file with mode 0600 and refuses to overwrite an existing file. The reader
validates everything and reports ``FILE:LINE: what is wrong``; a last line cut short by a crash
is skipped with a warning.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import time
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

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
    item_time,
)

FORMAT_NAME = "psoas-sense-recording"
FORMAT_VERSION = 1
FSYNC_INTERVAL_S = 1.0
"""The writer fsyncs at least this often while lines are being written."""
UNIFORM_TOLERANCE_S = 1e-9
"""Sample times within this of a uniform grid are written as ``t0`` + ``dt``."""
MAX_LINE_BYTES = 16 * 1024 * 1024
"""A longer line is refused as malformed (protects the reader from a runaway file)."""


class TruncatedLineWarning(UserWarning):
    """The last line of a recording was cut short (a crash while writing) and was skipped."""


@dataclass(frozen=True)
class Header:
    """The first line of a recording."""

    streams: Mapping[str, Mapping[str, Any]]
    """Stream name -> ``{"unit": ..., "rate_hz": ...}``."""
    device: Mapping[str, Any] = field(default_factory=dict)
    """``name``, ``model``, ``firmware``, ``address``, ``source`` (ble, emulated, phone, import)."""
    recorded_at: str = ""
    """ISO 8601 UTC time the recording started (wall clock; informational only)."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Any other header keys (``provenance``, ``licence``, ``notes``...), kept as they are."""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "recorded_at": self.recorded_at,
            "device": dict(self.device),
            "streams": {k: dict(v) for k, v in self.streams.items()},
        }
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out


# --------------------------------------------------------------------------- encoding


def _num(x: float) -> float | int:
    """A float as JSON will print it, with integral values kept short."""
    xf = float(x)
    if xf.is_integer() and abs(xf) < 2**53:
        return int(xf)
    return xf


def _times_json(t: np.ndarray) -> dict[str, Any]:
    n = t.shape[0]
    if n >= 3:
        dt = (float(t[-1]) - float(t[0])) / (n - 1)
        grid = float(t[0]) + dt * np.arange(n)
        if dt > 0 and float(np.max(np.abs(grid - t))) <= UNIFORM_TOLERANCE_S:
            return {"t0": float(t[0]), "dt": dt, "n": n}
    return {"ts": [float(v) for v in t]}


def encode_item(item: Item) -> dict[str, Any]:
    """The JSON object of one item (without the trailing newline)."""
    t = item_time(item)
    if isinstance(item, Notification):
        return {"t": t, "kind": "ble", "char": item.char_uuid, "hex": item.data.hex()}
    if isinstance(item, RespFrame):
        return {"t": t, "kind": "resp", **_times_json(item.t_s), "v": [_num(v) for v in item.resp]}
    if isinstance(item, AccFrame):
        rows = [[_num(v) for v in row] for row in item.acc_mg]
        return {"t": t, "kind": "acc", **_times_json(item.t_s), "v": rows}
    if isinstance(item, RRFrame):
        return {
            "t": t,
            "kind": "rr",
            "ts": [float(v) for v in item.t_s],
            "rr_ms": [_num(v) for v in item.rr_ms],
        }
    if isinstance(item, HRFrame):
        return {"t": t, "kind": "hr", "hr_bpm": _num(item.hr_bpm)}
    if isinstance(item, Status):
        out: dict[str, Any] = {"t": t, "kind": "status", "state": item.state}
        if item.detail:
            out["detail"] = item.detail
        return out
    if isinstance(item, Marker):
        out = {"t": t, "kind": "marker", "marker": item.marker}
        if item.data:
            out["data"] = dict(item.data)
        return out
    raise TypeError(f"cannot encode {type(item).__name__}")


def dumps_line(obj: Mapping[str, Any]) -> str:
    """One JSON line, compact, deterministic key order as given, ending in a newline."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n"


# --------------------------------------------------------------------------- writer


class RecordingWriter:
    """Append-only writer of a v1 recording.

    Creates ``path`` with mode 0600 (refuses to overwrite an existing file), writes the header,
    then one line per :meth:`write`, flushed at once; fsyncs at least every
    :data:`FSYNC_INTERVAL_S` seconds of ``clock`` time and on :meth:`close`. A path ending in
    ``.gz`` is written gzip-compressed, sync-flushed per line so a crash loses at most the line
    being written.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: Header,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except FileExistsError:
            raise InputError(path, "already exists; recordings are never overwritten") from None
        except OSError as exc:
            raise InputError(path, f"cannot create: {exc.strerror or exc}") from None
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # the mode above is reduced by the umask, never widened
        self._raw: IO[bytes] = os.fdopen(fd, "ab", buffering=0)
        self._gz: gzip.GzipFile | None = None
        if self.path.name.endswith(".gz"):
            self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        self._last_sync = self._clock()
        self._last_t = 0.0
        self.lines_written = 0
        self._closed = False
        self._write_line(dumps_line(header.to_json()))

    def _write_line(self, line: str) -> None:
        data = line.encode("utf-8")
        if self._gz is not None:
            self._gz.write(data)
            self._gz.flush(zlib.Z_SYNC_FLUSH)
        else:
            self._raw.write(data)
        self.lines_written += 1
        now = self._clock()
        if now - self._last_sync >= FSYNC_INTERVAL_S:
            self.sync()

    def sync(self) -> None:
        """Force what was written to stable storage."""
        self._raw.flush()
        os.fsync(self._raw.fileno())
        self._last_sync = self._clock()

    def write(self, item: Item, t_s: float | None = None) -> None:
        """Append one item, stamped ``t_s`` (arrival time; default: the item's own time).

        Lines are kept in non-decreasing time: an item stamped earlier than the line before it
        is written with that line's time (never dropped, never reordered).
        """
        if self._closed:
            raise ValueError("recording is closed")
        obj = encode_item(item)
        if t_s is not None:
            obj["t"] = float(t_s)
        t = float(obj["t"])
        if not math.isfinite(t):
            raise ValueError("item without a finite time")
        if t < self._last_t:
            # Clamp rather than reject: a late status line must not be lost; order is preserved.
            obj["t"] = self._last_t
        self._last_t = float(obj["t"])
        self._write_line(dumps_line(obj))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._gz is not None:
            self._gz.close()  # writes the gzip trailer; does not close _raw
        self.sync()
        self._raw.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- reader


def _read_bytes_tolerant(path: Path) -> tuple[bytes, bool]:
    """All bytes of the (possibly gzip) file; the flag is True when a gzip stream was cut short."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a recording") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    if raw[:2] != b"\x1f\x8b":
        return raw, False
    out = io.BytesIO()
    data = raw
    cut = False
    while data:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out.write(d.decompress(data))
        except zlib.error:
            if out.tell() == 0:
                raise InputError(path, "not a valid gzip file") from None
            cut = True
            break
        if not d.eof:
            cut = True
            break
        data = d.unused_data
    return out.getvalue(), cut


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _numeric_array(v: Any, ndim: int, maybe_bool: bool = True) -> np.ndarray | None:
    """``v`` (parsed JSON) as a finite float array of ``ndim`` dimensions (rows of 3 for 2-D),
    or None. NumPy does the checking in C: a string, null or ragged row gives a non-numeric
    dtype or an error. NumPy would read a JSON ``true`` among numbers as 1, so when the line
    holds one (``maybe_bool``) every value is checked in Python."""
    if not isinstance(v, list):
        return None
    if maybe_bool:
        rows = v if ndim == 1 else [x for r in v if isinstance(r, list) for x in r]
        if any(isinstance(x, bool) for x in rows):
            return None
    if not v:
        return np.zeros((0, 3) if ndim == 2 else 0)
    try:
        arr = np.asarray(v)
    except (ValueError, TypeError):
        return None
    if arr.dtype.kind not in "fiu" or arr.ndim != ndim or (ndim == 2 and arr.shape[1] != 3):
        return None
    arr = arr.astype(np.float64, copy=False)
    if not np.isfinite(arr).all():
        return None
    return arr


class _LineReader:
    def __init__(self, path: Path, lineno: int, maybe_bool: bool = True) -> None:
        self.path = path
        self.lineno = lineno
        self.maybe_bool = maybe_bool

    def fail(self, reason: str) -> InputError:
        return InputError(self.path, reason, self.lineno)

    def number(self, obj: Mapping[str, Any], key: str) -> float:
        if key not in obj:
            raise self.fail(f"missing '{key}'")
        v = obj[key]
        if not _is_number(v):
            raise self.fail(f"'{key}' is not a finite number: {v!r}"[:200])
        return float(v)

    def numbers(self, obj: Mapping[str, Any], key: str) -> np.ndarray:
        if key not in obj:
            raise self.fail(f"missing '{key}'")
        arr = _numeric_array(obj[key], 1, self.maybe_bool)
        if arr is None:
            raise self.fail(f"'{key}' must be a list of finite numbers")
        return arr

    def times(self, obj: Mapping[str, Any], n: int) -> np.ndarray:
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
        return ts


def _decode_line(obj: Mapping[str, Any], lr: _LineReader) -> Item:
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
        if arr is None:
            raise lr.fail("'v' must be a list of [x, y, z] finite numbers")
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


def _parse_header(obj: Any, lr: _LineReader) -> Header:
    if not isinstance(obj, dict):
        raise lr.fail("header must be a JSON object")
    if obj.get("format") != FORMAT_NAME:
        raise lr.fail(f"not a psoas-sense recording (header 'format' is {obj.get('format')!r})"[:200])
    version = obj.get("version")
    if version != FORMAT_VERSION:
        raise lr.fail(f"unsupported recording version {version!r} (this program reads 1)"[:200])
    streams = obj.get("streams", {})
    if not isinstance(streams, dict) or not all(isinstance(v, dict) for v in streams.values()):
        raise lr.fail("header 'streams' must be an object of objects")
    for name, spec in streams.items():
        if "rate_hz" in spec and spec["rate_hz"] is not None and not (
            _is_number(spec["rate_hz"]) and spec["rate_hz"] > 0
        ):
            raise lr.fail(f"stream {name!r}: 'rate_hz' must be a positive number")
    device = obj.get("device", {})
    if not isinstance(device, dict):
        raise lr.fail("header 'device' must be an object")
    recorded_at = obj.get("recorded_at", "")
    known = {"format", "version", "streams", "device", "recorded_at"}
    extra = {k: v for k, v in obj.items() if k not in known}
    return Header(streams=streams, device=device, recorded_at=str(recorded_at), extra=extra)


class Recording:
    """A validated recording read from disk: its header and a lazy iterator of items."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.truncated = False
        data, self._gzip_cut = _read_bytes_tolerant(self.path)
        self._lines = data.split(b"\n")
        # A file that ends in "\n" splits into a trailing empty chunk: not a line.
        self._complete_last = data.endswith(b"\n")
        if self._lines and self._lines[-1] == b"":
            self._lines.pop()
        if not self._lines:
            raise InputError(self.path, "empty file: no recording header")
        first = self._lines[0]
        lr = _LineReader(self.path, 1)
        try:
            obj = json.loads(first)
        except (UnicodeDecodeError, ValueError):
            raise lr.fail("not a psoas-sense recording (first line is not a JSON header)") from None
        self.header = _parse_header(obj, lr)

    def items(self) -> Iterator[Item]:
        """Every item after the header, validated, in file order."""
        for _, item in self.timed_items():
            yield item

    def timed_items(self) -> Iterator[tuple[float, Item]]:
        """``(t, item)`` for every line after the header: ``t`` is the line's arrival time."""
        last_t = 0.0
        last_sample_t: dict[str, float] = {}
        n = len(self._lines)
        for idx in range(1, n):
            raw = self._lines[idx]
            lineno = idx + 1
            lr = _LineReader(self.path, lineno, maybe_bool=b"true" in raw or b"false" in raw)
            is_last = idx == n - 1
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                raise lr.fail("line too long")
            try:
                obj = json.loads(raw)
            except (UnicodeDecodeError, ValueError):
                if is_last and (not self._complete_last or self._gzip_cut):
                    self.truncated = True
                    warnings.warn(
                        f"{self.path}:{lineno}: last line is incomplete (cut short while "
                        "writing); skipped",
                        TruncatedLineWarning,
                        stacklevel=2,
                    )
                    return
                raise lr.fail("not valid JSON") from None
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
        return list(self.items())


def read_recording(path: str | os.PathLike[str]) -> tuple[Header, list[Item]]:
    """Read and validate a whole recording."""
    rec = Recording(path)
    return rec.header, rec.read_all()


def write_recording(path: str | os.PathLike[str], header: Header, items: list[Item]) -> None:
    """Write a whole recording at once (imports, conversions)."""
    with RecordingWriter(path, header) as w:
        for item in items:
            w.write(item)
