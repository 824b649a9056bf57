"""3-axis accelerometers in any posture: the breathing axis by PCA.

Pinned axes (a Polar H10 firmware fault) are held and reported, body motion restarts the
filters from the new posture, and an exponentially weighted covariance gives the breathing
axis; its sign is decided later (:mod:`psoas_sense.dsp.polarity`).
"""

from __future__ import annotations

import math

import numpy as np

from psoas_sense.dsp.extract.base import (
    FAST_LP_HZ,
    GRID_HZ,
    HP_HZ,
    AxisShape,
    ExpWeightedMean,
    Extracted,
    RateGate,
    phase_delay_s,
)
from psoas_sense.dsp.extract.ripple import RippleGuard
from psoas_sense.dsp.filters import GridResampler, StreamingSOS, design_highpass, design_lowpass
from psoas_sense.model import SignalNotice

ACC_RIPPLE_CANCEL = "comb"
"""How the heartbeat ripple is removed from accelerometers (see ``RESP_RIPPLE_CANCEL``).
``comb``: on the DEV accelerometer recordings the notches changed nothing, and they cost about
15 % of the accelerometer path's time (speed budget)."""
STUCK_MG = 1990.0
"""An accelerometer axis at or beyond this magnitude is pinned (H10 firmware fault: -2000 mG)."""
STUCK_REPORT_S = 1.0
"""A pinned axis is reported once it has stayed pinned this long."""
MOTION_MG_PER_S = 400.0
"""Faster change than this on any axis (after the fast low-pass) may be body motion..."""
MOTION_RMS_FACTOR = 6.0
"""... when it is also this many times the recent RMS rate of change ..."""
MOTION_RMS_TC_S = 20.0
"""... taken over this time constant."""
MOTION_HOLDOFF_S = 2.0
"""Motion lasts until this long after the last sign of it; then the high-pass restarts."""
MOTION_HF_MG = 150.0
"""Body motion: RMS acceleration above the breathing band (raw minus the fast low-pass, all
axes) beyond this. On the hexoskin DEV chests (64 Hz) it is 8-55 mG (10th-90th percentile) at
rest, 70-180 mG while standing and shifting, 170-850 mG walking, on stairs and jogging; steps
are what make a walking person look like 40 breaths a minute."""
MOTION_HF_TC_S = 0.5
"""Time constant of that RMS (short, so the first steps are caught before they look like a breath)."""
POSTURE_CHECK_S = 1.5
"""The posture after motion is compared with the one before this long after the motion ends..."""
POSTURE_SHIFT_DEG = 20.0
"""... and a gravity direction turned by more than this is a posture shift: the breathing axis
and its polarity evidence are forgotten. Motion without a posture shift (fidgeting, a few
steps) keeps them, so the polarity does not have to be learnt again."""
GRAVITY_TC_S = 1.0
"""Time constant of the gravity (posture) estimate."""
PCA_TIME_CONSTANT_S = 20.0
"""Memory of the exponentially weighted covariance that finds the breathing axis."""
PCA_UPDATE_S = 0.5
"""How often the breathing axis is re-estimated."""
PCA_FORGET_ON_SHIFT = 0.05
"""Share of the covariance kept across a posture shift."""


