"""Online breath-phase detector on a uniformly sampled breathing signal.

The signal is oriented so that larger means more air in: a local maximum is the end of
inspiration (the exhale starts), a local minimum the end of expiration (the inhale starts).

Design (a state machine that sees one grid sample at a time, so it is chunk-invariant and never
looks ahead; an event's ``detected_at_s`` is the availability time of the sample that confirmed
it):

* It alternately seeks a maximum and a minimum, tracking the running extreme of the current
  half-breath.
* An extreme is confirmed early, as soon as the signal turns: the *slope* over the last
  ``SLOPE_LAG_S`` has the opposite sign with a magnitude above ``SLOPE_SHARE`` of a typical
  breath slope (pi x amplitude / period), and the signal has left the extreme by
  ``DROP_SHARE`` of the amplitude. The slope grows linearly after a rounded extreme while the
  level only grows quadratically, which is what makes the confirmation fast.
* A half-breath must be real: its excursion from the previous confirmed extreme must exceed
  ``RISE_SHARE`` of the recent amplitude and last at least ``MIN_HALF_SHARE`` of the recent
  period. This rejects heartbeat ripple and short motion spikes.
* The amplitude and period adapt from the medians of recent breaths (the online form of
  NeuroKit's ``amplitude_min x median``). When nothing is confirmed for longer than
  ``DECAY_AFTER_PERIODS`` periods, the amplitude decays so shallower breathing is picked up,
  down to a floor tied to the long-term amplitude.
* ``t_s`` is the time of the extreme minus the known delay of the causal filters, so it
  estimates the phase change in the sensor's time.

It also reports breath holds (no breathing movement for ``hold_after_s``), the breathing
rate, per-breath inhale/exhale durations and I:E ratio, and a 0-1 quality index.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np

from psoas_sense.model import BreathEvent, CoreEvent, SignalNotice

SLOPE_LAG_S = 0.12
"""The slope is taken over this span (a two-point difference on the grid)."""
SLOPE_SHARE = 0.12
"""Confirm an extreme once the opposite slope exceeds this share of a typical breath slope."""
DROP_SHARE = 0.04
"""... and the signal has left the extreme by this share of the amplitude."""
RIPPLE_MARGIN = 3.0
"""A turn must leave the extreme by this many ripple RMS (a ripple dip is at most ~2.8 RMS)."""
PREMATURE_SHARE = 0.05
"""A confirmed extreme passed again by this share of the amplitude was confirmed too early..."""
CAUTION_STEP = 0.5
"""... which raises the caution for that kind of extreme by this much (up to 1) ..."""
CAUTION_DECAY = 0.95
"""... while each confirmation of that kind lets it decay by this factor."""
CAUTION_GAIN = 4.0
"""At full caution the required drop is (1 + this) x ``DROP_SHARE``."""
FALLBACK_DROP_SHARE = 0.3
"""An extreme is confirmed whatever the slope once the signal has left it by this share."""
RISE_SHARE = 0.3
"""A half-breath's excursion must exceed this share of the recent amplitude."""
MIN_HALF_SHARE = 0.2
"""A half-breath must last at least this share of the recent breath period..."""
MIN_HALF_S = 0.3
"""... and at least this long (30 breaths/min has 1 s half-breaths)."""
AMPLITUDE_HISTORY = 8
"""Recent half-breath excursions whose median sets the amplitude."""
PERIOD_HISTORY = 6
"""Recent breath periods whose median sets the period and the rate."""
DEFAULT_PERIOD_S = 4.0
"""Assumed period before any breath is seen (15 breaths/min)."""
RMS_TIME_CONSTANT_S = 6.0
"""Time constant of the running RMS that sets the amplitude before breaths are seen."""
WARMUP_S = 3.0
"""No events in the first seconds: filters settle and the amplitude estimate forms."""
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
NEAR_SHARE = 0.1
"""Samples within this share of the amplitude of an extreme count as its plateau."""
HOLD_AFTER_S = 10.0
"""No breathing movement for this long is a breath hold."""
HOLD_SLOPE_SHARE = 0.15
"""... where 'no movement' is a slope (over ``HOLD_SLOPE_LAG_S``) below this share of the
long-term typical breath slope (pi x amplitude / period)."""
HOLD_SLOPE_LAG_S = 0.6


