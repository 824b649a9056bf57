"""The streaming pipeline of the pure core: items -> frames -> breathing signal -> events.

``Pipeline.feed(item)`` takes anything a source yields (raw notification, sample frame,
status, marker) and returns the events it produces. It holds no clock and does no I/O; feeding
the same items in the same order always gives the same events, and splitting a frame into
smaller frames does not change them.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from psoas_sense.decode import NotificationDecoder
from psoas_sense.dsp.acc_polarity import CALIBRATION_MARKERS, AccPolarity
from psoas_sense.dsp.detector import RISE_SHARE, PhaseDetector
from psoas_sense.dsp.extract import AccExtractor, Extractor, RespExtractor, RRExtractor
from psoas_sense.dsp.polarity import PolarityTracker
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


RR_RISE_SHARE = 0.25
"""RSA swings vary a lot from breath to breath: a lower bar for a half-breath from RR."""
TRACE_S = 30.0
"""Seconds of extracted breathing signal kept for display (:meth:`Pipeline.trace`) and for each
breath's depth."""
MAX_BREATH_S = 20.0
"""An inhale onset further back than this before an exhale onset does not pair with it (no depth)."""
ACC_YIELD = (0.4, 0.6)
"""In ``auto`` mode an accelerometer whose polarity confidence stays below the first value for
``ACC_YIELD_AFTER_S`` gives way to the RR intervals of the same strap, when they carry breaths,
until it reaches the second (and never while the body moves):
RR-derived breaths come later but never on the wrong phase (on the still_chest DEV recordings the
RR alone find 0.96-1.0 of a still sternum's breaths and 0.69 of the Hexoskin record's, where the
accelerometer's polarity stays unsure)."""
ACC_YIELD_AFTER_S = 20.0
"""How long the accelerometer has to make its polarity sure before the RR lead (a posture shift or
the start of a session lying down: the lift decides within a few breaths)."""
RR_LEAD_QUALITY = 0.1
"""... and only while the RR intervals show some breathing rhythm (their detector's regularity index
at least this: after walking, heart rate falls and its breathing swing is weak; at 0.1 the
still_chest recordings with RR reach F1 0.775 pooled, 0.745 at 0.2 and 0.717 with no RR lead)."""
MOTION_NOTICES = ("motion", "motion_ended", "stuck_axis", "axis_recovered", "polarity")
"""Accelerometer notices passed on while the RR intervals lead (the body still moves)."""


