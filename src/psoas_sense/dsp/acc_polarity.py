"""The inhale direction of an accelerometer's breathing axis, as one detector goes.

:class:`AccPolarity` gathers the evidence (the breath's shape, heart rate paired with the breathing
signal, a calibration breath) at the moments the pipeline gives it, asks the
:class:`~psoas_sense.dsp.polarity.PolarityTracker` to decide at each breath event (a flip turns the
detector over from the next sample), and queues the ``polarity`` notices that say why.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from psoas_sense.dsp.detector import PhaseDetector
from psoas_sense.dsp.extract import RRExtractor
from psoas_sense.dsp.extract.base import AxisShape
from psoas_sense.dsp.polarity import RR_LAGS_S, PolarityTracker
from psoas_sense.dsp.shape_evidence import ShapeEvidence
from psoas_sense.model import BreathEvent, CoreEvent, RRFrame, SignalNotice

CALIBRATION_MARKERS = ("calibrate_inhale", "breathe_in")
"""Markers that start a polarity calibration: the user breathes in deeply now."""
CALIBRATION_WINDOW_S = (0.5, 6.0)
"""The calibration breath is looked for this long after the marker (start, end)."""
CALIBRATION_SHARE = 0.75
"""Share of the largest deviation in the calibration window that marks the deep breath."""
CONFIDENT_ON, CONFIDENT_OFF = 0.7, 0.6
"""A ``polarity`` notice is sent when the confidence reaches 0.7 and when it falls below 0.6."""
HISTORY_S = 30.0
"""Seconds of breathing signal kept for pairing with heart rate (bounded memory)."""
RR_SETTLE_S = 3.0
"""A heart-rate sample counts as polarity evidence at the first breath event this long after the
breathing it is paired with: by then it has arrived whatever the chunking of the two streams (up
to 3 s chunks), so the polarity decided at each event does not depend on it."""


class AccPolarity:
    """Polarity evidence and decisions for one accelerometer chain.

    Args:
        detector: the chain's detector (its polarity is flipped and its confidence set here).
    """

    def __init__(self, detector: PhaseDetector) -> None:
        self.detector = detector
        self.tracker = PolarityTracker()
        """The evidence and the decision."""
        self.shape = ShapeEvidence(detector.fs_hz)
        detector.on_event = self._on_event
        detector.polarity_confidence = 0.0
        self._hr = RRExtractor()
        self._hist_t: deque[np.ndarray] = deque()
        self._hist_y: deque[np.ndarray] = deque()
        self._hist_d = 0.0
        self._hr_queue: list[tuple[float, float, float]] = []
        self._pairs: deque[tuple[float, float, float, np.ndarray]] = deque()  # (t_b, t_h, hr, y at lags)
        self._last_hr_t: float | None = None
        self._cal: list[float] = []  # [start, end] while calibrating
        self._cal_y: list[np.ndarray] = []
        self._confident = False
        self._pending: list[CoreEvent] = []

    @property
    def calibration_end_s(self) -> float | None:
        """End of the calibration window in progress, if any."""
        return self._cal[1] if self._cal else None

    def take_notices(self) -> list[CoreEvent]:
        """The notices queued since the last call."""
        out, self._pending = self._pending, []
        return out

    def posture_shift(self, t_s: float) -> None:
        """The posture changed at ``t_s``: a new axis, the evidence forgotten."""
        self.tracker.reset()
        self.shape.reset()
        self._pairs.clear()
        self._decide(t_s, reason="posture_shift")

    def before_detection(self, t: np.ndarray, y: np.ndarray, shape: AxisShape | None) -> None:
        """A piece of still signal about to go through the detector."""
        self._calibration_step(t, y)
        if shape is not None:
            self.shape.process(shape)

    def after_detection(self, t: np.ndarray, y: np.ndarray, delay: np.ndarray | float) -> None:
        """A frame's whole signal (NaN where the body moved) after the detector saw it."""
        self._remember(t, y, delay)
        self._pair_hr()

    def _on_event(self, det: PhaseDetector, ev: BreathEvent) -> list[CoreEvent]:
        """Called by the detector as each event is confirmed: the evidence then, and the decision."""
        if ev.kind == "inhale" and ev.exhale_s is not None and ev.ie_ratio is not None and ev.ie_ratio > 0:
            self.tracker.add_breath(ev.ie_ratio * ev.exhale_s, ev.exhale_s)
        self._absorb_pairs(ev.detected_at_s)
        self.tracker.set_shape(*self.shape.at(det.event_index))
        self._decide(ev.detected_at_s)
        return self.take_notices()

    def _decide(self, t_s: float, reason: str | None = None) -> None:
        """Decide at ``t_s``; a notice goes out on a flip, a reason, or a change of confidence."""
        flipped = self.tracker.decide(t_s)
        if flipped:
            self.detector.flip()
        conf = round(self.tracker.decided_confidence, 3)
        self.detector.polarity_confidence = conf
        # confident from 0.7, no longer below 0.6 (no notice chatter around one value)
        confident = conf >= CONFIDENT_ON if not self._confident else conf >= CONFIDENT_OFF
        if flipped or reason is not None or confident != self._confident:
            self._confident = confident
            self._pending.append(
                SignalNotice(
                    "polarity",
                    t_s,
                    {"inhale": "+axis" if self.tracker.polarity > 0 else "-axis", "confidence": conf,
                     "source": self.tracker.source, "flipped": flipped,
                     "reason": reason or (f"{self.tracker.source} evidence" if flipped else "confidence"),
                     "evidence": {k: round(v, 2) for k, v in self.tracker.parts.items() if v}},
                    t_s,
                )
            )

    def _remember(self, t: np.ndarray, y: np.ndarray, delay: np.ndarray | float) -> None:
        """Keep the last ``HISTORY_S`` of the axis-frame breathing signal for the heart-rate pairs."""
        self._hist_t.append(t)
        self._hist_y.append(y)
        d = np.asarray(delay, dtype=np.float64)
        self._hist_d = float(d[-1]) if d.ndim else float(d)
        while len(self._hist_t) > 1 and self._hist_t[0][-1] < t[-1] - HISTORY_S:
            self._hist_t.popleft()
            self._hist_y.popleft()

    def _absorb_pairs(self, t_s: float) -> None:
        """Give the polarity the heart-rate pairs whose breathing is ``RR_SETTLE_S`` before ``t_s``."""
        added = False
        while self._pairs and self._pairs[0][0] <= t_s - RR_SETTLE_S:
            _, t_h, h, yb = self._pairs.popleft()
            dt = 0.25 if self._last_hr_t is None else min(1.0, max(0.0, t_h - self._last_hr_t))
            self._last_hr_t = t_h
            self.tracker.add_rr_pairs(h, yb, dt)
            added = True
        if added:
            self.tracker.period_s = self.detector.period_s

    def _pair_hr(self) -> None:
        """Pair queued heart-rate samples with the axis-frame breathing signal once it covers them
        (they count at a later breath event: :meth:`_absorb_pairs`)."""
        if not self._hr_queue or not self._hist_t or False:
            return
        newest = float(self._hist_t[-1][-1])
        keep: list[tuple[float, float, float]] = []
        ht = np.concatenate(self._hist_t)
        hy = np.concatenate(self._hist_y)
        for t_h, h, d_h in self._hr_queue:
            t_b = t_h - d_h + self._hist_d
            if t_b > newest:
                keep.append((t_h, h, d_h))
                continue
            if t_b - RR_LAGS_S[-1] < ht[0]:
                continue
            yb = np.interp(t_b - np.asarray(RR_LAGS_S), ht, hy)
            if np.isnan(yb).any():
                continue
            self._pairs.append((t_b, t_h, h, yb))
        self._hr_queue = keep
        # bounded while no breath event takes them (motion, a stalled detector)
        while len(self._pairs) > int(HISTORY_S * self._hr.fs_hz):
            self._pairs.popleft()

    def feed_rr(self, frame: RRFrame) -> None:
        """Heart rate from RR intervals, paired with the breathing signal as evidence of polarity."""
        ex = self._hr.process(frame.t_s, frame.rr_ms)
        if ex.t.shape[0] == 0:
            return
        # the filter's delay only: the heart's own lag is what the correlation's lags look for
        d = self._hr.filter_delay_s
        self._hr_queue.extend((float(a), float(b), d) for a, b in zip(ex.t, ex.y))
        # bounded even when the accelerometer lags far behind or has stopped
        del self._hr_queue[: max(0, len(self._hr_queue) - int(HISTORY_S * self._hr.fs_hz))]
        self._pair_hr()

    def calibrate(self, t_s: float) -> None:
        """A calibration cue at ``t_s``: the deep breath in is looked for in the window after it."""
        self._cal = [t_s + CALIBRATION_WINDOW_S[0], t_s + CALIBRATION_WINDOW_S[1]]
        self._cal_y = []

    def _calibration_step(self, t: np.ndarray, y_axis: np.ndarray) -> None:
        """The deep breath in is the first large excursion after the cue: the first time the
        signal leaves its value at the window start by ``CALIBRATION_SHARE`` of the largest
        deviation in the window; its sign along the axis is the inhale direction."""
        if not self._cal:
            return
        start, end = self._cal
        m = (t >= start) & (t <= end)
        if m.any():
            self._cal_y.append(y_axis[m])
        if t[-1] > end:
            self._cal = []
            if not self._cal_y:
                return
            w = np.concatenate(self._cal_y)
            dev = w - w[0]
            big = float(np.max(np.abs(dev)))
            if big <= 0:
                return
            j = int(np.nonzero(np.abs(dev) >= CALIBRATION_SHARE * big)[0][0])
            self.tracker.calibrate(1 if dev[j] > 0 else -1)
            # takes effect from this sample on (the caller cut the chunk here)
            self._decide(float(t[0]))
