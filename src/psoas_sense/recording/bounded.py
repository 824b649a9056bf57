"""Reading input files within bounds: regular files only, gzip read incrementally with a cap,
lines of bounded length, a bounded amount of blank lines, JSON of bounded depth and number size.

Every input (recordings, CSV, phone-app exports) is read through :class:`InputStream`, so a FIFO
never blocks, a device is never read until memory runs out, a gzip bomb stops at
:data:`MAX_INPUT_BYTES`, and every refusal is one :class:`~psoas_sense.errors.InputError` line
naming the file (and the line, where one applies).
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from psoas_sense.errors import InputError

MAX_INPUT_BYTES = 2 << 30
"""Bytes read from one input after decompression (2 GiB; a 10^7-row CSV is about 0.3 GiB)."""
MAX_LINE_BYTES = 1 << 20
"""A longer line (the header included) is refused: 1 MiB is 50x the longest line we write."""
MAX_BLANK_BYTES = 1 << 20
"""Bytes of blank (whitespace-only) lines tolerated in one input."""
MAX_JSON_DEPTH = 32
"""Deepest nesting of JSON arrays and objects in a line (a recording needs 4)."""
MAX_NUMBER_CHARS = 40
"""Longest text of one JSON number (a float64 needs 24 characters)."""
MAX_ABS_VALUE = 1e12
"""Largest magnitude of a time or sample value; beyond it squares and sums overflow float64."""
READ_BLOCK_BYTES = 1 << 22
"""Bytes read (or decompressed) at a time."""

_GZIP_MAGIC = b"\x1f\x8b"
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_NOCTTY = getattr(os, "O_NOCTTY", 0)
_BINARY = getattr(os, "O_BINARY", 0)
# a long run of number characters, or an exponent of 3 digits: then numbers are checked one by one
_SUSPECT_NUMBER = re.compile(rb"[0-9.eE+\-]{%d,}|[eE][+\-]?0*[1-9][0-9]{2,}" % (MAX_NUMBER_CHARS + 1))
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'[]{}"')))


def open_regular(path: Path) -> int:
    """A read-only descriptor of ``path``, which must be a regular file.

    The file is opened non-blocking, so a FIFO without a writer never blocks; a FIFO, device,
    socket or directory is refused before a byte is read.

    Raises:
        InputError: missing, unreadable, or not a regular file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _NOCTTY | _BINARY)
    except FileNotFoundError:
        raise InputError(path, "no such file") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, not a recording") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise InputError(path, "is a directory, not a recording")
        if not stat.S_ISREG(mode):
            what = "a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else (
                "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
            raise InputError(path, f"is {what}, not a regular file; give a recording or CSV file")
        if _NONBLOCK:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


class InputStream:
    """The bytes of one input file, gunzipped when it is gzip, in blocks, within bounds.

    Args:
        path: the file (a regular file, plain or gzip).
        max_bytes: the cap on bytes read after decompression (default :data:`MAX_INPUT_BYTES`,
            read when the stream is made, so tests can lower the constant).
    """

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int | None = None) -> None:
        self.path = Path(path)
        self.max_bytes = MAX_INPUT_BYTES if max_bytes is None else max_bytes
        self.cut = False
        """True once a gzip stream was found to end early (a crash while writing)."""
        self.total = 0
        """Bytes produced so far (after decompression)."""

    def blocks(self) -> Iterator[bytes]:
        """The file's bytes, decompressed, in blocks of at most :data:`READ_BLOCK_BYTES`."""
        fd = open_regular(self.path)
        with os.fdopen(fd, "rb", buffering=0) as f:
            first = f.read(READ_BLOCK_BYTES)
            raw = _read_chunks(f, first)
            source = _gunzip(self.path, raw, self) if first[:2] == _GZIP_MAGIC else raw
            for block in source:
                self.total += len(block)
                if self.total > self.max_bytes:
                    raise InputError(self.path, f"larger than {self.max_bytes} bytes (after decompression); refused")
                yield block

    def head(self, n_bytes: int) -> bytes:
        """The first ``n_bytes`` (decompressed) bytes, for telling the format apart."""
        out = bytearray()
        for block in InputStream(self.path, max_bytes=self.max_bytes).blocks():
            out += block
            if len(out) >= n_bytes:
                break
        return bytes(out[:n_bytes])


def _read_chunks(f: Any, first: bytes) -> Iterator[bytes]:
    if first:
        yield first
    while chunk := f.read(READ_BLOCK_BYTES):
        yield chunk


def _gunzip(path: Path, raw: Iterator[bytes], stream: InputStream) -> Iterator[bytes]:
    """Decompress gzip members, never more than :data:`READ_BLOCK_BYTES` of output at a time."""
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    produced = fed = False
    for chunk in raw:
        data = chunk
        while data:
            fed = True
            try:
                out = d.decompress(data, READ_BLOCK_BYTES)
            except zlib.error:
                if not produced:
                    raise InputError(path, "not a valid gzip file") from None
                stream.cut = True  # garbage after the data: like a stream cut short
                return
            if out:
                produced = True
                yield out
            if d.eof:
                data = d.unused_data
                if not data.strip(b"\x00"):
                    data = b""  # zero padding after the last member is allowed
                d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                fed = False
                continue
            data = d.unconsumed_tail
            if not data and len(out) == READ_BLOCK_BYTES:
                data = b""
                while True:  # output still held by the decompressor
                    more = d.decompress(b"", READ_BLOCK_BYTES)
                    if more:
                        yield more
                    if len(more) < READ_BLOCK_BYTES or d.eof:
                        break
                data = d.unconsumed_tail
    if fed and not d.eof:
        if not produced:
            raise InputError(path, "not a valid gzip file")
        stream.cut = True


