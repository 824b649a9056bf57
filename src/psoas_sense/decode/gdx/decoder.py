"""The Go Direct device decoder: raw notifications (and the host's recorded writes) to frames. Pure.

On the response characteristic it reassembles frames (:class:`FrameAssembler`), checks their
checksums, restarts the sample clock on a START reply, and turns each measurement packet into a
:class:`~psoas_sense.model.RespFrame` of the force (newtons; a belt's force rises on the inhale)
and a :class:`~psoas_sense.model.DeviceRateFrame` of the belt's own respiration rate (NaN until
the belt has one). On the command characteristic (the host's writes, which a recording keeps)
it reads the measurement period, so a replay times the samples exactly as the session did.
"""

from __future__ import annotations

import numpy as np

from psoas_sense.decode.gdx.const import (
    COMMAND_UUID,
    DEFAULT_PERIOD_US,
    MEASUREMENT,
    RB_ORDER_CODE,
    RESPONSE_UUID,
    STATUS_OK,
    Channel,
    Command,
)
from psoas_sense.decode.gdx.frames import FrameAssembler, parse_command, parse_measurement, parse_reply
from psoas_sense.decode.gdx.timing import SampleTimer
from psoas_sense.errors import DecodeError
from psoas_sense.model import DeviceRateFrame, Notification, RespFrame, SampleFrame


class GdxDecoder:
    """Decodes a Go Direct belt's traffic (one per session; state carried between notifications)."""

    chars = frozenset({RESPONSE_UUID, COMMAND_UUID})
    """The characteristics it decodes."""

    def __init__(self) -> None:
        self._device = FrameAssembler()
        self._host = FrameAssembler(host=True)
        self.period_s = DEFAULT_PERIOD_US / 1e6
        """The measurement period (from the host's SET_MEASUREMENT_PERIOD; 100 ms until one is seen)."""
        self.timer = SampleTimer(self.period_s)
        """The sample clock (its ``gaps`` are the losses found)."""
        self.packets = 0
        """Measurement packets decoded."""
        self.timing_packets = 0
        """START_TIME / DROPPED / PERIOD packets seen (layout not public; skipped)."""
        self.replies: dict[int, int] = {}
        """Replies seen, by command."""
        self.refused: list[str] = []
        """START or STOP replies with a non-zero status (one line each; the newest last 10)."""

    def decode(self, n: Notification) -> tuple[list[SampleFrame], list[str]]:
        """The frames in one notification, and one line per piece that was dropped."""
        if n.char_uuid == COMMAND_UUID:
            frames, dropped = self._host.feed(n.data)
            for frame in frames:
                try:
                    cmd = parse_command(frame)
                except DecodeError as exc:
                    dropped.append(str(exc))
                    continue
                if cmd.period_us is not None and cmd.period_us > 0:
                    self.period_s = cmd.period_us / 1e6
            return [], dropped
        frames, dropped = self._device.feed(n.data)
        out: list[SampleFrame] = []
        for frame in frames:
            try:
                out.extend(self._frame(frame, n.t_s))
            except DecodeError as exc:
                dropped.append(str(exc))
        return out, dropped

    def _frame(self, frame: bytes, t_s: float) -> list[SampleFrame]:
        if frame[0] != MEASUREMENT:
            reply = parse_reply(frame)
            self.replies[reply.command] = self.replies.get(reply.command, 0) + 1
            if reply.command == Command.START_MEASUREMENTS:
                if reply.status not in (None, STATUS_OK):
                    self.refused = [*self.refused[-9:], f"START refused (status {reply.status})"]
                self.timer.restart(self.period_s)
            return []
        m = parse_measurement(frame)
        if m.timing_only:
            self.timing_packets += 1
            return []
        self.packets += 1
        if m.n == 0:
            return []
        times = self.timer.place(m.n, t_s)
        out: list[SampleFrame] = []
        if Channel.FORCE in m.channels:
            out.append(RespFrame(t_s=times, resp=m.values[:, m.channels.index(Channel.FORCE)]))
        if Channel.RESPIRATION_RATE in m.channels:
            rate = float(m.values[-1, m.channels.index(Channel.RESPIRATION_RATE)])
            out.append(DeviceRateFrame(t_s=float(times[-1]), rate_bpm=rate if np.isfinite(rate) else float("nan"),
                                       device=RB_ORDER_CODE))
        return out