class _Chain:
    """Extractor + detector for one signal (+ polarity for accelerometers)."""

    def __init__(self, kind: str, rate_hz: float | None, keep_s: float = TRACE_S) -> None:
        self.kind = kind
        self.keep_s = max(keep_s, TRACE_S)
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
        """Recent extracted signal (times, values), the last ``keep_s`` seconds."""
        self._inhale_s: float | None = None
        """The last inhale onset (an exhale's depth is measured from it)."""
        self._gaps_reported = 0
        self._moving = False
        self.moving = False
        """The body was moving at the end of the last frame (accelerometers)."""
        self.acc: AccPolarity | None = AccPolarity(self.detector) if kind == "acc" else None
        """The inhale direction of an accelerometer's breathing axis (None for other signals)."""

    @property
    def polarity(self) -> PolarityTracker | None:
        """The accelerometer's polarity tracker (None for other signals)."""
        return None if self.acc is None else self.acc.tracker

    def feed_rr_for_polarity(self, frame: RRFrame) -> None:
        """Heart rate from RR intervals, as evidence of an accelerometer's polarity."""
        if self.acc is not None:
            self.acc.feed_rr(frame)

    def calibrate(self, t_s: float) -> None:
        """A calibration cue at ``t_s`` (accelerometers)."""
        if self.acc is not None:
            self.acc.calibrate(t_s)

    def _keep_trace(self, t: np.ndarray, y: np.ndarray) -> None:
        """Keep the extracted signal (a screen's trace, the breaths' depths, a report's plot):
        trimmed to the last ``keep_s`` seconds by :meth:`_trim_trace` once the frame's events have
        their depths."""
        self.trace.append((np.array(t, dtype=np.float64), np.array(y, dtype=np.float64)))

    def _trim_trace(self) -> None:
        if not self.trace:
            return
        newest = float(self.trace[-1][0][-1])
        while self.trace and float(self.trace[0][0][-1]) < newest - self.keep_s:
            self.trace.popleft()

    def since(self, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """The kept signal's pieces that reach ``t_s`` or later, joined."""
        if not self.trace:
            return np.zeros(0), np.zeros(0)
        k = len(self.trace)
        while k > 0 and float(self.trace[k - 1][0][-1]) >= t_s:
            k -= 1
        pieces = [self.trace[i] for i in range(k, len(self.trace))]
        return np.concatenate([a for a, _ in pieces]), np.concatenate([b for _, b in pieces])

    def _with_depths(self, events: list[CoreEvent]) -> list[CoreEvent]:
        """Each exhale with its depth: the size of the signal's swing from the inhale onset before
        it, when that is within :data:`MAX_BREATH_S` and the kept signal covers both (the frame's
        own samples and the :data:`TRACE_S` before it). The swing's size, not its sign: the
        detector's polarity at the frame's end may differ from the one it found the pair in, and
        a depth must not depend on how the samples were chunked."""
        breaths = [e.t_s for e in events if isinstance(e, BreathEvent)]
        if not self.trace or not breaths:
            return events
        first = min(breaths if self._inhale_s is None else [*breaths, self._inhale_s])
        tt, yy = self.since(first - MAX_BREATH_S - 1.0)  # the samples around each pair, whatever the chunks
        out: list[CoreEvent] = []
        for e in events:
            if isinstance(e, BreathEvent) and e.kind == "inhale":
                self._inhale_s = e.t_s
            elif isinstance(e, BreathEvent) and self._inhale_s is not None:
                t0, t1 = self._inhale_s, e.t_s
                self._inhale_s = None
                if 0.0 < t1 - t0 <= MAX_BREATH_S and tt[0] <= t0 and t1 <= tt[-1]:
                    rise = abs(float(np.interp(t1, tt, yy) - np.interp(t0, tt, yy)))
                    if math.isfinite(rise) and rise > 0.0:  # six digits, as the detector rounds its figures
                        e = dataclasses.replace(e, depth=float(f"{rise:.6g}"))
            out.append(e)
        return out

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
        if self.acc is not None and self.acc.calibration_end_s is not None:
            # a calibration window ending inside this chunk: decide exactly after its last sample,
            # so the flip lands on the same sample whatever the chunking
            extra.add(int(np.searchsorted(ex.t, self.acc.calibration_end_s, side="right")))
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
            if a in posture and self.acc is not None:
                self.detector.reset_phase()
                self.acc.posture_shift(float(ex.available[a]))
            if b > a and moving is not None and moving[a]:
                if not self._moving:
                    self.detector.reset_phase()
                self._moving = True
                continue
            self._moving = False
            if b > a and self.acc is not None:
                self.acc.before_detection(ex.t[a:b], ex.y[a:b], None if ex.shape is None else ex.shape.slice(a, b))
            if b > a:
                per = None if ex.period is None else ex.period[a:b]
                evs = self.detector.process(ex.t[a:b], ex.y[a:b], ex.available[a:b], delay[a:b], ripple[a:b], per)
                if self.acc is not None:
                    events.extend(self.acc.take_notices())
                events.extend(evs)
        if ex.moving is not None and ex.moving.shape[0]:
            self.moving = bool(ex.moving[-1])
        if self.acc is not None:
            # no heart-rate pairing with the samples of a motion run (their signal is meaningless)
            self.acc.after_detection(ex.t, ex.y if moving is None else np.where(moving, np.nan, ex.y), delay)
            events.extend(self.acc.take_notices())
        # extractor notices and detector events in the order they became known (stable)
        events.sort(key=lambda e: e.detected_at_s)
        events = self._with_depths(events)
        self._trim_trace()
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
        keep_s: seconds of extracted signal kept for :meth:`trace` (at least :data:`TRACE_S`;
            a report's plot keeps it all: ``math.inf``).
    """

    def __init__(self, signal: str = "auto", streams: Mapping[str, Mapping[str, Any]] | None = None,
                 keep_s: float = TRACE_S) -> None:
        if signal != "auto" and signal not in SIGNALS:
            raise ValueError(f"unknown signal {signal!r}; choose auto, {', '.join(SIGNALS)}")
        self.signal = signal
        self.streams = dict(streams or {})
        self.keep_s = keep_s
        self.decoder = NotificationDecoder()
        self._chains: dict[str, _Chain] = {}
        self._device_rate: tuple[float | None] | None = None
        self._acc_yields = False
        self._acc_unsure_since: float | None = None
        self._last_breath: BreathEvent | None = None

    def _chain(self, kind: str) -> _Chain | None:
        if self.signal != "auto" and kind != self.signal:
            return None
        if kind not in SIGNALS:
            return None
        ch = self._chains.get(kind)
        if ch is None:
            spec = self.streams.get(kind, {})
            rate = spec.get("rate_hz") if isinstance(spec, Mapping) else None
            ch = _Chain(kind, float(rate) if rate else None, self.keep_s)
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
        fresh = {k for k, ch in self._chains.items() if ch.events_seen > 0 and ch.newest_s >= newest - STALE_S}
        rr_lead = self._acc_yields and "rr" in fresh and self._chains["rr"].detector.quality >= RR_LEAD_QUALITY
        for kind in SIGNALS:
            if kind in fresh and not (kind == "acc" and rr_lead):
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
        t, y = ch.since(float(ch.trace[-1][0][-1]) - span_s)
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
            if ch.kind == "acc" and self.signal == "auto":
                self._acc_lead(ch, events)
            active = self.active_signal
            if events and active == ch.kind:
                moving = ch.kind == "rr" and "acc" in self._chains and self._chains["acc"].moving
                out.extend(self._alternating([e for e in events if not (moving and isinstance(e, BreathEvent))]))
            elif events and ch.kind == "acc" and active == "rr":
                out.extend(e for e in events if isinstance(e, SignalNotice) and e.kind in MOTION_NOTICES)
        return out

    def _acc_lead(self, ch: _Chain, events: list[CoreEvent]) -> None:
        """Whether the accelerometer yields to the RR intervals (``ACC_YIELD``), from its events."""
        for e in events:
            if not isinstance(e, BreathEvent):
                continue
            conf = e.polarity_confidence or 0.0
            if conf >= ACC_YIELD[1]:
                self._acc_unsure_since, self._acc_yields = None, False
            elif conf < ACC_YIELD[0]:
                if self._acc_unsure_since is None:
                    self._acc_unsure_since = e.detected_at_s
                self._acc_yields = e.detected_at_s - self._acc_unsure_since >= ACC_YIELD_AFTER_S

    def _alternating(self, events: list[CoreEvent]) -> list[CoreEvent]:
        """The events, without a breath that would repeat the last one's phase or go back in time
        (where the reporting signal changed: each signal's own events alternate)."""
        out: list[CoreEvent] = []
        for e in events:
            if isinstance(e, BreathEvent):
                last = self._last_breath
                if last is not None and (e.kind == last.kind or e.t_s <= last.t_s):
                    continue
                self._last_breath = e
            out.append(e)
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
