"""Writing recordings: items to JSON lines, and the append-only, crash-tolerant writer.

The writer is append-only and flushes every line; it fsyncs at least once a second and on close.
It creates the file with mode 0600 and refuses to overwrite an existing file.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import math
import os
import time
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

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
from psoas_sense.recording.header import Header
from psoas_sense.safefile import create_private_fd

FSYNC_INTERVAL_S = 1.0
"""The writer fsyncs at least this often while lines are being written."""
UNIFORM_TOLERANCE_S = 1e-9
"""Sample times within this of a uniform grid are written as ``t0`` + ``dt``."""


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


class _WholeWrites:
    """An unbuffered file whose ``write`` writes every byte or raises (a raw file may write part
    of a buffer silently when the disk fills: the rest would be lost without a word)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        done = 0
        while done < len(view):
            done += os.write(self.fd, view[done:])
        return done

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return self.fd

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)


def dumps_line(obj: Mapping[str, Any]) -> str:
    """One JSON line, compact, deterministic key order as given, ending in a newline."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n"



class RecordingWriter:
    """Append-only writer of a v1 recording.

    Creates ``path`` with mode 0600 through :mod:`psoas_sense.safefile` (refuses a symlink, and
    an existing file unless ``force``), writes the header,
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
        force: bool = False,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        # owner-only, never through a symlink, never over an existing file (unless --force)
        fd = create_private_fd(self.path, force=force, append=True)
        self._raw = _WholeWrites(fd)
        self._ino = os.fstat(fd)[1:3]
        self._gz: gzip.GzipFile | None = None
        if self.path.name.endswith(".gz"):
            self._gz = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0)
        self._last_sync = self._clock()
        self._last_t = 0.0
        self.lines_written = 0
        self.dirty = False
        """True while something written is not yet forced to stable storage."""
        self._closed = False
        try:
            self._write_line(dumps_line(header.to_json()))
        except OSError:
            self.abandon()
            raise

    def _write_line(self, line: str) -> None:
        data = line.encode("utf-8")
        if self._gz is not None:
            self._gz.write(data)
            self._gz.flush(zlib.Z_SYNC_FLUSH)
        else:
            self._raw.write(data)
        self.lines_written += 1
        self.dirty = True
        now = self._clock()
        if now - self._last_sync >= FSYNC_INTERVAL_S:
            self.sync()

    def sync(self) -> None:
        """Force what was written to stable storage."""
        os.fsync(self._raw.fileno())
        self.dirty = False
        self._last_sync = self._clock()

    def sync_if_dirty(self) -> bool:
        """Force unsynced lines to stable storage (a timer calls this); True when it synced."""
        if self._closed or not self.dirty:
            return False
        self.sync()
        return True

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
        """Finish the file (gzip trailer) and force it to stable storage; closing twice is harmless.

        Raises:
            OSError: the trailer could not be written (the file is released all the same).
        """
        if self._closed:
            return
        self._closed = True
        try:
            if self._gz is not None:
                self._gz.close()  # writes the gzip trailer; does not close _raw
            self.sync()
        finally:
            self._raw.close()

    def abandon(self) -> None:
        """Release the file without finishing it (it cannot be written any more): what is on
        disk stays readable up to its last whole line."""
        self._closed = True
        if self._gz is not None:
            self._gz.fileobj = None  # type: ignore[assignment] # nothing more goes to the file
            with contextlib.suppress(Exception):
                self._gz.close()
        with contextlib.suppress(OSError):
            self._raw.close()

    def still_there(self) -> bool:
        """Whether the path still names this file (not removed, with its folder, nor replaced)."""
        try:
            return os.stat(self.path)[1:3] == self._ino
        except OSError:
            return False

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



def write_recording(
    path: str | os.PathLike[str], header: Header, items: list[Item], *, force: bool = False
) -> None:
    """Write a whole recording at once (imports, conversions); ``force`` replaces a file."""
    with RecordingWriter(path, header, force=force) as w:
        for item in items:
            w.write(item)
