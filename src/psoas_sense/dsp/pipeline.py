"""The streaming pipeline of the pure core: items -> frames -> breathing signal -> events.

``Pipeline.feed(item)`` takes anything a source yields (raw notification, sample frame,
status, marker) and returns the events it produces. It holds no clock and does no I/O; feeding
the same items in the same order always gives the same events, and splitting a frame into
smaller frames does not change them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from psoas_sense.decode import NotificationDecoder
from psoas_sense.dsp.detector import RISE_SHARE, PhaseDetector
from psoas_sense.dsp.extract import AccExtractor, Extractor, RespExtractor, RRExtractor
from psoas_sense.dsp.polarity import RR_LAGS_S, PolarityTracker
from psoas_sense.dsp.shape_evidence import ShapeEvidence
from psoas_sense.model import (
    AccFrame,
    BreathEvent,
    CoreEvent,
    DeviceRateFrame,
    Item,
    Marker,
    Notification,
    RespFrame,
    RRFrame,
    SampleFrame,
    SignalNotice,
)

SIGNALS = ("resp", "acc", "rr")
"""Signals the detector can run on, best first (the order ``auto`` prefers)."""
STALE_S = 5.0
"""In ``auto`` mode a signal whose newest sample is older than this gives way to the next one."""


CALIBRATION_MARKERS = ("calibrate_inhale", "breathe_in")
"""Markers that start a polarity calibration: the user breathes in deeply now."""
CALIBRATION_WINDOW_S = (0.5, 6.0)
"""The calibration breath is looked for this long after the marker (start, end)."""
RR_RISE_SHARE = 0.25
"""RSA swings vary a lot from breath to breath: a lower bar for a half-breath from RR."""
CALIBRATION_SHARE = 0.75
"""Share of the largest deviation in the calibration window that marks the deep breath."""
TRACE_S = 30.0
"""Seconds of extracted breathing signal kept for display (:meth:`Pipeline.trace`)."""
CONFIDENT_ON, CONFIDENT_OFF = 0.7, 0.6
"""A ``polarity`` notice is sent when the confidence reaches 0.7 and when it falls below 0.6."""
HISTORY_S = 30.0
"""Seconds of breathing signal kept for pairing with heart rate (bounded memory)."""
RR_SETTLE_S = 3.0
"""A heart-rate sample counts as polarity evidence at the first breath event this long after the
breathing it is paired with: by then it has arrived whatever the chunking of the two streams (up
to 3 s chunks), so the polarity decided at each event does not depend on it."""


class _Chain:
    """Extractor + detector for one signal (+ polarity for accelerometers)."""

    def __init__(self, kind: str, rate_hz: float | None) -> None:
        self.kind = kind
        self.extractor: Extractor
        if kind == "resp":
            self.extractor = RespExtractor(rate_hz)
        elif kind == "acc":
            self.extractor = AccExtractor(rate_hz)
        else:
            self.extractor = RRExtractor()
        self.detector = PhaseDetector(
            self.extractor.fs_hz,
            signal=kind,
            approximate=kind == "rr",
            rise_share=RR_RISE_SHARE if kind == "rr" else RISE_SHARE,
        )
        self.newest_s = -np.inf
        self.events_seen = 0
        self.trace: deque[tuple[np.ndarray, np.ndarray]] = deque()
        """Recent extracted signal (times, values), at most :data:`TRACE_S` seconds."""
        self._gaps_reported = 0
        self._moving = False
        self.polarity: PolarityTracker | None = None
        self._pending: list[CoreEvent] = []
        if kind == "acc":
            self.polarity = PolarityTracker()
            self.shape = ShapeEvidence(self.extractor.fs_hz)
            self.detector.on_event = self._on_event
            self.detector.polarity_confidence = 0.0
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

    # -- accelerometer polarity
    def _on_event(self, det: PhaseDetector, ev: BreathEvent) -> list[CoreEvent]:
        assert self.polarity is not None
        if ev.kind == "inhale" and ev.exhale_s is not None and ev.ie_ratio is not None and ev.ie_ratio > 0:
            self.polarity.add_breath(ev.ie_ratio * ev.exhale_s, ev.exhale_s)
        self._absorb_pairs(ev.detected_at_s)
        self.polarity.set_shape(*self.shape.at(det.event_index))
        self._decide(ev.detected_at_s)
        out, self._pending = self._pending, []
        return out

    def _decide(self, t_s: float, reason: str | None = None) -> None:
        assert self.polarity is not None
        flipped = self.polarity.decide(t_s)
        if flipped:
            self.detector.flip()
        conf = round(self.polarity.confidence, 3)
        self.detector.polarity_confidence = conf
        # confident from 0.7, no longer below 0.6 (no notice chatter around one value)
        confident = conf >= CONFIDENT_ON if not self._confident else conf >= CONFIDENT_OFF
        if flipped or reason is not None or confident != self._confident:
            self._confident = confident
            self._pending.append(
                SignalNotice(
                    "polarity",
                    t_s,
                    {"inhale": "+axis" if self.polarity.polarity > 0 else "-axis", "confidence": conf,
                     "source": self.polarity.source, "flipped": flipped,
                     "reason": reason or (f"{self.polarity.source} evidence" if flipped else "confidence"),
                     "evidence": {k: round(v, 2) for k, v in self.polarity.parts.items() if v}},
                    t_s,
                )
            )

    def _remember(self, t: np.ndarray, y: np.ndarray, delay: np.ndarray | float) -> None:
        self._hist_t.append(t)
        self._hist_y.append(y)
        d = np.asarray(delay, dtype=np.float64)
        self._hist_d = float(d[-1]) if d.ndim else float(d)
        while len(self._hist_t) > 1 and self._hist_t[0][-1] < t[-1] - HISTORY_S:
            self._hist_t.popleft()
            self._hist_y.popleft()

    def _absorb_pairs(self, t_s: float) -> None:
        """Give the polarity the heart-rate pairs whose breathing is ``RR_SETTLE_S`` before ``t_s``."""
        assert self.polarity is not None
        added = False
        while self._pairs and self._pairs[0][0] <= t_s - RR_SETTLE_S:
            _, t_h, h, yb = self._pairs.popleft()
            dt = 0.25 if self._last_hr_t is None else min(1.0, max(0.0, t_h - self._last_hr_t))
            self._last_hr_t = t_h
            self.polarity.add_rr_pairs(h, yb, dt)
            added = True
        if added:
            self.polarity.period_s = self.detector.period_s

    def _pair_hr(self) -> None:
        """Pair queued heart-rate samples with the axis-frame breathing signal once it covers them
        (they count at a later breath event: :meth:`_absorb_pairs`)."""
        if not self._hr_queue or not self._hist_t or self.polarity is None:
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

    def feed_rr_for_polarity(self, frame: RRFrame) -> None:
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
        if self.polarity is not None:
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
            assert self.polarity is not None
            self.polarity.calibrate(1 if dev[j] > 0 else -1)
            # takes effect from this sample on (the caller cut the chunk here)
            self._decide(float(t[0]))

    def _keep_trace(self, t: np.ndarray, y: np.ndarray) -> None:
        """Keep the last :data:`TRACE_S` seconds of the extracted signal (for a screen's trace)."""
        self.trace.append((np.array(t, dtype=np.float64), np.array(y, dtype=np.float64)))
        newest = float(t[-1])
        while self.trace and float(self.trace[0][0][-1]) < newest - TRACE_S:
            self.trace.popleft()

    def feed(self, frame: SampleFrame) -> list[CoreEvent]:
        """Extract and detect on one frame; returns its events in the order they became known."""
        if isinstance(frame, RespFrame):
            ex = self.extractor.process(frame.t_s, frame.resp)
        elif isinstance(frame, AccFrame):
            ex = self.extractor.process(frame.t_s, frame.acc_mg)
        elif isinstance(frame, RRFrame):
            ex = self.extractor.process(frame.t_s, frame.rr_ms)
        else:
            return []
        if frame.t_s.size:
            self.newest_s = max(self.newest_s, float(frame.t_s[-1]))
        events: list[CoreEvent] = list(ex.notices)
        if ex.t.shape[0] == 0:
            return events
        self._keep_trace(ex.t, ex.y)
        delay = np.broadcast_to(np.asarray(ex.delay, dtype=np.float64), ex.t.shape)
        ripple = np.broadcast_to(np.asarray(ex.ripple, dtype=np.float64), ex.t.shape)
        extra: set[int] = set()
        if self.polarity is not None and self._cal:
            # a calibration window ending inside this chunk: decide exactly after its last sample,
            # so the flip lands on the same sample whatever the chunking
            extra.add(int(np.searchsorted(ex.t, self._cal[1], side="right")))
        moving = ex.moving
        if moving is not None and moving.any():
            # motion runs are cut out: the detector sees none of their samples
            edges = np.nonzero(np.diff(moving.astype(np.int8)))[0] + 1
            extra.update(edges.tolist())
        cuts = sorted({0, ex.t.shape[0], *ex.gap_starts, *ex.resets, *ex.posture_shifts, *extra})
        resets = set(ex.resets)
        posture = set(ex.posture_shifts)
        for j in range(len(cuts) - 1):
            a, b = cuts[j], cuts[j + 1]
            for _ in range(ex.gap_starts.count(a)):
                # one notice pair per gap, in order (the extractor reports each gap once, at
                # the index of the first grid sample after it)
                self.detector.reset_phase()
                gaps_s = self.extractor.gaps
                k = self._gaps_reported
                gs, ge = gaps_s[k] if k < len(gaps_s) else (float(ex.t[a]), float(ex.t[a]))
                self._gaps_reported += 1
                back_s = float(ex.available[a])
                events.append(
                    SignalNotice("signal_lost", float(gs), {"signal": self.kind, "gap_s": round(ge - gs, 3)}, back_s)
                )
                events.append(SignalNotice("signal_restored", back_s, {"signal": self.kind}, back_s))
            if a in resets:
                self.detector.reset_phase()
            if a in posture and self.polarity is not None:
                self.detector.reset_phase()
                self.polarity.reset()
                self.shape.reset()
                self._pairs.clear()
                self._decide(float(ex.available[a]), reason="posture_shift")
            if b > a and moving is not None and moving[a]:
                if not self._moving:
                    self.detector.reset_phase()
                self._moving = True
                continue
            self._moving = False
            if b > a and self.polarity is not None:
                self._calibration_step(ex.t[a:b], ex.y[a:b])
                if ex.shape is not None:
                    self.shape.process(ex.shape.slice(a, b))
            if b > a:
                per = None if ex.period is None else ex.period[a:b]
                evs = self.detector.process(ex.t[a:b], ex.y[a:b], ex.available[a:b], delay[a:b], ripple[a:b], per)
                events.extend(self._pending)
                self._pending = []
                events.extend(evs)
        if self.polarity is not None:
            # no heart-rate pairing with the samples of a motion run (their signal is meaningless)
            self._remember(ex.t, ex.y if moving is None else np.where(moving, np.nan, ex.y), delay)
            self._pair_hr()
            events.extend(self._pending)
            self._pending = []
        # extractor notices and detector events in the order they became known (stable)
        events.sort(key=lambda e: e.detected_at_s)
        self.events_seen += sum(isinstance(e, BreathEvent) for e in events)
        return events


class Pipeline:
    """Source items in, breath events out.

    Args:
        signal: ``auto`` (the best signal the source has: resp, then acc, then rr; while a
            better signal has not produced a breath yet or has gone stale, the next one
            carries the session), or one of ``resp``, ``acc``, ``rr``.
        streams: the recording header's streams (name -> ``{"rate_hz": ...}``), used for
            nominal sample rates.
    """

    def __init__(self, signal: str = "auto", streams: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        if signal != "auto" and signal not in SIGNALS:
            raise ValueError(f"unknown signal {signal!r}; choose auto, {', '.join(SIGNALS)}")
        self.signal = signal
        self.streams = dict(streams or {})
        self.decoder = NotificationDecoder()
        self._chains: dict[str, _Chain] = {}
        self._device_rate: tuple[float | None] | None = None

    def _chain(self, kind: str) -> _Chain | None:
        if self.signal != "auto" and kind != self.signal:
            return None
        if kind not in SIGNALS:
            return None
        ch = self._chains.get(kind)
        if ch is None:
            spec = self.streams.get(kind, {})
            rate = spec.get("rate_hz") if isinstance(spec, Mapping) else None
            ch = _Chain(kind, float(rate) if rate else None)
            self._chains[kind] = ch
        return ch

    @property
    def active_signal(self) -> str | None:
        """The signal whose events are being reported now."""
        if self.signal != "auto":
            return self.signal if self.signal in self._chains else None
        if not self._chains:
            return None
        newest = max(c.newest_s for c in self._chains.values())
        for kind in SIGNALS:
            ch = self._chains.get(kind)
            if ch is not None and ch.events_seen > 0 and ch.newest_s >= newest - STALE_S:
                return kind
        for kind in SIGNALS:
            if kind in self._chains:
                return kind
        return None

    def trace(self, span_s: float = TRACE_S) -> tuple[np.ndarray, np.ndarray]:
        """The active signal's extracted breathing signal over the last ``span_s`` seconds.

        The same signal the detector reads (for a screen's breathing trace); empty arrays
        before any.
        """
        kind = self.active_signal
        ch = self._chains.get(kind) if kind is not None else None
        if ch is None or not ch.trace:
            return np.zeros(0), np.zeros(0)
        t = np.concatenate([a for a, _ in ch.trace])
        y = np.concatenate([b for _, b in ch.trace])
        keep = t >= t[-1] - span_s
        return t[keep], y[keep]

    def frames_of(self, item: Item) -> list[SampleFrame]:
        """The sample frames in an item (decoding raw notifications)."""
        if isinstance(item, Notification):
            return self.decoder.decode(item)
        if isinstance(item, (RespFrame, AccFrame, RRFrame, DeviceRateFrame)):
            return [item]
        return []

    def feed(self, item: Item) -> list[CoreEvent]:
        """Process one item and return the events it confirms, oldest first."""
        out: list[CoreEvent] = []
        if isinstance(item, Marker) and item.marker in CALIBRATION_MARKERS:
            acc = self._chains.get("acc")
            if acc is not None:
                acc.calibrate(float(item.t_s))
            return out
        for frame in self.frames_of(item):
            if isinstance(frame, DeviceRateFrame):
                out.extend(self._device_rate_changed(frame))
                continue
            if isinstance(frame, RRFrame):
                acc = self._chains.get("acc")
                if acc is not None:
                    acc.feed_rr_for_polarity(frame)
            ch = self._chain(frame.kind)
            if ch is None:
                continue
            events = ch.feed(frame)
            if events and self.active_signal == ch.kind:
                out.extend(events)
        return out

    def _device_rate_changed(self, frame: DeviceRateFrame) -> list[CoreEvent]:
        """A ``device_rate`` notice when the device's own breathing rate changes (a belt computes
        one; ``rate_bpm`` is None while it has none). It goes beside the detector's rate; the
        detector does not read it."""
        rate = round(frame.rate_bpm, 1) if np.isfinite(frame.rate_bpm) else None
        if self._device_rate is not None and rate == self._device_rate[0]:
            return []
        self._device_rate = (rate,)
        detail = {"rate_bpm": rate, "device": frame.device}
        return [SignalNotice("device_rate", frame.t_s, detail, frame.t_s)]

    def feed_all(self, items: Iterable[Item]) -> list[CoreEvent]:
        """Process many items (convenience for tests and batch use)."""
        out: list[CoreEvent] = []
        for item in items:
            out.extend(self.feed(item))
        return out
