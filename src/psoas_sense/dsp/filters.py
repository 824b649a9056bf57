"""Causal streaming filters with carried state, and a causal resampler onto a fixed time grid.

Everything here is chunk-invariant: feeding the same samples in any chunking gives the same
output, because all state (filter delay lines, the last raw sample, the next grid index) is
carried between calls and no decision depends on where a chunk starts or ends.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal as sps

MAX_GAP_S = 2.0
"""A gap between raw samples longer than this is a signal loss: the grid skips it."""


def design_lowpass(cutoff_hz: float, fs_hz: float, order: int = 4) -> np.ndarray:
    """Butterworth low-pass as second-order sections (cut-off clamped below Nyquist)."""
    wn = min(cutoff_hz / (fs_hz / 2.0), 0.95)
    return sps.butter(order, wn, btype="lowpass", output="sos")


def design_bandpass(low_hz: float, high_hz: float, fs_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth band-pass as second-order sections."""
    nyq = fs_hz / 2.0
    return sps.butter(order, [low_hz / nyq, min(high_hz / nyq, 0.95)], btype="bandpass", output="sos")


def design_highpass(cutoff_hz: float, fs_hz: float, order: int = 2) -> np.ndarray:
    """Butterworth high-pass as second-order sections."""
    return sps.butter(order, cutoff_hz / (fs_hz / 2.0), btype="highpass", output="sos")


