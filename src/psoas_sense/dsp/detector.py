"""Online breath-phase detector on a uniformly sampled, band-limited breathing signal.

The signal is oriented so that larger means more air in: a local maximum is the end of
inspiration (the exhale starts), a local minimum the end of expiration (the inhale starts).

The detector is a state machine with hysteresis (after timeflux's ``LocalDetect`` and the
online form of NeuroKit's amplitude threshold): it tracks the running extreme of the current
half-breath and confirms it once the signal has moved away from it by a threshold that adapts
to the median of recent breath amplitudes. It sees one sample at a time, so its output does not
depend on chunking, and it never looks ahead: an event's ``detected_at_s`` is the availability
time of the sample that confirmed it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from psoas_sense.model import BreathEvent

HYSTERESIS_FRACTION = 0.3
"""An extreme is confirmed when the signal has left it by this share of the recent amplitude."""
AMPLITUDE_HISTORY = 6
"""How many recent half-breath excursions set the adaptive amplitude."""
RMS_TIME_CONSTANT_S = 8.0
"""Time constant of the running RMS used before enough breaths are seen."""
MIN_HALF_BREATH_S = 0.35
"""A half-breath shorter than this is ripple, not breathing."""
WARMUP_S = 2.0
"""No events in the first seconds: filters settle and the amplitude estimate forms."""
RATE_HISTORY = 4
"""Breath periods averaged (median) for the reported rate."""


@dataclass
class _Extreme:
    value: float
    t_s: float


class PhaseDetector:
    """Hysteresis extreme tracker emitting ``exhale`` and ``inhale`` events."""

    def __init__(
        self,
        fs_hz: float,
        *,
        signal: str,
        approximate: bool = False,
        hysteresis_fraction: float = HYSTERESIS_FRACTION,
    ) -> None:
        self.fs_hz = fs_hz
        self.signal = signal
        self.approximate = approximate
        self.k = hysteresis_fraction
        self._alpha = 1.0 / (RMS_TIME_CONSTANT_S * fs_hz)
        self._ms = 0.0  # running mean square
        self._n = 0
        self._t_first: float | None = None
        self._seeking = 0  # +1 seek a maximum, -1 seek a minimum, 0 undecided
        self._max = _Extreme(-np.inf, 0.0)
        self._min = _Extreme(np.inf, 0.0)
        self._last_event_t = -np.inf
        self._last_extreme_value: float | None = None
        self._excursions: deque[float] = deque(maxlen=AMPLITUDE_HISTORY)
        self._exhale_times: deque[float] = deque(maxlen=RATE_HISTORY + 1)

    # -- state that callers may read
    @property
    def amplitude(self) -> float:
        """Current estimate of a breath's peak-to-trough amplitude."""
        if len(self._excursions) >= 3:
            return float(np.median(self._excursions))
        return 2.0 * np.sqrt(2.0) * np.sqrt(self._ms)

    @property
    def rate_bpm(self) -> float | None:
        """Breathing rate from the recent exhale-to-exhale periods."""
        if len(self._exhale_times) < 2:
            return None
        periods = np.diff(np.asarray(self._exhale_times))
        return float(60.0 / np.median(periods))

    def reset_phase(self) -> None:
        """Forget the half-breath in progress (after a gap in the signal)."""
        self._seeking = 0
        self._max = _Extreme(-np.inf, 0.0)
        self._min = _Extreme(np.inf, 0.0)
        self._last_extreme_value = None
        self._exhale_times.clear()

    def process(self, t: np.ndarray, y: np.ndarray, available_s: np.ndarray) -> list[BreathEvent]:
        """Feed samples (uniform grid) and return the events they confirm."""
        events: list[BreathEvent] = []
        alpha = self._alpha
        k = self.k
        for i in range(t.shape[0]):
            ti = float(t[i])
            yi = float(y[i])
            if self._t_first is None:
                self._t_first = ti
            self._n += 1
            self._ms += alpha * (yi * yi - self._ms) if self._n > 1 else yi * yi
            if yi > self._max.value:
                self._max = _Extreme(yi, ti)
            if yi < self._min.value:
                self._min = _Extreme(yi, ti)
            if ti - self._t_first < WARMUP_S:
                continue
            thr = k * self.amplitude
            if thr <= 0:
                continue
            if self._seeking >= 0 and self._max.value - yi > thr:
                ev = self._confirm("exhale", self._max, ti, float(available_s[i]))
                if ev is not None:
                    events.append(ev)
                self._seeking = -1
                self._min = _Extreme(yi, ti)
            elif self._seeking <= 0 and yi - self._min.value > thr:
                ev = self._confirm("inhale", self._min, ti, float(available_s[i]))
                if ev is not None:
                    events.append(ev)
                self._seeking = 1
                self._max = _Extreme(yi, ti)
        return events

    def _confirm(self, kind: str, ext: _Extreme, t_now: float, available: float) -> BreathEvent | None:
        first = self._seeking == 0
        if self._last_extreme_value is not None:
            self._excursions.append(abs(ext.value - self._last_extreme_value))
        self._last_extreme_value = ext.value
        too_soon = ext.t_s - self._last_event_t < MIN_HALF_BREATH_S
        self._last_event_t = ext.t_s
        if first or too_soon:
            return None
        if kind == "exhale":
            self._exhale_times.append(ext.t_s)
        return BreathEvent(
            kind="exhale" if kind == "exhale" else "inhale",
            t_s=ext.t_s,
            detected_at_s=max(available, ext.t_s),
            signal=self.signal,
            approximate=self.approximate,
            rate_bpm=self.rate_bpm,
        )
