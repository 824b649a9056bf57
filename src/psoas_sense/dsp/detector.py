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
  period. This rejects heartbeat ripple and short motion spikes. A shallow half-breath (under
  ``SHALLOW_SHARE`` of the amplitude: often a pause halfway up an inspiration, before the real
  peak) needs the signal to leave its extreme by ``SHALLOW_DROP_SHARE`` of the amplitude before
  it is confirmed (waveforms and RR; not accelerometers, whose polarity evidence was tuned
  without it).
* A confirmed maximum that the signal then passes by ``REARM_SHARE`` of the amplitude was the
  first stage of a two-stage inspiration (a sigh): the dip since is reported as an inhale of
  quality 0 and the real peak as a further exhale, so events still alternate (waveforms only).
* The amplitude and period adapt from the medians of recent breaths; when nothing is confirmed
  for a while, the amplitude decays so shallower breathing is picked up (``BreathStats``).
* ``t_s`` is the time of the extreme minus the known delay of the causal filters, so it
  estimates the phase change in the sensor's time.

It also reports breath holds, the rate, per-breath durations and I:E ratio, and a 0-1 quality.
What it learns from recent breaths (amplitude, period, quality, exhale prediction) is in
:mod:`psoas_sense.dsp.breath_stats`, the hold watch in :mod:`psoas_sense.dsp.hold`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import numpy as np

