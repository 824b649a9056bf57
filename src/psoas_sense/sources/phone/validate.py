"""Checks every phone packet passes before its samples reach the pipeline, and the refusal count.

Whatever a client sends (an HTTP body, a UDP datagram, a phyphox answer) is either turned into
finite, in-range samples or refused with a :class:`Refused` carrying the reason and the HTTP status
to answer. Nothing here raises anything else on hostile input. :class:`RefusalLog` counts the
refusals and turns them into at most one status line every :data:`REPORT_EVERY_S` seconds.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from typing import Any

import numpy as np

G_MS2 = 9.80665
"""Standard gravity, m/s²."""
MAX_ACC_MS2 = 16.0 * G_MS2
"""Largest plausible acceleration magnitude (16 g: the top range of phone IMUs), m/s²."""
MAX_BODY_BYTES = 1024 * 1024
"""Largest HTTP body accepted (a Sensor Logger batch of a few seconds is a few tens of KiB)."""
MAX_JSON_DEPTH = 20
"""Deepest bracket nesting accepted in a JSON body (Sensor Logger needs 4, phyphox 3)."""
MIN_EPOCH_S = 946_684_800.0
"""Earliest plausible phone wall-clock time: 2000-01-01 UTC, Unix seconds."""
MAX_EPOCH_S = 4_102_444_800.0
"""Latest plausible phone wall-clock time: 2100-01-01 UTC, Unix seconds."""
REPORT_EVERY_S = 5.0
"""At most one refusal status line per this many session seconds."""

# a JSON string, or an unterminated one up to the end: possessive, so linear on any input
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


class Refused(Exception):
    """A packet (or part of it) refused: ``reason`` counts it, ``http_status`` answers it.

    Args:
        reason: short words that name the class of fault (they key the refusal counts).
        http_status: the HTTP status to answer with (4xx, or 503 when overloaded).
    """

    def __init__(self, reason: str, http_status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status


def json_depth(body: bytes) -> int:
    """Deepest bracket nesting of a JSON text, ignoring brackets inside strings (no recursion)."""
    brackets = _STRING.sub(b'""', body).translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def _no_constant(name: str) -> Any:
    raise Refused(f"non-finite number ({name})", 422)


def load_json(body: bytes, *, max_bytes: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON body within the size and depth limits; ``NaN``/``Infinity`` literals refused.

    Raises:
        Refused: too large (413), too deep or not JSON (400), a non-finite literal (422).
    """
    if len(body) > max_bytes:
        raise Refused("body too large", 413)
    if json_depth(body) > max_depth:
        raise Refused("JSON nested too deep", 400)
    try:
        return json.loads(body, parse_constant=_no_constant)
    except Refused:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Refused("not JSON", 400) from None


def number(value: Any, what: str) -> float:
    """A finite JSON number (``int`` or ``float``, never ``bool`` or ``str``) as a float.

    Raises:
        Refused: a wrong type (422) or a value that is not a finite float (422).
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Refused(f"{what} is not a number", 422)
    try:
        out = float(value)
    except OverflowError:
        raise Refused(f"{what} out of range", 422) from None
    if not math.isfinite(out):
        raise Refused(f"{what} not finite", 422)
    return out


def check_acc_ms2(acc_ms2: np.ndarray) -> None:
    """Refuse acceleration rows (m/s², shape (n, 3)) that are non-finite or beyond 16 g.

    Raises:
        Refused: ``non-finite value`` or ``acceleration beyond 16 g`` (422).
    """
    if not np.isfinite(acc_ms2).all():
        raise Refused("non-finite value", 422)
    if not acc_rows_ok(acc_ms2).all():
        raise Refused("acceleration beyond 16 g", 422)


def acc_rows_ok(acc_ms2: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows (m/s², shape (n, 3)) that are finite and within 16 g."""
    finite = np.isfinite(acc_ms2).all(axis=1)
    # clipped first, so the norm of 1e308 cannot overflow (it is beyond 16 g either way)
    clipped = np.clip(np.where(np.isfinite(acc_ms2), acc_ms2, 0.0), -2 * MAX_ACC_MS2, 2 * MAX_ACC_MS2)
    ok: np.ndarray = finite & (np.sqrt(np.sum(clipped * clipped, axis=1)) <= MAX_ACC_MS2)
    return ok


class RefusalLog:
    """Counts refusals by reason and reports them in throttled status details.

    ``total`` keeps every count since the start; :meth:`report` returns one line for what was
    refused since the previous report, at most once every :data:`REPORT_EVERY_S` seconds.
    """

    def __init__(self, every_s: float = REPORT_EVERY_S) -> None:
        self.total: Counter[str] = Counter()
        """Refusals by reason since the source started."""
        self._new: Counter[str] = Counter()
        self._every_s = every_s
        self._last_report_s = -math.inf

    def note(self, reason: str, n: int = 1) -> None:
        """Count ``n`` refusals of ``reason``."""
        self.total[reason] += n
        self._new[reason] += n

    def report(self, now_s: float, kept_samples: int, *, force: bool = False) -> str | None:
        """The status detail for refusals not yet reported, if one is due at ``now_s`` (or ``force``)."""
        if not self._new or (now_s - self._last_report_s < self._every_s and not force):
            return None
        self._last_report_s = now_s
        parts = ", ".join(f"{n} {reason}" for reason, n in self._new.most_common())
        self._new.clear()
        return f"refused {parts} ({sum(self.total.values())} refused, {kept_samples} samples kept in all)"
