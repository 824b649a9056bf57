"""What every extractor shares: the ``Extractor`` protocol, its output and small helpers.

An extractor takes sample frames of one stream and returns an :class:`Extracted` piece of
breathing signal on a uniform grid. The helpers here are used by more than one extractor: the
grid rate and the fast-path filter cut-offs, the delay of a filter cascade
(:func:`phase_delay_s`), the gate that holds samples until the raw rate is known
(:class:`RateGate`) and a vectorised exponentially weighted mean (:class:`ExpWeightedMean`).
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from scipy import signal as sps

from psoas_sense.model import SignalNotice

GRID_HZ = 25.0
"""Rate of the breathing signal for waveform and accelerometer inputs."""
FAST_LP_HZ = 1.5
"""Low-pass (2nd order, at the raw rate) of the fast path: anti-alias and noise."""
HP_HZ = 0.03
"""High-pass (1st order) removing the baseline / gravity; its phase lead is welcome."""
REF_FREQ_HZ = 0.25
"""Frequency at which the filters' delay is evaluated (15 breaths/min)."""
RATE_ESTIMATE_SAMPLES = 32
"""Samples buffered to estimate the raw rate when the header does not give it."""


def phase_delay_s(sos_list: list[tuple[np.ndarray, float]], f_hz: float = REF_FREQ_HZ) -> float:
    """Phase delay at ``f_hz`` of a cascade of (sos, fs) filters, seconds."""
    ph = 0.0
    for sos, fs in sos_list:
        _, h = sps.sosfreqz(sos, worN=[f_hz], fs=fs)
        ph += float(np.angle(h[0]))
    return -ph / (2 * math.pi * f_hz)


class Extracted:
    """A piece of breathing signal: grid times, values, availability, delay, gap indexes, notices."""

    __slots__ = (
        "t", "y", "available", "gap_starts", "delay", "notices", "resets", "ripple", "period", "moving",
        "posture_shifts", "shape",
    )

    def __init__(
        self,
        t: np.ndarray,
        y: np.ndarray,
        available: np.ndarray,
        gap_starts: list[int],
        delay: np.ndarray | float = 0.0,
        notices: list[SignalNotice] | None = None,
        resets: list[int] | None = None,
        ripple: np.ndarray | float = 0.0,
    ) -> None:
        self.t = t
        """Grid times of the samples, seconds."""
        self.y = y
        """The breathing signal (up to a sign for accelerometers)."""
        self.available = available
        """Time of the newest raw sample when each grid sample became known, seconds."""
        self.gap_starts = gap_starts
        """Indexes before which a gap in the input was skipped."""
        self.delay = delay
        """Delay of the causal filters at breathing frequencies, per sample or one value, seconds."""
        self.notices = notices or []
        """What the extractor noticed in the input (pinned axes, motion ...)."""
        self.resets = resets or []
        """Indexes before which the detector should forget the half-breath (posture shifts)."""
        self.ripple = ripple
        """RMS of the heartbeat ripple left in ``y``, per sample (0 when unknown)."""
        self.period: np.ndarray | None = None
        """Breathing period tracked by the extractor, per sample (NaN unknown), RR input only."""
        self.moving: np.ndarray | None = None
        """True for samples during body motion (accelerometers): no breath is detected there."""
        self.posture_shifts: list[int] = []
        """Indexes before which the posture changed: the polarity evidence is forgotten."""
        self.shape: AxisShape | None = None
        """What an accelerometer shows beside its breathing axis (for the polarity evidence)."""

    @staticmethod
    def empty() -> Extracted:
        """Nothing yet (the raw rate is still being estimated, or an empty chunk)."""
        z = np.zeros(0)
        return Extracted(z, z, z, [])