from psoas_sense.dsp.breath_stats import BreathStats, round6
from psoas_sense.dsp.hold import HOLD_AFTER_S, HoldWatch, float_list, lagged_differences
from psoas_sense.model import BreathEvent, CoreEvent

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
WARMUP_S = 3.0
"""No events in the first seconds: filters settle and the amplitude estimate forms."""
NEAR_SHARE = 0.1
"""Samples within this share of the amplitude of an extreme count as its plateau."""
SHALLOW_SHARE = 0.45
"""A half-breath whose excursion is below this share of the amplitude is shallow: often a pause
on the way (a two-stage inspiration, an end-inspiratory bump before the real peak) ..."""
SHALLOW_DROP_SHARE = 0.2
"""... so its extreme is confirmed only once the signal has left it by this share of the
amplitude, whatever the slope."""
REARM_SHARE = 0.3
"""A confirmed maximum that the signal then passes by this share of the amplitude was the first
stage of a two-stage inspiration (a sigh): the dip between the stages is reported as an inhale
and the real peak as the exhale (waveforms only)."""


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
        self.slope_share = slope_share
        self.drop_share = drop_share
        self.rise_share = rise_share
        # accelerometers: their polarity evidence (the asymmetry of half-breaths) was tuned with
        # the plain rule; the shallow rule is for waveforms and RR
        self.shallow_share = 0.0 if signal == "acc" else SHALLOW_SHARE
        # a two-stage inspiration is a waveform's shape: not re-armed on accelerometers (see above)
        # nor on RR (a resonator's output has no such shape)
        self.rearm_share = math.inf if signal == "acc" or approximate else REARM_SHARE
        self._lag = max(1, int(round(SLOPE_LAG_S * fs_hz)))
        self._hist: deque[float] = deque(maxlen=self._lag + 1)
        self.stats = BreathStats(fs_hz, approximate=approximate)
        """What the detector has learnt from recent breaths (amplitude, period, quality)."""
        self.hold = HoldWatch(fs_hz, hold_after_s, signal)
        """The breath-hold watch."""
        self._n = 0
        self._t_first: float | None = None
        self._seeking = 0  # +1 seek a maximum, -1 seek a minimum, 0 undecided
        self._ext_v = -math.inf  # running extreme of the current half-breath
        self._ext_t = 0.0
        self._ext_d = 0.0  # filter delay at the extreme
        self._near_t = 0.0  # last time the signal was within NEAR_SHARE of the extreme
        self._hi_v, self._hi_t, self._hi_d = -math.inf, 0.0, 0.0  # undecided: running max and min
        self._lo_v, self._lo_t, self._lo_d = math.inf, 0.0, 0.0
        self._prev_v = math.nan  # value of the last confirmed extreme (NaN: undecided)
        self._prev_t = -math.inf  # sensor time of the last confirmed extreme
        self._prev_grid_t = -math.inf  # grid time of the last confirmed extreme
        self._last_confirm_at = -math.inf  # grid time of the last confirmation
        self._premature = False  # the last confirmed extreme was passed again
        self._confirmed_v = 0.0  # value of the last confirmed extreme, as confirmed
        self._caution = {1: 0.0, -1: 0.0}  # per kind (+1 maxima, -1 minima): 0-1
        self._last_exhale_t: float | None = None
        self._exhale_before_t: float | None = None  # the exhale before the last one
        self._trough_v, self._trough_grid_t = 0.0, 0.0  # the extreme before the last maximum
        self._dip_v, self._dip_t, self._dip_d = math.inf, 0.0, 0.0  # lowest since that maximum
        self._last_inhale_t: float | None = None
        self._last_inhale_s: float | None = None  # duration of the last inhale
        self._settled = 0  # exhales confirmed since the last reset
        self.polarity = 1.0
        """The input is multiplied by this (+1/-1) before detection (accelerometers)."""
        self.on_event: Callable[[PhaseDetector, BreathEvent], list[CoreEvent]] | None = None
        """Called with each event as it is confirmed, before the next sample (may ``flip``); what it
        returns is emitted right after the event."""
        self.polarity_confidence: float | None = None
        """Reported on events when set (accelerometers)."""
        self.event_index = 0
        """Index (in the current :meth:`process` call) of the sample that confirmed the event
        :attr:`on_event` is called with."""

    # -- state that callers may read
    @property
    def period_s(self) -> float:
        """Recent breath period (median)."""
        return self.stats.period_s

    @property
    def rate_bpm(self) -> float | None:
        """Breathing rate from the recent breath periods (or the extractor's tracked period)."""
        return self.stats.rate_bpm

    @property
    def amplitude(self) -> float:
        """Current estimate of a breath's peak-to-trough amplitude."""
        return self.stats.amplitude

    @property
    def hold_after_s(self) -> float:
        """Stillness that counts as a breath hold, seconds."""
        return self.hold.hold_after_s

    @hold_after_s.setter
    def hold_after_s(self, value: float) -> None:
        """Change the stillness that counts as a breath hold, seconds."""
        self.hold.hold_after_s = value

    @property
    def quality(self) -> float:
        """Signal-quality index 0-1 of the most recent breaths."""
        return self.stats.quality

    def reset_phase(self) -> None:
        """Forget the half-breath in progress (after a gap in the signal)."""
        self._seeking = 0
        self._ext_v = -math.inf
        self._hi_v, self._lo_v = -math.inf, math.inf
        self._prev_v = math.nan
        self._hist.clear()
        self.hold.reset()
        self._last_exhale_t = None
        self._last_inhale_t = None
        self._settled = 0

    def flip(self) -> None:
        """Invert the polarity from the next sample on, keeping the half-breath in progress."""
        self.polarity = -self.polarity
        self._seeking = -self._seeking
        self._ext_v = -self._ext_v
        self._confirmed_v = -self._confirmed_v
        self._prev_v = -self._prev_v
        self._hi_v, self._lo_v, self._hi_t, self._lo_t = -self._lo_v, -self._hi_v, self._lo_t, self._hi_t
        self._hi_d, self._lo_d = self._lo_d, self._hi_d
        self._hist = deque((-x for x in self._hist), maxlen=self._lag + 1)
        self.hold.flip()
        self._last_exhale_t, self._last_inhale_t = self._last_inhale_t, self._last_exhale_t
        self._last_inhale_s = None

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
        if n == 0:
            return events
        st, hold = self.stats, self.hold
        y_arr = np.asarray(y, dtype=np.float64)
        pol = self.polarity
        # the slopes do not depend on the state: vectorised, in the input's own polarity (a flip
        # only changes their sign), reaching back into earlier calls
        slope_l = (lagged_differences(self._hist, pol, y_arr)[0] / (self._lag / self.fs_hz)).tolist()
        hold_l = hold.slopes(pol, y_arr)
        # Python lists: element access in the loop is several times faster than on arrays
        y_l = y_arr.tolist()
        t_l, a_l, d_l, r_l = (float_list(v, n) for v in (t, available_s, delay_s, ripple))
        p_l = None if period_s is None else np.asarray(period_s, dtype=np.float64).tolist()
        self._t_first = t_l[0] if self._t_first is None else self._t_first
        t_first, alpha, rms_amp = self._t_first, st.rms_alpha, 2.0 * math.sqrt(2.0)
        ms, started = st.ms, self._n > 0
        self._n += n
        # the state lives in locals in the loop; it is put back before anything else sees it
        s, ext_v, ext_t, ext_d, near_t, prev_v, dip_v, dip_t, dip_d, last_conf = self._state()
        amp_fix, decay_at, hold_on, lim = st.loop_view()
        h_since, h_in, h_after = hold.still_since, hold.in_hold, hold.hold_after_s
        c_amp, near_thr, low_bar, start = math.nan, 0.0, 0.0, (0, 0.0, 0.0)
        for i in range(n):
            ti = t_l[i]
            yi = y_l[i] * pol
            if started:
                ms = ms + alpha * (yi * yi - ms)
            else:
                ms, started = yi * yi, True
            if ti - t_first < WARMUP_S:
                if yi > self._hi_v:
                    self._hi_v, self._hi_t, self._hi_d = yi, ti, d_l[i]
                if yi < self._lo_v:
                    self._lo_v, self._lo_t, self._lo_d = yi, ti, d_l[i]
                continue
            # (inlined BreathStats.effective_amplitude for the common case: breathing goes on)
            amp = amp_fix if amp_fix is not None else rms_amp * math.sqrt(ms)
            if ti - last_conf > decay_at:
                st.ms = ms
                amp = st.effective_amplitude(ti, last_conf)
            if amp <= 0:
                continue
            # breath hold: the signal stays within a small range (the watch only sees samples that
            # may change its state)
            if hold_on:
                hv = hold_l[i]
                if (h_in or h_since is not None) if hv > lim else (
                    not hv < 0.0 and (h_since is None or (not h_in and ti - h_since >= h_after))
                ):
                    ev = hold.step_slope(ti, hv, a_l[i], lim)
                    h_since, h_in = hold.still_since, hold.in_hold
                    if ev is not None:
                        events.append(ev)
            if amp != c_amp:
                c_amp, near_thr = amp, NEAR_SHARE * amp
                cau = self._caution[s] if s else 0.0
                # no turn can be confirmed without leaving the extreme by at least this much
                low_bar = min(self.drop_share * amp * (1.0 + CAUTION_GAIN * cau), FALLBACK_DROP_SHARE * amp)
            act = 0  # 1 start, 2 re-arm, 3 confirm
            if s == 0:
                if yi > self._hi_v:
                    self._hi_v, self._hi_t, self._hi_d = yi, ti, d_l[i]
                if yi < self._lo_v:
                    self._lo_v, self._lo_t, self._lo_d = yi, ti, d_l[i]
                # the first turn decides the phase; it is not reported
                if self._hi_v - yi > FALLBACK_DROP_SHARE * amp and self._hi_t > self._lo_t:
                    act, start = 1, (-1, self._hi_v, self._hi_t)
                elif yi - self._lo_v > FALLBACK_DROP_SHARE * amp and self._lo_t > self._hi_t:
                    act, start = 1, (1, self._lo_v, self._lo_t)
                else:
                    continue
            if s and s * (yi - prev_v) < 0:
                # beyond the last confirmed extreme: that one was not the end of the half-breath
                if s * (self._confirmed_v - yi) > PREMATURE_SHARE * amp and not self._premature:
                    # the last (opposite) extreme was confirmed too early: be more careful with
                    # that kind of extreme from now on
                    self._premature = True
                    self._caution[-s] = min(1.0, self._caution[-s] + CAUTION_STEP)
                prev_v = yi
                if s < 0 and yi - self._confirmed_v > self.rearm_share * amp and dip_v < yi:
                    act = 2
            if act == 0:
                if s < 0 and yi < dip_v:
                    dip_v, dip_t, dip_d = yi, ti, d_l[i]
                if s * yi > s * ext_v:
                    ext_v, ext_t, ext_d, near_t = yi, ti, d_l[i], ti
                    continue  # at the extreme: no turn
                left = s * (ext_v - yi)
                if left <= near_thr:
                    near_t = ti  # still on the plateau of the extreme
                if left <= low_bar:
                    continue
                excursion = s * (ext_v - prev_v)
                cau = self._caution[s]
                need = max(self.drop_share * amp * (1.0 + CAUTION_GAIN * cau), RIPPLE_MARGIN * cau * r_l[i])
                if excursion < self.shallow_share * amp:
                    need = max(need, SHALLOW_DROP_SHARE * amp)
                per = st.period_s
                typical_slope = math.pi * amp / per
                turned = (-s * slope_l[i] * pol > self.slope_share * typical_slope and left > need) or (
                    left > FALLBACK_DROP_SHARE * amp)
                if not turned:
                    continue
                min_half = max(MIN_HALF_S, MIN_HALF_SHARE * per)
                if excursion < self.rise_share * amp or ext_t - self._prev_grid_t < min_half:
                    # ripple, a shallow wiggle or a spike too soon after the last extreme: not a
                    # breath; search the extreme again from here
                    ext_v, ext_t, ext_d, near_t = yi, ti, d_l[i], ti
                    continue
                act = 3
            self._put(s, ext_v, ext_t, ext_d, near_t, prev_v, dip_v, dip_t, dip_d)
            st.ms = ms
            if p_l is not None:
                st.track_period(p_l, i)
            if act == 1:
                self._start(*start, ti, yi, d_l[i])
            else:
                ev_c = (self._rearm(yi, ti, d_l[i], a_l[i]) if act == 2
                        else self._confirm(s, ti, yi, d_l[i], a_l[i], amp))
                events.append(ev_c)
                pred = st.predict_exhale(ev_c, self.signal) if act == 3 and ev_c.kind == "inhale" else None
                if pred is not None:
                    events.append(pred)
                if self.on_event is not None:
                    self.event_index = i
                    events.extend(self.on_event(self, ev_c))  # (may flip)
            s, ext_v, ext_t, ext_d, near_t, prev_v, dip_v, dip_t, dip_d, last_conf = self._state()
            (amp_fix, decay_at, hold_on, lim), pol, c_amp = st.loop_view(), self.polarity, math.nan
        self._put(s, ext_v, ext_t, ext_d, near_t, prev_v, dip_v, dip_t, dip_d)
        st.ms = ms
        if p_l is not None:
            st.track_period(p_l, n - 1)
        for h in (self._hist, hold.history):
            h.extend((y_arr[-(h.maxlen or 1) :] * pol).tolist())
        return events

    def _state(self) -> tuple[int, float, float, float, float, float, float, float, float, float]:
        """The state :meth:`process` keeps in locals."""
        return (self._seeking, self._ext_v, self._ext_t, self._ext_d, self._near_t, self._prev_v, self._dip_v,
                self._dip_t, self._dip_d, self._last_confirm_at)

    def _put(self, s: int, *state: float) -> None:
        """Put back the state of :meth:`_state` (but the last confirmation's time: the loop keeps it)."""
        self._seeking = s
        self._ext_v, self._ext_t, self._ext_d, self._near_t, self._prev_v, self._dip_v, self._dip_t, self._dip_d = state

    def _start(self, seeking: int, v: float, t_ext: float, ti: float, yi: float, di: float) -> None:
        self._prev_v, self._prev_grid_t, self._prev_t, self._seeking = v, t_ext, t_ext, seeking
        self._ext_v, self._ext_t, self._ext_d, self._near_t, self._last_confirm_at = yi, ti, di, ti, ti

    def _rearm(self, yi: float, ti: float, di: float, available: float) -> BreathEvent:
        """The signal rose well past the last confirmed maximum: that was the first stage of a
        two-stage inspiration. Report the lowest point since as an inhale (so events still
        alternate; it teaches nothing and carries quality 0) and seek the real peak, measured from
        the trough before the first stage (one inspiration); the real peak's inhale and period
        run from the inhale and exhale before the first stage."""
        last_inhale_t, last_inhale_s = self._last_inhale_t, self._last_inhale_s
        trough_v, trough_t = self._trough_v, self._trough_grid_t
        self._ext_v, self._ext_t, self._ext_d = self._dip_v, self._dip_t, self._dip_d
        self._near_t = self._dip_t
        ev = self._confirm(-1, ti, yi, di, available, 0.0, learn=False)
        self._last_inhale_t, self._last_inhale_s = last_inhale_t, last_inhale_s
        self._last_exhale_t = self._exhale_before_t
        self._prev_v, self._prev_grid_t = trough_v, trough_t
        return ev

    def _confirm(
        self, s: int, ti: float, yi: float, di: float, available: float, amp: float, *, learn: bool = True
    ) -> BreathEvent:
        st = self.stats
        if learn:
            st.add_excursion(s * (self._ext_v - self._prev_v))
            self._caution[s] *= CAUTION_DECAY
        self._premature = False
        t_ext_grid = self._ext_t
        # the middle of a flat (clipped, held) extreme, the extreme itself when it is sharp
        t_phase = 0.5 * (t_ext_grid + max(self._near_t, t_ext_grid)) - self._ext_d
        kind = "exhale" if s == 1 else "inhale"
        inhale_s = exhale_s = ie = None
        if kind == "exhale":
            self._exhale_before_t = self._last_exhale_t
            self._trough_v, self._trough_grid_t = self._prev_v, self._prev_grid_t
            self._dip_v = math.inf
            if self._last_exhale_t is not None:
                st.add_period(t_phase - self._last_exhale_t)
            if self._last_inhale_t is not None:
                inhale_s = t_phase - self._last_inhale_t
                self._last_inhale_s = inhale_s
                st.add_inhale(inhale_s)
            self._last_exhale_t = t_phase
            self._settled += 1
        else:
            if self._last_exhale_t is not None:
                exhale_s = t_phase - self._last_exhale_t
                if self._last_inhale_s is not None and exhale_s > 0:
                    ie = self._last_inhale_s / exhale_s
            self._last_inhale_t = t_phase
        if learn:
            st.refresh()
            st.update_quality()
        # rounded so that sub-microsecond float noise of chunked filtering cannot show
        t6, rate = round(t_phase, 6), self.rate_bpm
        ev = BreathEvent(
            kind=kind,  # type: ignore[arg-type]
            t_s=t6, detected_at_s=max(available, t6), signal=self.signal, approximate=self.approximate,
            rate_bpm=None if rate is None else round(rate, 4),
            quality=round(st.event_quality(self._settled, self.polarity_confidence), 3) if learn else 0.0,
            inhale_s=round6(inhale_s), exhale_s=round6(exhale_s), ie_ratio=round6(ie),
            polarity_confidence=self.polarity_confidence,
        )
        # the new half-breath starts at the confirmed extreme
        self._prev_v = self._confirmed_v = self._ext_v
        self._prev_grid_t, self._prev_t, self._seeking = t_ext_grid, t_phase, -s
        self._ext_v, self._ext_t, self._ext_d, self._near_t, self._last_confirm_at = yi, ti, di, ti, ti
        return ev