class LineBlocks:
    """Blocks of whole lines from an :class:`InputStream`, every line length checked.

    Args:
        stream: where the bytes come from.
        max_line_bytes: the longest line allowed (tests lower it).
    """

    def __init__(self, stream: InputStream, *, max_line_bytes: int | None = None) -> None:
        self.stream = stream
        self.max_line_bytes = MAX_LINE_BYTES if max_line_bytes is None else max_line_bytes

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        """``(number of the block's first line, block)``: each block ends with a newline, except
        perhaps the last block of the file."""
        carry = b""
        lineno = 1
        limit = self.max_line_bytes
        for block in self.stream.blocks():
            cut = block.rfind(b"\n")
            if cut < 0:
                carry += block
                if len(carry) > limit:
                    raise InputError(self.stream.path, f"line longer than {limit} bytes", lineno)
                continue
            whole = carry + block[: cut + 1]
            carry = block[cut + 1 :]
            _check_line_lengths(self.stream.path, whole, lineno, limit)
            if len(carry) > limit:
                raise InputError(self.stream.path, f"line longer than {limit} bytes", lineno + whole.count(b"\n"))
            yield lineno, whole
            lineno += whole.count(b"\n")
        if carry:
            yield lineno, carry


def _check_line_lengths(path: Path, whole: bytes, lineno: int, limit: int) -> None:
    if len(whole) <= limit:
        return
    ends = np.flatnonzero(np.frombuffer(whole, np.uint8) == 10)
    lengths = np.diff(ends, prepend=-1) - 1
    long = np.flatnonzero(lengths > limit)
    if long.size:
        raise InputError(path, f"line longer than {limit} bytes", lineno + int(long[0]))


class BlankBudget:
    """Counts the bytes of blank lines in one input against :data:`MAX_BLANK_BYTES`."""

    def __init__(self, path: Path, limit: int | None = None) -> None:
        self.path = path
        self.limit = MAX_BLANK_BYTES if limit is None else limit
        self.used = 0

    def spend(self, n_bytes: int, lineno: int) -> None:
        """Count ``n_bytes`` of blank lines (ending at ``lineno``); too many is an error."""
        self.used += n_bytes
        if self.used > self.limit:
            raise InputError(self.path, f"more than {self.limit} bytes of blank lines; refused", lineno)


def json_depth(raw: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in one JSON text, brackets in strings ignored (the
    bracket count instead, an upper bound, when that is already within :data:`MAX_JSON_DEPTH`)."""
    count = raw.count(b"[") + raw.count(b"{")
    if count <= MAX_JSON_DEPTH:
        return count
    # JSON escapes are two characters: blank out escaped backslashes, then escaped quotes, so
    # that strings are exactly the spans between pairs of the remaining quotes
    plain = raw.replace(b"\\\\", b"__").replace(b'\\"', b"__") if b"\\" in raw else raw
    arr = np.frombuffer(plain.translate(None, _NOT_STRUCTURE), np.uint8)  # only brackets and quotes left
    outside = (np.cumsum(arr == 34) & 1) == 0
    step = ((arr == 91) | (arr == 123)).astype(np.int32) - ((arr == 93) | (arr == 125))
    return int(np.max(np.cumsum(step * outside), initial=0))


class _NumberError(ValueError):
    """A number in the JSON text beyond the limits."""


def _reject_constant(name: str) -> Any:
    raise _NumberError(f"{name} is not allowed: only finite numbers")


def _checked_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _NumberError(f"number too long ({len(text)} characters; at most {MAX_NUMBER_CHARS})")
    x = float(text)
    if not math.isfinite(x):
        raise _NumberError(f"number out of range: {text[:MAX_NUMBER_CHARS]}")
    return x


def _checked_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _NumberError(f"number too long ({len(text)} characters; at most {MAX_NUMBER_CHARS})")
    return int(text)


def loads_bounded(raw: bytes, fail: Callable[[str], InputError], what: str = "not valid JSON") -> Any:
    """One JSON line parsed within the limits on depth and number size.

    Args:
        raw: the line's bytes (UTF-8).
        fail: makes the error (naming file and line) from a reason.
        what: the reason given when the text is not JSON.

    Raises:
        InputError: too deep, a number too long or not finite, or not JSON.
    """
    depth = json_depth(raw)
    if depth > MAX_JSON_DEPTH:
        raise fail(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    exact = _SUSPECT_NUMBER.search(raw) is not None
    try:
        if exact:
            return json.loads(raw, parse_float=_checked_float, parse_int=_checked_int, parse_constant=_reject_constant)
        return json.loads(raw, parse_constant=_reject_constant)
    except _NumberError as exc:
        raise fail(str(exc)) from None
    except RecursionError:  # pragma: no cover - the depth check comes first
        raise fail(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (UnicodeDecodeError, ValueError):
        raise fail(what) from None
