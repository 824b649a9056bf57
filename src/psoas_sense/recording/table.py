"""Delimited text tables (CSV, Polar ``;`` exports) read in blocks, never whole.

:class:`TableReader` finds the header row, then gives the numeric columns asked for as NumPy
arrays one block of lines at a time (NumPy's C reader on the usual path; a line-by-line reader
names the first bad line when a block does not parse). Memory stays bounded by the block size,
whatever the length of the file.
"""

from __future__ import annotations

import io
import itertools
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from psoas_sense.errors import InputError
from psoas_sense.recording.bounded import (
    MAX_ABS_VALUE,
    MAX_NUMBER_CHARS,
    BlankBudget,
    InputStream,
    LineBlocks,
)

ISO_TIME = "iso"
"""Marks a column of ISO 8601 local times (Polar Sensor Logger ``Phone timestamp``): read as
seconds since the Unix epoch, as if the local time were UTC (only differences are used)."""
NANOSECONDS = "ns"
"""Marks a column of nanoseconds (Polar ``sensor timestamp [ns]``): read as seconds."""


class TableReader:
    """One delimited table: its header row, then its rows in blocks.

    Args:
        path: the file (plain or gzip).
        max_bytes, max_line_bytes, max_blank_bytes: the bounds (see :mod:`.bounded`).
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
        self._stream = InputStream(self.path, max_bytes=max_bytes)
        self._blocks = iter(LineBlocks(self._stream, max_line_bytes=max_line_bytes))
        self._blanks = BlankBudget(self.path, max_blank_bytes)
        self._rest: tuple[int, bytes] | None = None
        self.header_lineno, header_line = self._find_header()
        self.sep = ";" if header_line.count(";") > header_line.count(",") else ","
        if "\t" in header_line and self.sep == "," and "," not in header_line:
            self.sep = "\t"
        names = [c.strip().strip('"').strip() for c in header_line.split(self.sep)]
        if names and names[-1] == "":
            names = names[:-1]
        self.names = names
        """The column names, as written."""

    def _find_header(self) -> tuple[int, str]:
        """The first line that is neither blank nor a ``#`` comment, decoded."""
        for first, block in self._blocks:
            pos = 0
            lineno = first
            while pos < len(block):
                nl = block.find(b"\n", pos)
                end = nl if nl >= 0 else len(block)
                raw = block[pos:end]
                if raw.strip() and not raw.lstrip().startswith(b"#"):
                    text = _decode(self.path, raw.removeprefix(b"\xef\xbb\xbf"), lineno)
                    self._rest = (lineno + 1, block[end + 1 :])
                    return lineno, text.rstrip("\r")
                self._blanks.spend(len(raw) + 1, lineno)
                pos = end + 1
                lineno += 1
        raise InputError(self.path, "empty file")

    def blocks(self, use: Sequence[int], kinds: Sequence[str] = ()) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(line numbers, values)`` for the rows of each block: ``values`` has one column per
        index in ``use`` (finite floats within ±:data:`~.bounded.MAX_ABS_VALUE`).

        Args:
            use: the column indices to read.
            kinds: per column in ``use``, ``""`` (a number), :data:`NANOSECONDS` or :data:`ISO_TIME`.
        """
        kinds = list(kinds) or [""] * len(use)
        rows_seen = False
        pending = [self._rest] if self._rest is not None and self._rest[1] else []
        for first, block in itertools.chain(pending, self._blocks):  # one block at a time
            out = self._parse(first, block, use, kinds)
            if out[0].size:
                rows_seen = True
                yield out
        if not rows_seen:
            raise InputError(self.path, "no data rows after the header", self.header_lineno)

    def _parse(
        self, first: int, block: bytes, use: Sequence[int], kinds: Sequence[str]
    ) -> tuple[np.ndarray, np.ndarray]:
        text = _decode(self.path, block, first)
        ncols = len(self.names)
        if ISO_TIME not in kinds:
            fast = _fast_rows(text, self.sep, ncols, use)
            if fast is not None:
                for k, kind in enumerate(kinds):
                    if kind == NANOSECONDS:
                        fast[:, k] *= 1e-9
                if not fast.size or float(np.max(np.abs(fast))) <= MAX_ABS_VALUE:
                    return np.arange(first, first + fast.shape[0]), fast
        lines: list[str] = []
        line_of: list[int] = []
        last = first + text.count("\n")  # a block ending in a newline splits into one more ""
        for j, s in enumerate(text.split("\n"), start=first):
            if not s.strip():
                if j < last or s:
                    self._blanks.spend(len(s) + 1, j)
                continue
            s = s.rstrip("\r")
            if self.sep == ";" and s.rstrip().endswith(";") and len(s.split(";")) == ncols + 1:
                s = s.rstrip()[:-1]
            lines.append(s)
            line_of.append(j)
        values = np.empty((len(lines), len(use)))
        for i, s in enumerate(lines):
            cells = s.split(self.sep)
            if len(cells) != ncols:
                raise InputError(self.path, f"expected {ncols} values, found {len(cells)}", line_of[i])
            for k, j in enumerate(use):
                values[i, k] = self._cell(cells[j].strip().strip('"'), j, kinds[k], line_of[i])
        return np.asarray(line_of, dtype=np.int64), values

    def _cell(self, s: str, col: int, kind: str, lineno: int) -> float:
        name = self.names[col]
        if kind == ISO_TIME:
            try:
                ns = np.datetime64(s, "ns").astype(np.int64)
            except ValueError:
                raise InputError(self.path, f"column '{name}' is not an ISO 8601 time: {s[:40]!r}", lineno) from None
            return float(ns) * 1e-9
        if len(s) > MAX_NUMBER_CHARS:
            raise InputError(self.path, f"column '{name}': number too long ({len(s)} characters; at most "
                             f"{MAX_NUMBER_CHARS})", lineno)
        try:
            x = float(s)
        except ValueError:
            raise InputError(self.path, f"column '{name}' is not a number: {s[:40]!r}", lineno) from None
        if not np.isfinite(x):
            raise InputError(self.path, f"column '{name}' is not a finite number: {s[:40]!r}", lineno)
        if kind == NANOSECONDS:
            x *= 1e-9
        if abs(x) > MAX_ABS_VALUE:
            raise InputError(self.path, f"column '{name}' is out of range: {s[:40]!r} (beyond ±{MAX_ABS_VALUE:g})",
                             lineno)
        return x


def _decode(path: Path, raw: bytes, first_lineno: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, "not UTF-8 text", first_lineno + raw[: exc.start].count(b"\n")) from None


def _fast_rows(text: str, sep: str, ncols: int, use: Sequence[int]) -> np.ndarray | None:
    """A block parsed by NumPy's C reader, or None when anything is unusual (then the
    line-by-line reader finds and names the bad line)."""
    stripped = text.rstrip()
    if not stripped or text[: len(text) - len(text.lstrip())].count("\n"):
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
    if sub.shape[0] != stripped.count("\n") + 1 or text.count("\n") > stripped.count("\n") + 1:
        return None
    if not np.isfinite(sub).all():
        return None
    # every row must have the header's number of columns (a trailing ';' is allowed)
    first_row = stripped.split("\n", 1)[0].rstrip("\r")
    cells = first_row.rstrip(sep).count(sep) + 1 if sep == ";" else first_row.count(sep) + 1
    if cells != ncols:
        return None
    return sub