class AxisShape:
    """Per grid sample, beside an accelerometer's breathing signal: the projection on the breathing
    axis and the change of the acceleration's magnitude, both through the same filters (no ripple
    guard), and how much of gravity lies along the sensor's z axis (lying on the back or front with
    the sensor flat on the chest: near 1; upright: near 0). All three are 0 during body motion."""

    __slots__ = ("axis_y", "lift", "lying")

    def __init__(self, axis_y: np.ndarray, lift: np.ndarray, lying: np.ndarray) -> None:
        self.axis_y = axis_y
        """Projection on the breathing axis (axis frame: before any polarity), mG."""
        self.lift = lift
        """High-passed magnitude of the acceleration, mG: the body's own acceleration along
        gravity (a tilt leaves the magnitude unchanged); NaN where it means nothing (an axis
        pinned at full scale is held, so the magnitude follows the tilt)."""
        self.lying = lying
        """``|g_z| / |g|`` of the recent gravity direction, 0-1."""

    def slice(self, a: int, b: int) -> AxisShape:
        """Samples ``a:b``."""
        return AxisShape(self.axis_y[a:b], self.lift[a:b], self.lying[a:b])


class Extractor(Protocol):
    """What the pipeline needs of every extractor.

    Feeding chunks of one stream in any chunking gives the same signal and notices (the
    pipeline and the detector rely on it); the extractor never reads a clock.
    """

    @property
    def fs_hz(self) -> float:
        """Rate of the breathing signal it produces (its grid), Hz."""
        ...

    @property
    def gaps(self) -> list[tuple[float, float]]:
        """Gaps in the input skipped so far, ``(start_s, end_s)``, oldest first."""
        ...

    def process(self, t: np.ndarray, values: np.ndarray, /) -> Extracted:
        """Feed one chunk of raw samples and return the breathing signal and notices it makes known.

        Args:
            t: sample times, seconds, non-decreasing across calls.
            values: the samples (waveform values, ``(n, 3)`` accelerations in mG, or RR
                intervals in ms, according to the extractor).
        """
        ...


class RateGate:
    """Holds samples until the raw rate is known (from the header or estimated), then passes."""

    def __init__(self, rate_hz: float | None) -> None:
        self.rate_hz = rate_hz
        """The raw sample rate, Hz (None until estimated)."""
        self._t: list[np.ndarray] = []
        self._y: list[np.ndarray] = []

    def push(self, t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Samples that may go on (all held so far once the rate is known), or None while held."""
        if self.rate_hz is not None:
            return t, y
        self._t.append(t)
        self._y.append(y)
        tt = np.concatenate(self._t)
        if np.unique(tt).shape[0] < RATE_ESTIMATE_SAMPLES:
            return None
        d = np.diff(np.unique(tt))
        self.rate_hz = float(1.0 / np.median(d))
        yy = np.concatenate(self._y, axis=0)
        self._t, self._y = [], []
        return tt, yy


class ExpWeightedMean:
    """Exponentially weighted mean (one-pole low-pass) with carried state, vectorised."""

    def __init__(self, tc_s: float, fs_hz: float, channels: int = 1) -> None:
        self.b = 1.0 / max(1.0, tc_s * fs_hz)
        """Weight of each new sample."""
        self._num = np.array([self.b])
        self._den = np.array([1.0, -(1.0 - self.b)])
        self._zi: np.ndarray | None = None
        self.channels = channels
        """Number of channels (columns) averaged independently."""

    def process(self, x: np.ndarray, init: np.ndarray | float | None = None) -> np.ndarray:
        """Running means of ``x`` (shape ``(n,)`` or ``(n, channels)``).

        Args:
            x: the samples.
            init: the mean before the first sample ever seen (default: that sample).
        """
        x2 = x.reshape(x.shape[0], -1)
        if x2.shape[0] == 0:
            return x.copy()
        if self._zi is None:
            start = x2[0] if init is None else np.broadcast_to(np.asarray(init, float), x2[0].shape)
            self._zi = ((1.0 - self.b) * start).reshape(1, -1)
        y, self._zi = sps.lfilter(self._num, self._den, x2, axis=0, zi=self._zi)
        out: np.ndarray = y.reshape(x.shape)
        return out

    def scale_state(self, k: float) -> None:
        """Multiply the carried mean by ``k`` (forget part of the past)."""
        if self._zi is not None:
            self._zi = self._zi * k