class AccExtractor:
    """A 3-axis accelerometer, any posture: the breathing axis by PCA.

    Steps: pinned axes are held at their last good value (and reported); a 2nd-order low-pass
    at the raw rate; resampling onto the grid; a per-axis high-pass (removes gravity); body
    motion (fast change of any axis) restarts the high-pass from the new posture and makes the
    PCA forget the old one; an exponentially weighted covariance gives the principal axis every
    ``PCA_UPDATE_S``, its sign kept continuous between updates; the projection is the breathing
    signal up to a sign, which :class:`~psoas_sense.dsp.polarity.PolarityTracker` decides.

    Args:
        rate_hz: nominal raw sample rate (from the recording header); estimated when None.
    """

    fs_hz = GRID_HZ
    """Rate of the breathing signal, Hz."""

    def __init__(self, rate_hz: float | None = None) -> None:
        self._gate = RateGate(rate_hz)
        self._lp: StreamingSOS | None = None
        # 3 axes, the motion band's mean square, the magnitude of the acceleration, and 1 where an
        # axis is pinned (the magnitude means nothing then: one axis is held)
        self._rs = GridResampler(GRID_HZ, channels=6)
        self._hf: ExpWeightedMean | None = None
        self._hp_sos = design_highpass(HP_HZ, GRID_HZ, order=1)
        self._hp = StreamingSOS(self._hp_sos, channels=4)  # 3 axes + the magnitude
        self._cov = ExpWeightedMean(PCA_TIME_CONSTANT_S, GRID_HZ, channels=6)
        self._axis = np.array([0.0, 0.0, 1.0])
        self._n = 0
        self._update_every = max(1, int(round(PCA_UPDATE_S * GRID_HZ)))
        self._guard: RippleGuard | None = None
        # stuck-axis state
        self._last_good = np.full(3, np.nan)
        self._stuck_since: list[float | None] = [None, None, None]
        self._stuck_reported = [False, False, False]
        # motion state
        self._prev_grid: np.ndarray | None = None
        self._motion_until = -math.inf
        self._in_motion = False
        self._motion_ms = ExpWeightedMean(MOTION_RMS_TC_S, GRID_HZ)
        self._motion_ms_last = MOTION_MG_PER_S**2 / MOTION_RMS_FACTOR**2
        self._grav = ExpWeightedMean(GRAVITY_TC_S, GRID_HZ, channels=3)
        self._grav_now: np.ndarray | None = None
        self._grav_before: np.ndarray | None = None
        self._posture_check_at = math.inf
        self.motion_episodes = 0
        """How many motion episodes were seen."""
        self.posture_shifts = 0
        """How many of them changed the posture (gravity turned by more than ``POSTURE_SHIFT_DEG``)."""

    @property
    def axis(self) -> np.ndarray:
        """Current breathing axis (unit vector in sensor coordinates)."""
        return self._axis.copy()

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """Gaps in the input skipped so far, ``(start_s, end_s)``, oldest first."""
        return self._rs.gaps

    def _setup(self, rate: float) -> None:
        cascade = [(self._hp_sos, GRID_HZ)]
        if rate > 3 * FAST_LP_HZ:
            lp = design_lowpass(FAST_LP_HZ, rate, order=2)
            self._lp = StreamingSOS(lp, channels=3)
            cascade.append((lp, rate))
            self._hf = ExpWeightedMean(MOTION_HF_TC_S, rate)
        self._guard = RippleGuard(GRID_HZ, phase_delay_s(cascade), ACC_RIPPLE_CANCEL)

    def _unstick(self, t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, list[SignalNotice]]:
        """Hold pinned samples at the axis's last good value; report axes pinned for long."""
        notices: list[SignalNotice] = []
        bad = np.abs(v) >= STUCK_MG
        n = v.shape[0]
        if not bad.any() and not any(s is not None for s in self._stuck_since):
            self._last_good = v[-1].copy()
            return v, notices
        out = v.copy()
        for k in range(3):
            b = bad[:, k]
            if b.any():
                idx = np.maximum.accumulate(np.where(~b, np.arange(n), -1))
                carried = 0.0 if np.isnan(self._last_good[k]) else self._last_good[k]
                fill = np.where(idx >= 0, v[np.maximum(idx, 0), k], carried)
                out[:, k] = np.where(b, fill, v[:, k])
            if self._stuck_since[k] is not None and not b[0]:
                # the run carried from the previous chunk ended right at this chunk's start
                if self._stuck_reported[k]:
                    notices.append(SignalNotice("axis_recovered", float(t[0]), {"axis": "xyz"[k]}, float(t[0])))
                self._stuck_since[k] = None
                self._stuck_reported[k] = False
            # pinned runs inside the chunk (the first may continue from the previous chunk)
            edges = np.diff(np.concatenate(([0], b.astype(np.int8), [0])))
            for s_i, e_i in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]):
                if self._stuck_since[k] is None:
                    self._stuck_since[k] = float(t[s_i])
                    self._stuck_reported[k] = False
                since = self._stuck_since[k]
                assert since is not None
                if not self._stuck_reported[k]:
                    due = np.nonzero(t[s_i:e_i] >= since + STUCK_REPORT_S)[0]
                    if due.size:
                        j = s_i + int(due[0])
                        tt = float(t[j])
                        notices.append(SignalNotice(
                            "stuck_axis", tt,
                            {"axis": "xyz"[k], "at_mg": round(float(v[j, k]), 1),
                             "detail": "axis pinned at full scale; carrying on with the other axes"},
                            tt,
                        ))
                        self._stuck_reported[k] = True
                if e_i < n:
                    if self._stuck_reported[k]:
                        tt = float(t[e_i])
                        notices.append(SignalNotice("axis_recovered", tt, {"axis": "xyz"[k]}, tt))
                    self._stuck_since[k] = None
                    self._stuck_reported[k] = False
            good = np.nonzero(~b)[0]
            if good.size:
                self._last_good[k] = v[int(good[-1]), k]
        notices.sort(key=lambda e: e.t_s)
        return out, notices

    def process(self, t: np.ndarray, v: np.ndarray) -> Extracted:
        """Feed ``(n, 3)`` accelerations ``v`` (mG) at times ``t``; see
        :class:`~psoas_sense.dsp.extract.base.Extractor`."""
        got = self._gate.push(t, np.asarray(v, dtype=np.float64).reshape(-1, 3))
        if got is None:
            return Extracted.empty()
        t, v = got
        if self._guard is None:
            self._setup(self._gate.rate_hz or GRID_HZ)
        assert self._guard is not None
        if v.shape[0] == 0:
            return Extracted.empty()
        pinned = (np.abs(v) >= STUCK_MG).any(axis=1)
        v, notices = self._unstick(t, v)
        x = self._lp.process(v) if self._lp is not None else v
        hf2 = (
            self._hf.process(np.sum((v - x) ** 2, axis=1), init=0.0) if self._hf is not None else np.zeros(v.shape[0])
        )
        gt, g5, ga, gaps = self._rs.process(
            t, np.concatenate((x, hf2[:, None], np.linalg.norm(x, axis=1)[:, None], pinned[:, None]), axis=1)
        )
        gy = g5[:, :3]
        m = gt.shape[0]
        if m == 0:
            return Extracted(gt, np.zeros(0), ga, gaps, 0.0, notices)
        moving, b4, lying, resets, posture = self._motion(
            gt, np.concatenate((gy, g5[:, 4:5]), axis=1), np.sqrt(np.maximum(g5[:, 3], 0.0)), ga, notices
        )
        b = b4[:, :3]
        # exponentially weighted covariance (6 unique products), vectorised
        prods = np.stack(
            [
                b[:, 0] * b[:, 0],
                b[:, 1] * b[:, 1],
                b[:, 2] * b[:, 2],
                b[:, 0] * b[:, 1],
                b[:, 0] * b[:, 2],
                b[:, 1] * b[:, 2],
            ],
            axis=1,
        )
        # the covariance forgets the old posture exactly at each posture shift
        cov = np.empty_like(prods)
        cuts = sorted({0, *posture, m})
        for a, e in zip(cuts[:-1], cuts[1:]):
            if a in posture:
                self._cov.scale_state(PCA_FORGET_ON_SHIFT)
            if e > a:
                cov[a:e] = self._cov.process(prods[a:e], init=0.0)
        ue = self._update_every
        # grid indexes (global count) at which the axis is re-estimated
        first = (-self._n) % ue
        upd = np.arange(first, m, ue)
        # every update's principal axis at once (one batched eigh), then the sign kept continuous
        axes = np.empty((upd.shape[0] + 1, 3))
        axes[0] = self._axis
        if upd.shape[0]:
            c = cov[upd]
            mats = np.stack((c[:, [0, 3, 4]], c[:, [3, 1, 5]], c[:, [4, 5, 2]]), axis=1)
            ok = (c[:, 0] + c[:, 1] + c[:, 2]) > 0
            vecs = np.linalg.eigh(mats[ok])[1][:, :, -1] if ok.any() else np.zeros((0, 3))
            prev = self._axis
            j = 0
            for k in range(upd.shape[0]):
                if ok[k]:
                    ax = vecs[j]
                    j += 1
                    prev = -ax if float(ax[0] * prev[0] + ax[1] * prev[1] + ax[2] * prev[2]) < 0 else ax
                axes[k + 1] = prev
            self._axis = prev.copy()
        # each sample projected on the axis in force at it
        seg = np.diff(np.concatenate(([0], upd, [m])))
        out = np.einsum("ij,ij->i", b, np.repeat(axes, seg, axis=0))
        self._n += m
        y, delay, rip = self._guard.process(out)
        ex = Extracted(gt, y, ga, gaps, delay, notices, resets, rip)
        ex.moving = moving
        ex.posture_shifts = posture
        ex.shape = AxisShape(out, np.where(g5[:, 5] > 0, np.nan, b4[:, 3]), lying)
        return ex

    def _motion(
        self, gt: np.ndarray, g4: np.ndarray, hf: np.ndarray, ga: np.ndarray, notices: list[SignalNotice]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int], list[int]]:
        """Body motion on the grid: (moving mask, high-passed axes and magnitude (0 while moving),
        share of gravity on z (0 while moving), indexes where motion ended, indexes of posture
        shifts). Notices ``motion`` / ``motion_ended`` are added."""
        gy = g4[:, :3]
        m = gt.shape[0]
        # a fast change on any axis (grid-to-grid), carried across chunks, relative to the recent
        # typical rate of change (vigorous breathing on a phone moves faster than quiet breathing
        # on a strap); the EW is taken up to the previous sample
        prev = gy[0] if self._prev_grid is None else self._prev_grid
        step = np.max(np.abs(np.diff(np.concatenate((prev[None, :], gy), axis=0), axis=0)), axis=1)
        self._prev_grid = gy[-1].copy()
        rate = step * GRID_HZ
        ms = self._motion_ms.process(rate * rate, init=MOTION_MG_PER_S**2 / MOTION_RMS_FACTOR**2)
        prev_ms = np.concatenate(([self._motion_ms_last], ms[:-1]))
        self._motion_ms_last = float(ms[-1])
        sign = (rate > np.maximum(MOTION_MG_PER_S, MOTION_RMS_FACTOR * np.sqrt(prev_ms))) | (hf > MOTION_HF_MG)
        moving = np.zeros(m, bool)
        resets: list[int] = []
        posture: list[int] = []
        b = np.zeros((m, 4))
        lying = np.zeros(m)
        i = 0
        # split the chunk at motion episodes; inside one the output is 0
        while i < m:
            if sign[i] or gt[i] < self._motion_until:
                if sign[i]:
                    if not self._in_motion:
                        self.motion_episodes += 1
                        notices.append(SignalNotice("motion", float(ga[i]), {}, float(ga[i])))
                        self._grav_before = self._grav_now
                        self._posture_check_at = math.inf
                    self._in_motion = True
                    self._motion_until = float(gt[i]) + MOTION_HOLDOFF_S
                moving[i] = True
                i += 1
                continue
            if self._in_motion:
                # restart the high-pass and the posture estimate at the new posture
                self._in_motion = False
                self._hp.reset()
                self._grav = ExpWeightedMean(GRAVITY_TC_S, GRID_HZ, channels=3)
                self._posture_check_at = float(gt[i]) + POSTURE_CHECK_S
                resets.append(i)
                notices.append(SignalNotice("motion_ended", float(ga[i]), {}, float(ga[i])))
            if gt[i] >= self._posture_check_at:
                # still for POSTURE_CHECK_S: compare the posture with the one before the motion
                self._posture_check_at = math.inf
                if self._shifted():
                    self.posture_shifts += 1
                    posture.append(i)
            j = i
            while j < m and not sign[j] and gt[j] < self._posture_check_at:
                j += 1
            b[i:j] = self._hp.process(g4[i:j])
            grav = self._grav.process(gy[i:j])
            self._grav_now = grav[-1].copy()
            lying[i:j] = np.abs(grav[:, 2]) / np.maximum(np.linalg.norm(grav, axis=1), 1e-9)
            i = j
        return moving, b, lying, resets, posture

    def _shifted(self) -> bool:
        """Did the gravity direction turn by more than ``POSTURE_SHIFT_DEG`` over the motion?"""
        a, c = self._grav_before, self._grav_now
        if a is None or c is None:
            return True
        cos = float(np.dot(a, c) / (np.linalg.norm(a) * np.linalg.norm(c) + 1e-12))
        return cos < math.cos(math.radians(POSTURE_SHIFT_DEG))