class StreamingSOS:
    """``sosfilt`` with its state carried between chunks, for ``channels`` parallel columns.

    The state starts at the steady state for the first sample (``sosfilt_zi * x[0]``), so a
    signal with a large offset (gravity, a belt's baseline) does not ring at the start.
    """

    def __init__(self, sos: np.ndarray, channels: int = 1) -> None:
        self.sos = np.asarray(sos, dtype=np.float64)
        self.channels = channels
        self._zi_unit = sps.sosfilt_zi(self.sos)  # (n_sections, 2)
        self._zi: np.ndarray | None = None
        self._ba: tuple[np.ndarray, np.ndarray] | None = None
        if self.sos.shape[0] <= 2:
            b, a = sps.sos2tf(self.sos)
            self._ba = (b, a)
            self._zi_unit_ba = sps.lfilter_zi(b, a)

    def reset(self) -> None:
        """Forget the state: the next chunk starts as if it were the first (steady state at its first sample)."""
        self._zi = None

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter a chunk: ``x`` has shape (n,) for one channel or (n, channels)."""
        x = np.asarray(x, dtype=np.float64)
        one_d = x.ndim == 1
        x2 = x.reshape(-1, 1) if one_d else x
        if x2.shape[0] == 0:
            return x.copy()
        if self._ba is not None:
            # up to 4th order: lfilter has far less per-call overhead than sosfilt, which
            # matters for many small chunks (numerically fine at these orders and cut-offs)
            b, a = self._ba
            if self._zi is None:
                self._zi = self._zi_unit_ba[:, None] * x2[0][None, :]
            y, self._zi = sps.lfilter(b, a, x2, axis=0, zi=self._zi)
        else:
            if self._zi is None:
                # zi shape for axis=0 filtering of (n, c): (n_sections, 2, c)
                self._zi = self._zi_unit[:, :, None] * x2[0][None, None, :]
            y, self._zi = sps.sosfilt(self.sos, x2, axis=0, zi=self._zi)
        out: np.ndarray = y.ravel() if one_d else y
        return out


class GridResampler:
    """Causal linear resampling of irregular samples onto the grid ``k / fs_out_hz``.

    A grid point ``g`` is produced as soon as a raw sample at or after ``g`` arrives; its
    ``available_s`` is that raw sample's time, i.e. the newest sample seen when ``g`` became
    known. Samples with the same time as the previous one are dropped (phone apps repeat
    stamps). A gap longer than ``max_gap_s`` is skipped, not bridged, and reported.
    """

    def __init__(self, fs_out_hz: float, channels: int = 1, max_gap_s: float = MAX_GAP_S) -> None:
        self.fs_out_hz = fs_out_hz
        self.channels = channels
        self.max_gap_s = max_gap_s
        self._t_prev: float | None = None
        self._y_prev: np.ndarray | None = None
        self._k_next: int | None = None
        self._pending_gaps = 0  # gaps skipped whose first grid sample is not out yet
        self.gaps: list[tuple[float, float]] = []
        """Gaps skipped so far, ``(start_s, end_s)``."""

    def process(
        self, t: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
        """Resample a chunk.

        Returns ``(grid_t, grid_y, available_s, gap_starts)``: ``grid_y`` has shape (m,) or
        (m, channels) like ``y``; ``gap_starts`` are indexes into the output before which a gap
        was skipped (the caller resets what must not bridge a gap), one entry per gap, in the
        order of :attr:`gaps`. Every index is that of an output sample: a gap whose first grid
        sample is not known yet (the chunk ends right after it) is reported with the call that
        produces that sample, so the indexes do not depend on the chunking.
        """
        t = np.asarray(t, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        one_d = y.ndim == 1
        y2 = y.reshape(-1, 1) if one_d else y
        out_t: list[np.ndarray] = []
        out_y: list[np.ndarray] = []
        out_a: list[np.ndarray] = []
        gap_starts: list[int] = [0] * self._pending_gaps
        self._pending_gaps = 0
        n_out = 0
        fs = self.fs_out_hz
        # Split the chunk at gaps (including a gap from the previous chunk's last sample).
        start = 0
        n = t.shape[0]
        while start < n:
            if self._t_prev is None:
                self._t_prev = float(t[start])
                self._y_prev = y2[start].copy()
                self._k_next = math.ceil(self._t_prev * fs - 1e-9)
                start += 1
                continue
            # find the end of the gap-free run
            seg_t = t[start:]
            prev_chain = np.concatenate(([self._t_prev], seg_t))
            d = np.diff(prev_chain)
            big = np.nonzero(d > self.max_gap_s)[0]
            stop = start + (int(big[0]) if big.size else seg_t.shape[0])
            if stop > start:
                assert self._y_prev is not None  # set together with _t_prev
                tt = np.concatenate(([self._t_prev], t[start:stop]))
                yy = np.concatenate((self._y_prev[None, :], y2[start:stop]), axis=0)
                keep = np.concatenate(([True], np.diff(tt) > 0))
                tt, yy = tt[keep], yy[keep]
                if tt.shape[0] >= 2:
                    assert self._k_next is not None
                    k_last = math.floor(tt[-1] * fs + 1e-9)
                    if k_last >= self._k_next:
                        ks = np.arange(self._k_next, k_last + 1)
                        g = ks / fs
                        g = np.maximum(g, tt[0])
                        cols = [np.interp(g, tt, yy[:, c]) for c in range(yy.shape[1])]
                        gy = np.stack(cols, axis=1)
                        # the same tolerance as k_last: a grid point is known once a raw
                        # sample at (or within rounding of) it has arrived
                        idx = np.searchsorted(tt * fs + 1e-9, ks, side="left")
                        idx = np.minimum(idx, tt.shape[0] - 1)
                        out_t.append(ks / fs)
                        out_y.append(gy)
                        out_a.append(tt[idx])
                        n_out += ks.shape[0]
                        self._k_next = k_last + 1
                self._t_prev = float(tt[-1])
                self._y_prev = yy[-1].copy()
                start = stop
            if start < n and big.size:
                # a gap before t[start]: skip the grid to the first point at or after it
                gap_end = float(t[start])
                self.gaps.append((float(self._t_prev), gap_end))
                gap_starts.append(n_out)
                self._t_prev = gap_end
                self._y_prev = y2[start].copy()
                self._k_next = math.ceil(gap_end * fs - 1e-9)
                start += 1
        # gaps with no output sample after them yet wait for the next call (chunk invariance)
        self._pending_gaps = sum(1 for g in gap_starts if g >= n_out)
        if self._pending_gaps:
            gap_starts = [g for g in gap_starts if g < n_out]
        if out_t:
            gt = np.concatenate(out_t)
            gy = np.concatenate(out_y, axis=0)
            ga = np.concatenate(out_a)
        else:
            gt = np.zeros(0)
            gy = np.zeros((0, y2.shape[1]))
            ga = np.zeros(0)
        return gt, (gy.ravel() if one_d else gy), ga, gap_starts
