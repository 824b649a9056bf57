"""Phone time to session time: one anchor, a reorder window, and re-anchoring on a clock jump.

A phone stamps its samples on its own clock (epoch nanoseconds, experiment seconds, boot
seconds). :class:`PhoneTimeline` maps them onto session seconds with one offset, set at the first
batch so the phone's own spacing is kept. Batches may arrive out of order (concurrent HTTP
pushes, UDP): samples wait in a reorder buffer for :attr:`reorder_s` and leave it in time order.
A batch that lands where samples have already left is too late and refused; a batch far off the
anchor is either a stray (refused, and what follows is unharmed) or a clock jump, confirmed by the
next batch agreeing with it, after which the mapping is re-anchored. Every sample accepted here is
eventually handed out: acceptance is the promise an HTTP 200 makes.
"""

from __future__ import annotations

import math

import numpy as np

from psoas_sense.model import AccFrame
from psoas_sense.sources.phone.validate import Refused

CLOCK_JUMP_S = 3.0
"""A batch whose newest sample maps more than this far from now is off the anchor."""
MAX_PENDING_SAMPLES = 50_000
"""Most samples waiting in the reorder buffer; beyond, batches are refused as overloaded (503)."""
MIN_STEP_S = 1e-4
"""Gap kept between the last sample handed out and the first one after a re-anchor."""


class PhoneTimeline:
    """Maps phone seconds to session seconds and hands samples out in order.

    Args:
        reorder_s: how long samples wait for stragglers before they are handed out.
        jump_s: how far off the anchor a batch must map to count as a clock jump.
        max_pending: most samples waiting at once (then :class:`Refused` with 503).
    """

    def __init__(
        self,
        *,
        reorder_s: float = 0.0,
        jump_s: float = CLOCK_JUMP_S,
        max_pending: int = MAX_PENDING_SAMPLES,
    ) -> None:
        self.reorder_s = reorder_s
        """Seconds a sample waits for out-of-order neighbours."""
        self.offset: float | None = None
        """Session seconds minus phone seconds, once anchored."""
        self.kept = 0
        """Samples accepted (each is handed out once, duplicates of a time excepted)."""
        self.duplicates = 0
        """Samples dropped at hand-out because one with the same time was handed out."""
        self._jump_s = jump_s
        self._max_pending = max_pending
        self._t: list[np.ndarray] = []
        self._acc: list[np.ndarray] = []
        self._pending = 0
        self._newest_mapped_s = -math.inf
        self._newest_phone_s = -math.inf
        self._emitted_until_s = -math.inf
        self._last_add_s = -math.inf
        self._candidate_offset: float | None = None
        self._reanchor = False

    @property
    def pending(self) -> int:
        """Samples waiting in the reorder buffer."""
        return self._pending

    def reanchor(self) -> None:
        """Re-anchor at the next batch whatever its times (the phone said its clock restarted)."""
        self._reanchor = True

    def add(self, phone_t_s: np.ndarray, acc_mg: np.ndarray, now_s: float) -> str | None:
        """Accept one batch (phone seconds, mG rows) arriving at session time ``now_s``.

        Returns:
            A note for a status line when the mapping was re-anchored, else None.

        Raises:
            Refused: the reorder buffer is full (503), the batch is too late, or it is off
                the anchor and not (yet) confirmed as a clock jump (422). Nothing is kept then.
        """
        n = int(phone_t_s.size)
        if n == 0:
            return None
        if not np.isfinite(phone_t_s).all():
            raise Refused("non-finite time", 422)
        if self._pending + n > self._max_pending:
            raise Refused("overloaded: too many samples waiting", 503)
        order = np.argsort(phone_t_s, kind="stable")
        phone_t_s, acc_mg = phone_t_s[order], acc_mg[order]
        pmin, pmax = float(phone_t_s[0]), float(phone_t_s[-1])
        note = None
        if self.offset is None:
            # the newest sample arrived just now; never map a sample before the session start
            self.offset = max(now_s - pmax, -pmin)
        else:
            note = self._check_anchor(pmin, pmax, now_s)
        mapped = phone_t_s + self.offset
        if float(mapped[0]) <= self._emitted_until_s:
            raise Refused("too late: older than samples already passed on", 422)
        self._t.append(mapped)
        self._acc.append(acc_mg)
        self._pending += n
        self.kept += n
        self._newest_mapped_s = max(self._newest_mapped_s, float(mapped[-1]))
        self._newest_phone_s = max(self._newest_phone_s, pmax)
        self._last_add_s = now_s
        return note

    def _check_anchor(self, pmin: float, pmax: float, now_s: float) -> str | None:
        assert self.offset is not None
        off_s = pmax + self.offset - now_s
        if self._reanchor:
            return self._move_anchor(pmin, pmax, now_s, "phone clock restarted")
        if abs(off_s) <= self._jump_s:
            self._candidate_offset = None
            return None
        gap_s = pmin - self._newest_phone_s
        if off_s < 0 and gap_s > 0:
            # newer samples after a silence (a pause on the phone): they continue, now
            return self._move_anchor(pmin, pmax, now_s, f"phone resumed after {-off_s:.1f} s")
        if off_s > 0 and abs(gap_s) <= self._jump_s:
            # continuing where the last batch ended, only faster than real time (a backlog)
            return None
        candidate = now_s - pmax
        if self._candidate_offset is not None and abs(candidate - self._candidate_offset) <= self._jump_s:
            return self._move_anchor(pmin, pmax, now_s, f"phone clock jumped {-off_s:+.1f} s")
        self._candidate_offset = candidate
        raise Refused("timestamps far from the phone's clock (a stray batch, or a jump not yet confirmed)", 422)

    def _move_anchor(self, pmin: float, pmax: float, now_s: float, why: str) -> str:
        floor = max(self._emitted_until_s, self._newest_mapped_s)
        self.offset = max(now_s - pmax, floor + MIN_STEP_S - pmin)
        self._candidate_offset = None
        self._reanchor = False
        return f"{why}: time re-anchored"

    def take(self, now_s: float, *, everything: bool = False) -> AccFrame | None:
        """Hand out, in time order, the samples whose reorder wait is over at ``now_s``.

        Args:
            now_s: session seconds now.
            everything: hand out all waiting samples (the source is closing).
        """
        if not self._pending:
            return None
        t = np.concatenate(self._t)
        acc = np.concatenate(self._acc)
        order = np.argsort(t, kind="stable")
        t, acc = t[order], acc[order]
        if everything or now_s - self._last_add_s >= self.reorder_s:
            cut = t.size
        else:
            cut = int(np.searchsorted(t, self._newest_mapped_s - self.reorder_s, side="right"))
        self._t, self._acc = ([t[cut:]], [acc[cut:]]) if cut < t.size else ([], [])
        self._pending = t.size - cut
        if cut == 0:
            return None
        out_t, out_acc = t[:cut], acc[:cut]
        fresh = np.diff(out_t, prepend=self._emitted_until_s) > 0
        self.duplicates += int(out_t.size - np.count_nonzero(fresh))
        out_t, out_acc = out_t[fresh], out_acc[fresh]
        if out_t.size == 0:
            return None
        self._emitted_until_s = float(out_t[-1])
        return AccFrame(t_s=out_t, acc_mg=out_acc)
