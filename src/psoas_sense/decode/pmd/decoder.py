"""The PMD device decoder: control-point indications and data notifications to frames. Pure.

Control-point indications update the stream settings (FACTOR from a start response; a start or
stop restarts that stream's timing); ACC data frames give :class:`~psoas_sense.model.AccFrame`
with sample times mapped from the device clock (:class:`.timing.DeviceClockMap`). ECG frames are
decoded and checked (counted in :attr:`PmdDecoder.ecg_samples`) but the core has no ECG
consumer yet.
"""

from __future__ import annotations

from psoas_sense.decode.pmd.const import ACC, ECG, OP_START, OP_STOP, PMD_CONTROL_POINT_UUID, PMD_DATA_UUID
from psoas_sense.decode.pmd.control import CpResponse, parse_cp_message
from psoas_sense.decode.pmd.frames import decode_pmd_frame
from psoas_sense.decode.pmd.timing import DeviceClockMap, PmdStreamTimer
from psoas_sense.model import AccFrame, Notification, SampleFrame


class PmdDecoder:
    """Polar PMD traffic (control point and data) of one session."""

    chars = frozenset({PMD_DATA_UUID, PMD_CONTROL_POINT_UUID})
    """The characteristics it decodes."""

    def __init__(self) -> None:
        self.clock = DeviceClockMap()
        """Device clock -> session time mapping of PMD frames."""
        self._timers: dict[tuple[int, int, bool], PmdStreamTimer] = {}
        self._factor: dict[int, float] = {}
        self.acc_frames = 0
        self.ecg_samples = 0
        self.last_cp: CpResponse | None = None

    def decode(self, n: Notification) -> tuple[list[SampleFrame], list[str]]:
        """The frames of one notification; raises :class:`~psoas_sense.errors.DecodeError` on bad bytes."""
        if n.char_uuid == PMD_DATA_UUID:
            return self._decode_data(n), []
        msg = parse_cp_message(n.data)
        if isinstance(msg, CpResponse):
            self.last_cp = msg
            if msg.ok and msg.op_code in (OP_START, OP_STOP):
                for key in [k for k in self._timers if k[0] == msg.measurement_type]:
                    del self._timers[key]
                if msg.op_code == OP_START:
                    factor = msg.settings.get("factor")
                    self._factor[msg.measurement_type] = float(factor[0]) if factor else 1.0
        return [], []

    def _decode_data(self, n: Notification) -> list[SampleFrame]:
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
