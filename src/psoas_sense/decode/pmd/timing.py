"""PMD sample timing: device times of a frame's samples, and device clock -> session time. Pure.

A frame carries the device time of its LAST sample only; the spacing of its samples comes from
the previous frame of the same stream (the Polar SDK's rule) or, for the first one, from the
learned sample rate. :class:`DeviceClockMap` then maps device time onto session seconds.
"""

from __future__ import annotations

import numpy as np

from psoas_sense.decode.pmd.frames import PmdFrame
from psoas_sense.errors import DecodeError


def sample_times_ns(last_ns: int, n: int, prev_last_ns: int | None, rate_hz: float | None) -> np.ndarray:
    """Device time of every sample of a frame (Polar SDK rule).

    With the previous frame's last-sample time ``P``: spacing = (T - P) / n, first = P + spacing;
    without it, spacing = 1e9 / rate. The last sample gets ``T`` exactly.

    Raises:
        DecodeError: no previous frame and no rate, or a time before the epoch.
    """
    if n <= 0:
        raise DecodeError("frame without samples")
    if prev_last_ns is not None and prev_last_ns < last_ns:
        step = (last_ns - prev_last_ns) / n
        first = prev_last_ns + step
    else:
        if not rate_hz or rate_hz <= 0:
            raise DecodeError("no sample rate to time the first frame")
        step = 1e9 / rate_hz
        first = last_ns - step * (n - 1)
    t = np.rint(first + step * np.arange(n, dtype=np.float64))
    t[-1] = last_ns
    if t[0] < 0:
        raise DecodeError("sample time before the device epoch")
    return t


CLOCK_RESET_S = 5.0
"""A frame whose (arrival - device time) differs from the mapping by more restarts the mapping."""
CLOCK_SLEW = 0.01
"""The offset moves down (toward less latency) at most this share of the elapsed device time."""
CLOCK_CREEP = 1e-4
"""... and up (clock drift, 100 ppm) at most this share, so the mapping keeps the lowest latency."""


class DeviceClockMap:
    """Maps device time (ns) to session seconds: ``t = device_s + offset``.

    ``offset`` follows the lower envelope of ``arrival - device time`` over frames (notifications
    only ever arrive late, so the least-delayed frame is the best estimate), moving by a bounded
    rate so mapped times stay monotonic; a jump beyond :data:`CLOCK_RESET_S` (device restarted,
    clock set) restarts the mapping.
    """

    def __init__(self) -> None:
        self.offset_s: float | None = None
        self._last_dev_s: float | None = None
        self.resets = 0

    def reset(self) -> None:
        self.offset_s = None
        self._last_dev_s = None

    def update(self, device_ns: int, arrival_s: float) -> float:
        """Take one frame (device time of its last sample, arrival) and return the offset."""
        dev_s = device_ns / 1e9
        c = arrival_s - dev_s
        if (
            self.offset_s is None
            or self._last_dev_s is None
            or abs(c - self.offset_s) > CLOCK_RESET_S
            or dev_s < self._last_dev_s - CLOCK_RESET_S
        ):
            if self.offset_s is not None:
                self.resets += 1
            self.offset_s = c
        else:
            elapsed = max(dev_s - self._last_dev_s, 0.0)
            if c < self.offset_s:
                self.offset_s = max(c, self.offset_s - CLOCK_SLEW * elapsed)
            else:
                self.offset_s = min(c, self.offset_s + CLOCK_CREEP * elapsed)
        self._last_dev_s = dev_s
        return self.offset_s

    def to_session(self, device_ns: np.ndarray) -> np.ndarray:
        """Session seconds of device times with the current offset."""
        assert self.offset_s is not None
        return np.asarray(device_ns, dtype=np.float64) / 1e9 + self.offset_s

    def map_frame(self, device_ns: np.ndarray, arrival_s: float) -> np.ndarray:
        """Update with a frame (sample times in ns, last = frame time) and map its samples.

        A change of offset is spread over the frame's samples (a ramp from the previous offset
        to the new one), so the mapped spacing never changes by more than :data:`CLOCK_SLEW`.
        """
        dev = np.asarray(device_ns, dtype=np.float64)
        before = self.offset_s
        resets = self.resets
        after = self.update(int(dev[-1]), arrival_s)
        if before is None or self.resets != resets or dev.shape[0] < 2 or before == after:
            return dev / 1e9 + after
        ramp = np.linspace(0.0, 1.0, dev.shape[0] + 1)[1:]
        return dev / 1e9 + before + (after - before) * ramp


GAP_FACTOR = 1.5
"""A frame whose implied spacing exceeds the known spacing by this factor follows a gap."""


class PmdStreamTimer:
    """Times the samples of one PMD stream (one measurement and frame type).

    Spacing comes from consecutive frame timestamps (``(T - P) / n``, as the Polar SDK does). The
    sample rate is learned from the data: the very first frame of a stream is held back until the
    second one gives the spacing; after a gap (lost frames, reconnect) or a clock jump the learned
    spacing times the frame from its own last-sample time.
    """

    def __init__(self, nominal_rate_hz: float | None = None) -> None:
        self.nominal_rate_hz = nominal_rate_hz
        self.step_ns: float | None = 1e9 / nominal_rate_hz if nominal_rate_hz else None
        self._prev_ns: int | None = None
        self._pending: list[tuple[PmdFrame, float]] = []
        self._last_gap_implied: float | None = None
        self.gaps = 0

    def reset(self) -> None:
        self._prev_ns = None

    def feed(self, frame: PmdFrame, arrival_s: float) -> list[tuple[PmdFrame, float, np.ndarray]]:
        """Frames that can now be timed: ``(frame, arrival_s, device sample times in ns)``."""
        T, n = frame.timestamp_ns, frame.n
        if self.step_ns is None:
            if not self._pending:
                self._pending.append((frame, arrival_s))
                return []
            first, first_arrival = self._pending[0]
            if T <= first.timestamp_ns:
                # clock went back: start over with this frame
                self._pending = [(frame, arrival_s)]
                return []
            self.step_ns = (T - first.timestamp_ns) / n
            self._pending = []
            times0 = sample_times_ns(first.timestamp_ns, first.n, None, 1e9 / self.step_ns)
            self._prev_ns = first.timestamp_ns
            return [(first, first_arrival, times0), *self.feed(frame, arrival_s)]
        prev = self._prev_ns
        if prev is not None:
            implied = (T - prev) / n if T > prev else -1.0
            if implied <= 0 or implied > GAP_FACTOR * self.step_ns or implied < self.step_ns / GAP_FACTOR:
                last = self._last_gap_implied
                if implied > 0 and last is not None and abs(implied - last) <= 0.1 * last:
                    # two frames in a row agree on a new spacing: the rate changed, learn it
                    self.step_ns = implied
                    self._last_gap_implied = None
                else:
                    self.gaps += 1
                    self._last_gap_implied = implied if implied > 0 else None
                    prev = None
            else:
                self._last_gap_implied = None
        times = sample_times_ns(T, n, prev, 1e9 / self.step_ns)
        if prev is not None:
            # follow the device clock's real rate, smoothly
            self.step_ns += 0.05 * ((T - prev) / n - self.step_ns)
        self._prev_ns = T
        return [(frame, arrival_s, times)]
