"""Pure decoders of raw BLE notifications into sample frames.

:class:`NotificationDecoder` holds the little state that decoding needs (the running beat clock
of RR intervals, the device-clock mapping of PMD frames) and turns each
:class:`~psoas_sense.model.Notification` into zero or more sample frames.
"""

from __future__ import annotations

import numpy as np

from psoas_sense.decode.hrs import HEART_RATE_MEASUREMENT_UUID, decode_heart_rate_measurement
from psoas_sense.decode.pmd import (
    ACC,
    ECG,
    OP_START,
    OP_STOP,
    PMD_CONTROL_POINT_UUID,
    PMD_DATA_UUID,
    CpResponse,
    DeviceClockMap,
    PmdStreamTimer,
    decode_pmd_frame,
    parse_cp_message,
)
from psoas_sense.errors import DecodeError
from psoas_sense.model import AccFrame, HRFrame, Notification, RRFrame, SampleFrame

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
    """Turns raw notifications into sample frames; counts what it could not decode.

    Heart Rate Measurement notifications give an :class:`HRFrame` and, when they carry RR
    intervals, an :class:`RRFrame` timed by :class:`RRBeatClock`. PMD control-point indications
    update the stream settings (FACTOR from a start response; a start or stop restarts that
    stream's timing); PMD ACC data frames give :class:`AccFrame` with sample times mapped from the
    device clock (:class:`~psoas_sense.decode.pmd.DeviceClockMap`). ECG frames are decoded and
    checked (counted in :attr:`ecg_samples`) but the core has no ECG consumer yet.
    """

    def __init__(self) -> None:
        self._beats = RRBeatClock()
        self.errors = 0
        """Notifications that failed to decode (skipped)."""
        self.last_error: str = ""
        self.clock = DeviceClockMap()
        """Device clock -> session time mapping of PMD frames."""
        self._timers: dict[tuple[int, int, bool], PmdStreamTimer] = {}
        self._factor: dict[int, float] = {}
        self.acc_frames = 0
        self.ecg_samples = 0
        self.last_cp: CpResponse | None = None

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
        """PMD control point and data; unknown characteristics decode to nothing."""
        if n.char_uuid == PMD_DATA_UUID:
            return self._decode_pmd_data(n)
        if n.char_uuid == PMD_CONTROL_POINT_UUID:
            msg = parse_cp_message(n.data)
            if isinstance(msg, CpResponse):
                self.last_cp = msg
                if msg.ok and msg.op_code in (OP_START, OP_STOP):
                    for key in [k for k in self._timers if k[0] == msg.measurement_type]:
                        del self._timers[key]
                    if msg.op_code == OP_START:
                        factor = msg.settings.get("factor")
                        self._factor[msg.measurement_type] = float(factor[0]) if factor else 1.0
            return []
        return []

    def _decode_pmd_data(self, n: Notification) -> list[SampleFrame]:
        mtype = n.data[0] & 0x3F if n.data else -1
        frame = decode_pmd_frame(n.data, factor=self._factor.get(mtype, 1.0))
        key = (frame.measurement_type, frame.frame_type, frame.compressed)
        timer = self._timers.get(key)
        if timer is None:
            timer = self._timers[key] = PmdStreamTimer()
        out: list[SampleFrame] = []
        for fr, arrival_s, times_ns in timer.feed(frame, n.t_s):
            t_s = self.clock.map_frame(times_ns, arrival_s)
            if fr.measurement_type == ACC:
                self.acc_frames += 1
                out.append(AccFrame(t_s=t_s, acc_mg=fr.samples))
            elif fr.measurement_type == ECG:
                self.ecg_samples += fr.n
        return out
