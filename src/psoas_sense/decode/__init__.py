"""Pure decoders of raw BLE notifications into sample frames.

:class:`NotificationDecoder` holds the little state that decoding needs (the running beat clock
of RR intervals, the device-clock mapping of PMD frames) and turns each
:class:`~psoas_sense.model.Notification` into zero or more sample frames.
"""

from __future__ import annotations

import numpy as np

from psoas_sense.decode.hrs import HEART_RATE_MEASUREMENT_UUID, decode_heart_rate_measurement
from psoas_sense.errors import DecodeError
from psoas_sense.model import HRFrame, Notification, RRFrame, SampleFrame

RR_REANCHOR_AHEAD_S = 0.05
"""The beat clock is re-anchored when it runs ahead of the notification's arrival by more."""
RR_REANCHOR_BEHIND_S = 2.0
"""... or falls behind arrival by more than this (lost notifications, reconnects)."""


class RRBeatClock:
    """Gives each RR interval a beat time: a running sum anchored to notification arrival.

    A notification carries the RR intervals of the beats since the previous one, oldest first;
    the newest beat happened just before the notification arrived. Beat times are the running
    sum of intervals, re-anchored to the arrival time when the sum drifts out of a window.
    """

    def __init__(self) -> None:
        self._last_beat_s: float | None = None

    def reset(self) -> None:
        self._last_beat_s = None

    def beat_times(self, arrival_s: float, rr_ms: tuple[float, ...]) -> np.ndarray:
        rr_s = np.asarray(rr_ms, dtype=np.float64) / 1000.0
        if self._last_beat_s is not None:
            chain = self._last_beat_s + np.cumsum(rr_s)
            end = float(chain[-1])
            if end > arrival_s + RR_REANCHOR_AHEAD_S or end < arrival_s - RR_REANCHOR_BEHIND_S:
                chain = arrival_s - (np.sum(rr_s) - np.cumsum(rr_s))
        else:
            chain = arrival_s - (np.sum(rr_s) - np.cumsum(rr_s))
        self._last_beat_s = float(chain[-1])
        return chain


class NotificationDecoder:
    """Turns raw notifications into sample frames; counts what it could not decode."""

    def __init__(self) -> None:
        self._beats = RRBeatClock()
        self.errors = 0
        """Notifications that failed to decode (skipped)."""
        self.last_error: str = ""

    def decode(self, n: Notification) -> list[SampleFrame]:
        """Frames in the notification, or ``[]`` (unknown characteristic, malformed bytes)."""
        try:
            if n.char_uuid == HEART_RATE_MEASUREMENT_UUID:
                m = decode_heart_rate_measurement(n.data)
                out: list[SampleFrame] = [HRFrame(t_s=n.t_s, hr_bpm=float(m.hr_bpm))]
                if m.rr_raw:
                    rr = m.rr_ms
                    out.append(RRFrame(t_s=self._beats.beat_times(n.t_s, rr), rr_ms=np.asarray(rr)))
                return out
            return self._decode_other(n)
        except DecodeError as exc:
            self.errors += 1
            self.last_error = str(exc)
            return []

    def _decode_other(self, n: Notification) -> list[SampleFrame]:
        """Hook for other characteristics (PMD); unknown ones decode to nothing."""
        return []
