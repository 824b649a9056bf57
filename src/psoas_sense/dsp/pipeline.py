"""The streaming pipeline of the pure core: items -> frames -> breathing signal -> events.

``Pipeline.feed(item)`` takes anything a source yields (raw notification, sample frame,
status, marker) and returns the events it produces. It holds no clock and does no I/O; feeding
the same items in the same order always gives the same events, and splitting a frame into
smaller frames does not change them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from psoas_sense.decode import NotificationDecoder
from psoas_sense.dsp.detector import PhaseDetector
from psoas_sense.dsp.extract import AccExtractor, RespExtractor, RRExtractor
from psoas_sense.model import (
    AccFrame,
    CoreEvent,
    Item,
    Notification,
    RespFrame,
    RRFrame,
    SampleFrame,
)

SIGNALS = ("resp", "acc", "rr")
"""Signals the detector can run on, best first (the order ``auto`` prefers)."""
STALE_S = 5.0
"""In ``auto`` mode a signal whose newest sample is older than this gives way to the next one."""


class _Chain:
    """Extractor + detector for one signal."""

    def __init__(self, kind: str, rate_hz: float | None) -> None:
        self.kind = kind
        if kind == "resp":
            self.extractor: Any = RespExtractor(rate_hz)
        elif kind == "acc":
            self.extractor = AccExtractor(rate_hz)
        else:
            self.extractor = RRExtractor()
        self.detector = PhaseDetector(self.extractor.fs_hz, signal=kind, approximate=kind == "rr")
        self.newest_s = -np.inf
        self.events_seen = 0

    def feed(self, frame: SampleFrame) -> list[CoreEvent]:
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
        if ex.t.shape[0] == 0:
            return []
        events: list[CoreEvent] = []
        bounds = [0, *ex.gap_starts, ex.t.shape[0]]
        for j in range(len(bounds) - 1):
            a, b = bounds[j], bounds[j + 1]
            if j > 0:
                self.detector.reset_phase()
            if b > a:
                events.extend(self.detector.process(ex.t[a:b], ex.y[a:b], ex.available[a:b]))
        self.events_seen += len(events)
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

    def frames_of(self, item: Item) -> list[SampleFrame]:
        """The sample frames in an item (decoding raw notifications)."""
        if isinstance(item, Notification):
            return self.decoder.decode(item)
        if isinstance(item, (RespFrame, AccFrame, RRFrame)):
            return [item]
        return []

    def feed(self, item: Item) -> list[CoreEvent]:
        """Process one item and return the events it confirms, oldest first."""
        out: list[CoreEvent] = []
        for frame in self.frames_of(item):
            ch = self._chain(frame.kind)
            if ch is None:
                continue
            events = ch.feed(frame)
            if events and self.active_signal == ch.kind:
                out.extend(events)
        return out

    def feed_all(self, items: Iterable[Item]) -> list[CoreEvent]:
        """Process many items (convenience for tests and batch use)."""
        out: list[CoreEvent] = []
        for item in items:
            out.extend(self.feed(item))
        return out