class PhaseDetector:
    """Turns a breathing signal into ``exhale`` and ``inhale`` events and notices."""

    def __init__(
        self,
        fs_hz: float,
        *,
        signal: str,
        approximate: bool = False,
        hold_after_s: float = HOLD_AFTER_S,
        slope_share: float = SLOPE_SHARE,
        drop_share: float = DROP_SHARE,
        rise_share: float = RISE_SHARE,
    ) -> None:
        self.fs_hz = fs_hz
        self.signal = signal
        self.approximate = approximate
        self.hold_after_s = hold_after_s
        self.slope_share = slope_share
        self.drop_share = drop_share
        self.rise_share = rise_share
        self._lag = max(1, int(round(SLOPE_LAG_S * fs_hz)))
        self._hist: deque[float] = deque(maxlen=self._lag + 1)
        self._alpha = 1.0 / (RMS_TIME_CONSTANT_S * fs_hz)
        self._ms = 0.0
        self._n = 0
        self._t_first: float | None = None
        self._seeking = 0  # +1 seek a maximum, -1 seek a minimum, 0 undecided
        self._ext_v = -math.inf  # running extreme of the current half-breath
        self._ext_t = 0.0
        self._ext_d = 0.0  # filter delay at the extreme
        self._near_t = 0.0  # last time the signal was within NEAR_SHARE of the extreme
        self._hi_v = -math.inf  # undecided: running max and min
        self._hi_t = 0.0
        self._hi_d = 0.0
        self._lo_v = math.inf
        self._lo_t = 0.0
        self._lo_d = 0.0
        self._prev_v: float | None = None  # value of the last confirmed extreme
        self._prev_t = -math.inf  # sensor time of the last confirmed extreme
        self._prev_grid_t = -math.inf  # grid time of the last confirmed extreme
        self._last_confirm_at = -math.inf  # grid time of the last confirmation
        self._excursions: deque[float] = deque(maxlen=AMPLITUDE_HISTORY)
        self._periods: deque[float] = deque(maxlen=PERIOD_HISTORY)
        self._long_amp = 0.0
        self._period_cache = DEFAULT_PERIOD_S
        self._tracked_period: float | None = None
        self._inhale_durations: deque[float] = deque(maxlen=PERIOD_HISTORY)
        self._premature = False  # the last confirmed extreme was passed again
        self._confirmed_v = 0.0  # value of the last confirmed extreme, as confirmed
        self._caution = {1: 0.0, -1: 0.0}  # per kind (+1 maxima, -1 minima): 0-1
        self._amp_cache: float | None = None
        self._last_exhale_t: float | None = None
        self._last_inhale_t: float | None = None
        self._last_inhale_s: float | None = None  # duration of the last inhale
        # hold detection: running range since the last movement
        self._still_since: float | None = None
        self._in_hold = False
        self._hold_lag = max(1, int(round(HOLD_SLOPE_LAG_S * fs_hz)))
        self._hist_long: deque[float] = deque(maxlen=self._hold_lag + 1)
        self._long_period = 0.0
        self.quality = 0.0
        """Signal-quality index 0-1 of the most recent breaths."""
        self.polarity = 1.0
        """The input is multiplied by this (+1/-1) before detection (accelerometers)."""
        self.on_event: Callable[[PhaseDetector, BreathEvent], list[CoreEvent]] | None = None
        """Called with each event as it is confirmed, before the next sample (may ``flip``); what it
        returns is emitted right after the event."""
        self.polarity_confidence: float | None = None
        """Reported on events when set (accelerometers)."""

    # -- state that callers may read
    @property
    def period_s(self) -> float:
        """Recent breath period (median)."""
        return self._period_cache

    @property
    def rate_bpm(self) -> float | None:
        """Breathing rate from the recent breath periods (or the extractor's tracked period)."""
        if self._tracked_period is not None:
            return 60.0 / self._tracked_period
        if len(self._periods) < 1:
            return None
        return 60.0 / self.period_s

    @property
    def amplitude(self) -> float:
        """Current estimate of a breath's peak-to-trough amplitude."""
        if self._amp_cache is not None:
            return self._amp_cache
        return 2.0 * math.sqrt(2.0) * math.sqrt(self._ms)

    def _refresh(self) -> None:
        self._period_cache = float(np.median(self._periods)) if self._periods else DEFAULT_PERIOD_S
        self._amp_cache = float(np.median(self._excursions)) if len(self._excursions) >= 3 else None

    def reset_phase(self) -> None:
        """Forget the half-breath in progress (after a gap in the signal)."""
        self._seeking = 0
        self._ext_v = -math.inf
        self._hi_v, self._lo_v = -math.inf, math.inf
        self._prev_v = None
        self._hist.clear()
        self._still_since = None
        self._hist_long.clear()
        self._last_exhale_t = None
        self._last_inhale_t = None

    def flip(self) -> None:
        """Invert the polarity from the next sample on, keeping the half-breath in progress."""
        self.polarity = -self.polarity
        self._seeking = -self._seeking
        self._ext_v = -self._ext_v
        self._confirmed_v = -self._confirmed_v
        if self._prev_v is not None:
            self._prev_v = -self._prev_v
        self._hi_v, self._lo_v = -self._lo_v, -self._hi_v
        self._hi_t, self._lo_t = self._lo_t, self._hi_t
        self._hi_d, self._lo_d = self._lo_d, self._hi_d
        for h in (self._hist, self._hist_long):
            vals = [-x for x in h]
            h.clear()
            h.extend(vals)
        self._last_exhale_t, self._last_inhale_t = self._last_inhale_t, self._last_exhale_t
        self._last_inhale_s = None

    def _effective_amplitude(self, t_now: float) -> float:
        amp = self.amplitude
        per = self.period_s
        idle = t_now - self._last_confirm_at
        if math.isfinite(idle) and idle > DECAY_AFTER_PERIODS * per and self._long_amp > 0:
            amp *= DECAY_PER_PERIOD ** ((idle - DECAY_AFTER_PERIODS * per) / per)
            amp = max(amp, AMPLITUDE_FLOOR_SHARE * self._long_amp)
        return amp

    def process(
        self,
        t: np.ndarray,
        y: np.ndarray,
        available_s: np.ndarray,
        delay_s: np.ndarray | float = 0.0,
        ripple: np.ndarray | float = 0.0,
        period_s: np.ndarray | None = None,
    ) -> list[CoreEvent]:
        """Feed grid samples and return the events they confirm.

        Args:
            t: grid times.
            y: breathing signal (larger = more air in).
            available_s: time of the newest raw sample when each grid sample became known.
            delay_s: the filters' delay at breathing frequencies, per sample or one value;
                subtracted from the time of an extreme to estimate the phase change.
            ripple: RMS of the heartbeat ripple left in ``y`` (per sample or one value); a turn
                must leave the extreme by more than ``RIPPLE_MARGIN`` times it.
            period_s: breathing period tracked by the extractor (NaN unknown); when given, it
                is the reported rate and bounds the half-breath length.
        """
        events: list[CoreEvent] = []
        n = t.shape[0]
        d_arr = np.broadcast_to(np.asarray(delay_s, dtype=np.float64), (n,))
        r_arr = np.broadcast_to(np.asarray(ripple, dtype=np.float64), (n,))
        alpha = self._alpha
        fs = self.fs_hz
        lag_s = self._lag / fs
        hist = self._hist
        # Python lists: element access in the loop is several times faster than on arrays
        t_l = np.asarray(t, dtype=np.float64).tolist()
        y_l = np.asarray(y, dtype=np.float64).tolist()
        d_l = d_arr.tolist()
        r_l = r_arr.tolist()
        a_l = np.asarray(available_s, dtype=np.float64).tolist()
        p_l = None if period_s is None else np.asarray(period_s, dtype=np.float64).tolist()
        for i in range(n):
            ti = t_l[i]
            yi = y_l[i] * self.polarity
            if p_l is not None and not math.isnan(p_l[i]):
                self._tracked_period = p_l[i]
            di = d_l[i]
            if self._t_first is None:
                self._t_first = ti
            self._n += 1
            self._ms = self._ms + alpha * (yi * yi - self._ms) if self._n > 1 else yi * yi
            hist.append(yi)
            self._hist_long.append(yi)
            slope = (yi - hist[0]) / lag_s if len(hist) > self._lag else 0.0
            if ti - self._t_first < WARMUP_S:
                if yi > self._hi_v:
                    self._hi_v, self._hi_t, self._hi_d = yi, ti, di
                if yi < self._lo_v:
                    self._lo_v, self._lo_t, self._lo_d = yi, ti, di
                continue
            # (inlined _effective_amplitude for the common case: breathing goes on)
            amp = self._amp_cache if self._amp_cache is not None else 2.0 * math.sqrt(2.0) * math.sqrt(self._ms)
            if ti - self._last_confirm_at > DECAY_AFTER_PERIODS * self._period_cache:
                amp = self._effective_amplitude(ti)
            if amp <= 0:
                continue
            # breath hold: the signal stays within a small range for hold_after_s
            if self._long_amp > 0:
                ev = self._hold_step(ti, yi, a_l[i])
                if ev is not None:
                    events.append(ev)
            per = self.period_s
            typical_slope = math.pi * amp / per
            min_half = max(MIN_HALF_S, MIN_HALF_SHARE * per)
            if self._seeking == 0:
                if yi > self._hi_v:
                    self._hi_v, self._hi_t, self._hi_d = yi, ti, di
                if yi < self._lo_v:
                    self._lo_v, self._lo_t, self._lo_d = yi, ti, di
                # the first turn decides the phase; it is not reported
                if self._hi_v - yi > FALLBACK_DROP_SHARE * amp and self._hi_t > self._lo_t:
                    self._start(-1, self._hi_v, self._hi_t, ti, yi, di)
                elif yi - self._lo_v > FALLBACK_DROP_SHARE * amp and self._lo_t > self._hi_t:
                    self._start(1, self._lo_v, self._lo_t, ti, yi, di)
                continue
            s = self._seeking
            assert self._prev_v is not None
            if s * (yi - self._prev_v) < 0:
                # beyond the last confirmed extreme: that one was not the end of the half-breath
                if s * (self._confirmed_v - yi) > PREMATURE_SHARE * amp and not self._premature:
                    # the last (opposite) extreme was confirmed too early: be more careful with
                    # that kind of extreme from now on
                    self._premature = True
                    self._caution[-s] = min(1.0, self._caution[-s] + CAUTION_STEP)
                self._prev_v = yi
            if s * yi > s * self._ext_v:
                self._ext_v, self._ext_t, self._ext_d = yi, ti, di
                self._near_t = ti
            elif s * (self._ext_v - yi) <= NEAR_SHARE * amp:
                self._near_t = ti  # still on the plateau of the extreme
            assert self._prev_v is not None
            excursion = s * (self._ext_v - self._prev_v)
            left = s * (self._ext_v - yi)
            cau = self._caution[s]
            need = max(self.drop_share * amp * (1.0 + CAUTION_GAIN * cau), RIPPLE_MARGIN * cau * r_l[i])
            turned = (-s * slope > self.slope_share * typical_slope and left > need) or (
                left > FALLBACK_DROP_SHARE * amp
            )
            if not turned:
                continue
            if excursion < self.rise_share * amp or self._ext_t - self._prev_grid_t < min_half:
                # ripple, a shallow wiggle or a spike too soon after the last extreme: not a
                # breath; search the extreme again from here
                self._ext_v, self._ext_t, self._ext_d = yi, ti, di
                self._near_t = ti
                continue
            ev_c = self._confirm(s, ti, yi, di, a_l[i], amp)
            events.append(ev_c)
            if ev_c.kind == "inhale":
                pred = self._predict_exhale(ev_c)
                if pred is not None:
                    events.append(pred)
            if self.on_event is not None:
                events.extend(self.on_event(self, ev_c))
        return events

    def _start(self, seeking: int, v: float, t_ext: float, ti: float, yi: float, di: float) -> None:
        self._prev_v = v
        self._prev_grid_t = t_ext
        self._prev_t = t_ext
        self._seeking = seeking
        self._ext_v, self._ext_t, self._ext_d = yi, ti, di
        self._near_t = ti
        self._last_confirm_at = ti

    def _confirm(self, s: int, ti: float, yi: float, di: float, available: float, amp: float) -> BreathEvent:
        assert self._prev_v is not None
        exc = s * (self._ext_v - self._prev_v)
        self._excursions.append(exc)
        self._caution[s] *= CAUTION_DECAY
        self._premature = False
        n_long = LONG_TERM_BREATHS * 2
        self._long_amp = exc if self._long_amp <= 0 else self._long_amp + (exc - self._long_amp) / n_long
        t_ext_grid = self._ext_t
        # the middle of a flat (clipped, held) extreme, the extreme itself when it is sharp
        t_phase = 0.5 * (t_ext_grid + max(self._near_t, t_ext_grid)) - self._ext_d
        kind = "exhale" if s == 1 else "inhale"
        inhale_s = exhale_s = ie = None
        if kind == "exhale":
            if self._last_exhale_t is not None:
                p = t_phase - self._last_exhale_t
                if 0.5 * self.period_s < p < 2.0 * self.period_s or len(self._periods) < 2:
                    self._periods.append(p)
                    lp = self._long_period
                    self._long_period = p if lp <= 0 else lp + (p - lp) / LONG_TERM_BREATHS
            if self._last_inhale_t is not None:
                inhale_s = t_phase - self._last_inhale_t
                self._last_inhale_s = inhale_s
                if 0.0 < inhale_s < 1.5 * self.period_s:
                    self._inhale_durations.append(inhale_s)
            self._last_exhale_t = t_phase
        else:
            if self._last_exhale_t is not None:
                exhale_s = t_phase - self._last_exhale_t
                if self._last_inhale_s is not None and exhale_s > 0:
                    ie = self._last_inhale_s / exhale_s
            self._last_inhale_t = t_phase
        self._refresh()
        self._update_quality()
        ev = BreathEvent(
            kind=kind,  # type: ignore[arg-type]
            # rounded so that sub-microsecond float noise of chunked filtering cannot show
            t_s=round(t_phase, 6),
            detected_at_s=max(available, round(t_phase, 6)),
            signal=self.signal,
            approximate=self.approximate,
            rate_bpm=None if self.rate_bpm is None else round(self.rate_bpm, 4),
            quality=round(self.quality, 3),
            inhale_s=None if inhale_s is None else round(inhale_s, 6),
            exhale_s=None if exhale_s is None else round(exhale_s, 6),
            ie_ratio=None if ie is None else round(ie, 6),
            polarity_confidence=self.polarity_confidence,
        )
        # the new half-breath starts at the confirmed extreme
        self._prev_v = self._ext_v
        self._confirmed_v = self._ext_v
        self._prev_grid_t = t_ext_grid
        self._prev_t = t_phase
        self._seeking = -s
        self._ext_v, self._ext_t, self._ext_d = yi, ti, di
        self._near_t = ti
        self._last_confirm_at = ti
        return ev

    def _predict_exhale(self, inhale: BreathEvent) -> SignalNotice | None:
        """On regular breathing, when the exhale that follows this inhale is expected.

        The expected time is the inhale onset plus the median of recent inhale durations. It is
        a notice, emitted when the inhale is confirmed (``detected_at_s`` is honest); the real
        ``exhale`` event still follows when the turn is seen.
        """
        if len(self._inhale_durations) < PREDICT_MIN_BREATHS or self.quality < PREDICT_MIN_QUALITY:
            return None
        at = inhale.t_s + float(np.median(self._inhale_durations))
        if at <= inhale.detected_at_s:
            return None
        return SignalNotice(
            "exhale_expected",
            inhale.detected_at_s,
            {"signal": self.signal, "at": round(at, 3), "confidence": round(self.quality, 3)},
            inhale.detected_at_s,
        )

    def _update_quality(self) -> None:
        """Quality from the regularity of recent periods and amplitudes (1 = steady breathing)."""
        if len(self._periods) < 2 or len(self._excursions) < 3:
            self.quality = 0.3
            return
        p = np.asarray(self._periods)
        a = np.asarray(self._excursions)
        cv_p = float(np.std(p) / (np.mean(p) + 1e-12))
        cv_a = float(np.std(a) / (np.mean(a) + 1e-12))
        self.quality = float(np.clip(1.0 - 1.5 * cv_p, 0.0, 1.0) * np.clip(1.0 - cv_a, 0.0, 1.0))

    def _hold_step(self, ti: float, yi: float, available: float) -> SignalNotice | None:
        if self._long_amp <= 0 or self._long_period <= 0 or len(self._hist_long) <= self._hold_lag:
            return None
        slope = abs(yi - self._hist_long[0]) * self.fs_hz / self._hold_lag
        lim = HOLD_SLOPE_SHARE * math.pi * self._long_amp / self._long_period
        if slope > lim:
            was = self._in_hold
            self._still_since = None
            self._in_hold = False
            if was:
                return SignalNotice("breathing_resumed", available, {"signal": self.signal}, available)
            return None
        if self._still_since is None:
            self._still_since = ti - HOLD_SLOPE_LAG_S
        if not self._in_hold and ti - self._still_since >= self.hold_after_s:
            self._in_hold = True
            return SignalNotice(
                "breath_hold", available, {"signal": self.signal, "since": round(self._still_since, 3)}, available
            )
        return None
