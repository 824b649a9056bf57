"""What the phase detector learns from recent breaths: amplitude, period, quality, prediction.

The detector's thresholds are shares of a typical breath. :class:`BreathStats` keeps that
typical breath from the medians of recent half-breath excursions and breath periods (the online
form of NeuroKit's ``amplitude_min x median``), with a running RMS standing in for the
amplitude until three breaths are known. When nothing is confirmed for a while the amplitude
decays, so shallower breathing is picked up, down to a floor tied to the long-term amplitude.
It also gives the breathing rate, a 0-1 quality index from the regularity of recent breaths
and, on regular breathing, when the next exhale is expected.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

import numpy as np

from psoas_sense.dsp.hold import hold_limit
from psoas_sense.model import BreathEvent, SignalNotice

AMPLITUDE_HISTORY = 8
"""Recent half-breath excursions whose median sets the amplitude."""
PERIOD_HISTORY = 6
"""Recent breath periods whose median sets the period and the rate."""
DEFAULT_PERIOD_S = 4.0
"""Assumed period before any breath is seen (15 breaths/min)."""
RMS_TIME_CONSTANT_S = 6.0
"""Time constant of the running RMS that sets the amplitude before breaths are seen."""
DECAY_AFTER_PERIODS = 1.5
"""Without a confirmed extreme for this many periods the amplitude starts to decay..."""
DECAY_PER_PERIOD = 0.5
"""... by this factor per further period ..."""
AMPLITUDE_FLOOR_SHARE = 0.25
"""... down to this share of the long-term amplitude."""
LONG_TERM_BREATHS = 30.0
"""Breaths over which the long-term amplitude (for the floor and holds) is averaged."""
PREDICT_MIN_BREATHS = 3
"""Inhale durations needed before the exhale is predicted..."""
PREDICT_MIN_QUALITY = 0.5
"""... and the quality index the breathing must have (regular breathing only)."""
SETTLE_EXHALES = 2
"""After a reset (gap, motion, posture shift) the first exhales carry no confidence: quality 0
until this many have been confirmed (the half-breath and the amplitude are re-learnt)."""
PERIOD_CV_GAIN = 1.2
"""Quality = (1 - this x CV of the recent periods) x ... (1.2: the DEV belts reach 0.5 on 95 % of
their breaths, 97 % of those right; ICU impedance 96 %, 99 % right; was 1.5: 89 % of belt breaths)"""
AMPLITUDE_CV_GAIN = 0.5
"""... (1 - this x CV of the recent half-breath excursions), each clipped to 0-1. The excursions
mix inhales and exhales, and a resting belt's breaths vary in depth (CV 0.1-0.3) while its
periods stay steady, so the amplitude term is the lenient one: with a gain of 1 a clean resting
belt reached 0.5 on only 68 % of its breaths (DEV: the confident events keep a PPV of 0.96-0.98
on the belts and ICU impedance either way; wrong events come with irregular periods)."""
APPROX_CV_GAINS = (3.0, 1.5)
"""The two gains for approximate (RR-derived) events: a breath seen through the heart's
response is noisier, and the same gains as for waveforms left a PPV of 0.82 at quality >= 0.5
on the DEV RR set; these give 0.91 (0.99 since the heart's lag is taken off the timing, on the
RR set with the still chests)."""
POLARITY_SURE = (0.4, 0.75)
"""Accelerometers: the quality is scaled by the polarity confidence, from 0 at the first value to
1 at the second (an event of uncertain polarity may be the other phase)."""


def np_sum(values: Sequence[float]) -> float:
    """``np.sum(values)`` to the last bit, in plain Python for up to 8 values (NumPy adds fewer
    than 8 one by one from 0.0, and 8 as a tree of pairs)."""
    n = len(values)
    if n < 8:
        total = 0.0
        for v in values:
            total += v
        return total
    if n == 8:
        a, b, c, d, e, f, g, h = values
        return ((a + b) + (c + d)) + ((e + f) + (g + h))
    return float(np.sum(np.asarray(values, dtype=np.float64)))


def median(values: Sequence[float]) -> float:
    """``float(np.median(values))`` to the last bit, without building an array for a few values."""
    s = sorted(values)
    n = len(s)
    h = n // 2
    m = s[h] if n % 2 else (0.0 + s[h - 1] + s[h]) / 2  # NumPy's mean of the middle two
    total = sum(s)
    if total != total or (m == 0.0 and n % 2):
        return float(np.median(np.asarray(values, dtype=np.float64)))  # a NaN, or which zero (+/-)
    return m


def cv(values: Sequence[float]) -> float:
    """``np.std(values) / (np.mean(values) + 1e-12)`` to the last bit (coefficient of variation)."""
    n = len(values)
    if n < 8:  # (np_sum inlined: one by one from 0.0)
        total = 0.0
        for v in values:
            total += v
        mean, acc = total / n, 0.0
        for v in values:
            acc += (v - mean) * (v - mean)
    else:
        vals = list(values)
        mean = np_sum(vals) / n
        acc = np_sum([(v - mean) * (v - mean) for v in vals])
    std = math.sqrt(acc / n)
    den = mean + 1e-12
    if den == 0.0:
        return float(np.float64(std) / np.float64(den))  # NumPy's inf or NaN (and its warning)
    return std / den


def round6(x: float | None) -> float | None:
    """``x`` rounded to 6 decimals (None stays None)."""
    return None if x is None else round(x, 6)


def clip01(x: float) -> float:
    """``np.clip(x, 0.0, 1.0)`` (NaN stays NaN)."""
    return min(max(x, 0.0), 1.0)


class BreathStats:
    """Running statistics of the breaths one detector has confirmed.

    The detector reads the plain attributes (they are attributes, not properties, for speed; its
    per-sample loop takes what it needs from :meth:`loop_view` after each confirmation) and
    reports each confirmed half-breath through the ``add_*`` methods, then calls :meth:`refresh`
    and :meth:`update_quality`. The medians and CVs are those of NumPy to the last bit, computed
    in plain Python (a NumPy call on a few values costs more than the arithmetic).

    Args:
        fs_hz: rate of the breathing signal (for the running RMS), Hz.
        approximate: the breaths are seen through RR intervals (stricter quality).
    """

    def __init__(self, fs_hz: float, *, approximate: bool = False) -> None:
        self.cv_gains = APPROX_CV_GAINS if approximate else (PERIOD_CV_GAIN, AMPLITUDE_CV_GAIN)
        """Gains of the period and amplitude CVs in the quality (see ``PERIOD_CV_GAIN``)."""
        self.rms_alpha = 1.0 / (RMS_TIME_CONSTANT_S * fs_hz)
        """Weight of a new sample in the running mean square."""
        self.ms = 0.0
        """Running mean square of the signal (the detector updates it per sample)."""
        self.excursions: deque[float] = deque(maxlen=AMPLITUDE_HISTORY)
        """Recent half-breath excursions (peak to trough)."""
        self.periods: deque[float] = deque(maxlen=PERIOD_HISTORY)
        """Recent breath periods (exhale to exhale), seconds."""
        self.inhale_durations: deque[float] = deque(maxlen=PERIOD_HISTORY)
        """Recent inhale durations, seconds (for the exhale prediction)."""
        self.long_amp = 0.0
        """Long-term amplitude (0 until a breath is seen)."""
        self.long_period = 0.0
        """Long-term breath period, seconds (0 until two exhales are seen)."""
        self.period_s = DEFAULT_PERIOD_S
        """Recent breath period (median), seconds."""
        self.amp: float | None = None
        """Median of the recent excursions, once there are three (else None)."""
        self.tracked_period_s: float | None = None
        """Breathing period tracked by the extractor, when it gives one, seconds."""
        self.quality = 0.0
        """Signal-quality index 0-1 of the most recent breaths."""

    @property
    def rate_bpm(self) -> float | None:
        """Breathing rate from the recent breath periods (or the extractor's tracked period)."""
        if self.tracked_period_s is not None:
            return 60.0 / self.tracked_period_s
        if len(self.periods) < 1:
            return None
        return 60.0 / self.period_s

    @property
    def amplitude(self) -> float:
        """Current estimate of a breath's peak-to-trough amplitude."""
        if self.amp is not None:
            return self.amp
        return 2.0 * math.sqrt(2.0) * math.sqrt(self.ms)

    def loop_view(self) -> tuple[float | None, float, bool, float]:
        """What the detector's loop reads until the next confirmation: the amplitude (None: from
        the running RMS), the idle time after which it decays, whether the hold watch runs
        (``long_amp`` and ``long_period`` known) and the hold watch's slope limit."""
        on = self.long_amp > 0 and self.long_period > 0
        lim = hold_limit(self.long_amp, self.long_period) if on else 0.0
        return self.amp, DECAY_AFTER_PERIODS * self.period_s, on, lim

    def track_period(self, periods: list[float], upto: int) -> None:
        """The extractor's tracked period becomes the last known (not NaN) one in
        ``periods[: upto + 1]``, if any."""
        for j in range(upto, -1, -1):
            if not math.isnan(periods[j]):
                self.tracked_period_s = periods[j]
                return

    def effective_amplitude(self, t_now: float, last_confirm_at: float) -> float:
        """The amplitude, decayed when nothing has been confirmed since ``last_confirm_at``."""
        amp = self.amplitude
        per = self.period_s
        idle = t_now - last_confirm_at
        if math.isfinite(idle) and idle > DECAY_AFTER_PERIODS * per and self.long_amp > 0:
            amp *= DECAY_PER_PERIOD ** ((idle - DECAY_AFTER_PERIODS * per) / per)
            amp = max(amp, AMPLITUDE_FLOOR_SHARE * self.long_amp)
        return amp

    def add_excursion(self, exc: float) -> None:
        """A half-breath of excursion ``exc`` was confirmed."""
        self.excursions.append(exc)
        n_long = LONG_TERM_BREATHS * 2
        self.long_amp = exc if self.long_amp <= 0 else self.long_amp + (exc - self.long_amp) / n_long

    def add_period(self, p: float) -> None:
        """``p`` seconds passed between two exhales; kept when plausible against the recent period."""
        if 0.5 * self.period_s < p < 2.0 * self.period_s or len(self.periods) < 2:
            self.periods.append(p)
            lp = self.long_period
            self.long_period = p if lp <= 0 else lp + (p - lp) / LONG_TERM_BREATHS

    def add_inhale(self, inhale_s: float) -> None:
        """An inhale lasted ``inhale_s``; kept for the prediction when plausible."""
        if 0.0 < inhale_s < 1.5 * self.period_s:
            self.inhale_durations.append(inhale_s)

    def refresh(self) -> None:
        """Recompute the medians after a confirmation."""
        self.period_s = median(self.periods) if self.periods else DEFAULT_PERIOD_S
        self.amp = median(self.excursions) if len(self.excursions) >= 3 else None

    def update_quality(self) -> None:
        """Quality from the regularity of recent periods and amplitudes (1 = steady breathing)."""
        if len(self.periods) < 2 or len(self.excursions) < 3:
            self.quality = 0.3
            return
        gp, ga = self.cv_gains
        self.quality = clip01(1.0 - gp * cv(self.periods)) * clip01(1.0 - ga * cv(self.excursions))

    def event_quality(self, settled: int, polarity_confidence: float | None) -> float:
        """The quality put on an event (>= 0.5: confident enough to cue on): breath regularity,
        0 until ``SETTLE_EXHALES`` exhales after a reset (``settled`` so far), and for
        accelerometers scaled by the polarity confidence."""
        q = self.quality if settled >= SETTLE_EXHALES else 0.0
        if polarity_confidence is not None:
            lo, hi = POLARITY_SURE
            q *= min(1.0, max(0.0, (polarity_confidence - lo) / (hi - lo)))
        return q

    def predict_exhale(self, inhale: BreathEvent, signal: str) -> SignalNotice | None:
        """On regular breathing, when the exhale that follows this inhale is expected.

        The expected time is the inhale onset plus the median of recent inhale durations. It is
        a notice, emitted when the inhale is confirmed (``detected_at_s`` is honest); the real
        ``exhale`` event still follows when the turn is seen.

        Args:
            inhale: the inhale event just confirmed.
            signal: the signal the detector runs on (reported in the notice).
        """
        if len(self.inhale_durations) < PREDICT_MIN_BREATHS or self.quality < PREDICT_MIN_QUALITY:
            return None
        at = inhale.t_s + median(self.inhale_durations)
        if at <= inhale.detected_at_s:
            return None
        return SignalNotice(
            "exhale_expected",
            inhale.detected_at_s,
            {"signal": signal, "at": round(at, 3), "confidence": round(self.quality, 3)},
            inhale.detected_at_s,
        )
