"""An emulated Vernier Go Direct Respiration Belt (GDX-RB), behind the same bleak backends as the straps.

:class:`EmulatedGdxRb` is the device side: the GATT table of a real belt, command frames
reassembled from the host's writes (by the length byte, checksum checked), a reply to every
command (status, device info, the channel masks, sensor info, period, start, stop, disconnect),
and NORMAL_REAL32 measurement packets of Force and Respiration Rate at the set period, several
samples per packet, cut into MTU-sized notifications. Faults on request: lost packets, delivery
pauses, a link drop, a stalled stream, a late respiration rate, a bad checksum.

Faithful to the public frames: INIT is accepted byte for byte as every Vernier client sends it;
the AVAILABLE_MASK reply to the second command after INIT is exactly the captured
``98 0a 01 27 51 fd 36 00 00 00``; measurement packets have the captured layout (``20 LEN CNT
CHK 06 mask N fc`` then N samples of f32 values, NaN while the belt has no rate). What no public
source gives is a named placeholder below (``PLACEHOLDER_*``), so a capture from a real belt can
replace it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.backends.service import BleakGATTServiceCollection
from bleak.exc import BleakError

from psoas_sense.decode import gdx, hrs
from psoas_sense.decode.gdx.const import RB_AVAILABLE_MASK, RB_CHANNELS, RB_DEFAULT_MASK, STATUS_OK, Channel
from psoas_sense.errors import DecodeError
from psoas_sense.sources.clock import VirtualClock
from psoas_sense.sources.emulator.belt import BeltSignal
from psoas_sense.sources.emulator.gatt import ATT_HEADER_BYTES, GDX_DIS, gdx_advertisement, gdx_gatt_table
from psoas_sense.sources.emulator.gatt import service_collection as build_collection
from psoas_sense.sources.emulator.link import StrapLink
from psoas_sense.sources.emulator.options import EmulatorOptions

PLACEHOLDER_EMPTY_REPLY = bytes([STATUS_OK])
"""[?] The payload of the replies to INIT, SET_MEASUREMENT_PERIOD and DISCONNECT: no source gives
it (clients read nothing from them); one status byte 0 like START and STOP."""
PLACEHOLDER_FIRMWARE = ((1, 10, 0), (1, 8, 0))
"""[?] Main and BLE CPU firmware (major, minor, build) of the emulated belt."""
PLACEHOLDER_MANUFACTURER_ID = 0
"""[?] DEVICE_INFO manufacturer id (no public capture shows one) ..."""
PLACEHOLDER_DATE = (2020, 1, 1)
"""[?] ... manufacturing date (year, month, day) ..."""
PLACEHOLDER_NV_BYTES = 0
"""[?] ... NV memory size ..."""
PLACEHOLDER_DESCRIPTION = "Go Direct Respiration Belt (emulated)"
"""[?] ... and free-text description."""
PLACEHOLDER_SENSOR_ID = {Channel.FORCE: 9101, Channel.RESPIRATION_RATE: 9102, Channel.STEPS: 9104,
                         Channel.STEP_RATE: 9105}
"""[?] Sensor ids (non-zero: a sensor is there); the real numbers are not published."""
PLACEHOLDER_SENSOR_NUMBERS: dict[int, dict[str, Any]] = {
    Channel.FORCE: {"uncertainty": 0.1, "lo": -10.0, "hi": 50.0},
    Channel.RESPIRATION_RATE: {"uncertainty": 1.0, "lo": 0.0, "hi": 60.0},
    Channel.STEPS: {"uncertainty": 1.0, "lo": 0.0, "hi": 1e6},
    Channel.STEP_RATE: {"uncertainty": 1.0, "lo": 0.0, "hi": 300.0},
}
"""[?] Uncertainty and range of each channel's sensor info (not published)."""
PLACEHOLDER_PERIODS_US = {"min": gdx.MIN_PERIOD_US, "max": 3_600_000_000, "typical": gdx.DEFAULT_PERIOD_US,
                          "granularity": 1_000}
"""Sensor-info periods: min 50 ms and typical 100 ms from users' reports; max and granularity [?]."""
PLACEHOLDER_MEASUREMENT_SPARE = 0xFC
"""Byte 8 of a measurement packet, which every parser skips: 0xFC in the captured packet."""
PLACEHOLDER_DEVICE_COUNTERS = "replies count from 0 at INIT; measurement packets have their own rolling count"
"""[?] How the device's byte 2 counts (the capture shows 0x01 on the reply after INIT, 0xCF on a
packet); no client reads it."""
SENT_KEPT = 20_000
"""Measurement packets remembered for tests (bounded: about an hour at 10 Hz)."""
DISCONNECT_AFTER_S = 0.05
"""The belt drops the link this long after answering DISCONNECT."""
CHARGER_IDLE = 0


@dataclass
class SentPacket:
    """A measurement packet the belt produced (for tests)."""

    t_s: float
    """Session time of its last sample."""
    n: int
    """Samples in it."""
    fault: str = ""
    """``lost``, ``stalled``, ``bad_checksum``, ``paused`` (held back, then sent) or empty."""
    delivered: bool = False
    """Its last piece reached the client."""


@dataclass
class _Run:
    """A measurement run (START to STOP)."""

    start_s: float
    period_s: float
    channels: tuple[int, ...]
    task: asyncio.Task[None] | None = None


class EmulatedGdxRb(StrapLink):
    """The device side of an emulated GDX-RB.

    Args:
        opts: what to emulate (``emulated:gdx-rb?...``, see :func:`parse_emulator_spec`).
        clock: the virtual clock shared with the client code.
    """

    def __init__(self, opts: EmulatorOptions, clock: VirtualClock) -> None:
        name = opts.name or "GDX-RB 0K9E0001"
        super().__init__(name, clock, opts.latency_s, opts.seed)
        self.opts = opts
        self.signal = BeltSignal(opts)
        self.address = opts.address or "C0:FF:EE:00:00:5B"
        self.serial = name.split()[-1] if " " in name else "0K9E0001"
        self.model = gdx.RB_ORDER_CODE
        self.mtu = opts.mtu
        self.battery = 87
        self.dis = {"manufacturer": "Vernier", "serial": self.serial, "firmware": "1.10", "software": "1.8"}
        self._chars = gdx_gatt_table()
        self.ble_device = BLEDevice(self.address, self.name, details=self)
        self._rx = gdx.FrameAssembler(host=True)
        self._reply_counter = 0
        self._packet_counter = 0
        self.period_us = gdx.DEFAULT_PERIOD_US
        self._run: _Run | None = None
        self._rng = np.random.default_rng([opts.seed, 19])
        self._lose_pending = sorted(opts.lose_at_s)
        self._bad_pending = sorted(opts.bad_checksum_at_s)
        self._stalls_pending = sorted(opts.stall_at_s)
        self._stall_until = -1.0
        self._held: list[tuple[bytes, SentPacket]] = []
        self._started = False
        self.sent: deque[SentPacket] = deque(maxlen=SENT_KEPT)
        """The newest measurement packets produced, with what happened to each."""
        self.commands: deque[tuple[float, int, int]] = deque(maxlen=SENT_KEPT)
        """(time, command, counter) of every command received."""
        self.bad_commands = 0
        """Host frames refused (bad checksum, not a command)."""
        self.runs = 0
        """STARTs answered."""

    # ------------------------------------------------------------ GATT layout

    def service_collection(self, obj: Any) -> BleakGATTServiceCollection:
        """The GATT table as bleak's service collection."""
        return build_collection(self._chars, obj, self.mtu)

    @property
    def advertisement(self) -> AdvertisementData:
        """What the belt advertises (its name)."""
        return gdx_advertisement(self.name, self.opts.rssi)

    # ------------------------------------------------------------ lifecycle

    def power_on(self) -> None:
        """Start the device's own timeline (the scheduled link drops)."""
        if self._started:
            return
        self._started = True
        for t in self.opts.drop_at_s:
            self._spawn(self._drop_at(t), "emulated-belt-drop")

    async def shutdown(self) -> None:
        """Stop everything the belt runs; a later connect powers it on again."""
        self._stop_run()
        await super().shutdown()
        self._started = False

    async def _drop_at(self, t: float) -> None:
        await self.clock.sleep_until(t)
        self.drop_link(t + self.opts.drop_for_s)

    def drop_link(self, reachable_from: float) -> None:
        """The link breaks; the belt stops measuring (a new connection starts again with INIT)."""
        self._stop_run()
        super().drop_link(reachable_from)

    def detach(self, client: Any) -> None:
        """The client disconnects: the belt stops measuring."""
        if self.client is client:
            self._stop_run()
        super().detach(client)

    # ------------------------------------------------------------ GATT operations

    def read(self, uuid: str) -> bytes:
        if uuid == hrs.BATTERY_LEVEL_UUID:
            return bytes([self.battery])
        if uuid in GDX_DIS:
            return self.dis[GDX_DIS[uuid]].encode()
        raise BleakError(f"characteristic {uuid} is not readable")

    def write(self, uuid: str, data: bytes) -> None:
        if uuid != gdx.COMMAND_UUID:
            raise BleakError(f"characteristic {uuid} is not writable")
        frames, dropped = self._rx.feed(bytes(data))
        self.bad_commands += len(dropped)
        for frame in frames:
            try:
                cmd = gdx.parse_command(frame)
            except DecodeError:
                self.bad_commands += 1
                continue
            self.commands.append((self.clock.now(), cmd.command, cmd.counter))
            self._answer(cmd)

    def _send(self, frame: bytes, record: SentPacket | None = None) -> None:
        """A frame as notifications of at most MTU - 3 bytes (the record marked by the last)."""
        size = self.mtu - ATT_HEADER_BYTES
        pieces = [frame[i : i + size] for i in range(0, len(frame), size)]
        for k, piece in enumerate(pieces):
            self._notify(gdx.RESPONSE_UUID, piece, record if k == len(pieces) - 1 else None)

    def _reply(self, cmd: gdx.CommandFrame, payload: bytes) -> None:
        frame = gdx.reply_frame(cmd.command, cmd.counter, payload, self._reply_counter)
        self._reply_counter = (self._reply_counter + 1) & 0xFF
        self._send(frame)

    def _answer(self, cmd: gdx.CommandFrame) -> None:
        """Reply to one command, as a belt does."""
        C = gdx.Command
        c = cmd.command
        if c == C.INIT:
            self._reply_counter = 0
            self._reply(cmd, PLACEHOLDER_EMPTY_REPLY)
        elif c == C.GET_STATUS:
            main, ble = PLACEHOLDER_FIRMWARE
            self._reply(cmd, gdx.status_payload(main, ble, self.battery, CHARGER_IDLE))
        elif c == C.GET_DEVICE_INFO:
            main, ble = PLACEHOLDER_FIRMWARE
            address = bytes(int(x, 16) for x in reversed(self.address.split(":")))
            self._reply(cmd, gdx.device_info_payload(
                self.model, self.serial, self.name, manufacturer_id=PLACEHOLDER_MANUFACTURER_ID,
                date=PLACEHOLDER_DATE, main=main, ble=ble, address=address, nv_bytes=PLACEHOLDER_NV_BYTES,
                description=PLACEHOLDER_DESCRIPTION))
        elif c == C.GET_DEFAULT_MASK:
            self._reply(cmd, gdx.mask_payload(RB_DEFAULT_MASK))
        elif c == C.GET_AVAILABLE_MASK:
            self._reply(cmd, gdx.mask_payload(RB_AVAILABLE_MASK))
        elif c == C.GET_SENSOR_INFO:
            self._reply(cmd, self._sensor_info(cmd.payload[0] if cmd.payload else 0))
        elif c == C.SET_MEASUREMENT_PERIOD:
            period = cmd.period_us or gdx.DEFAULT_PERIOD_US
            self.period_us = max(period, gdx.MIN_PERIOD_US)
            self._reply(cmd, PLACEHOLDER_EMPTY_REPLY)
        elif c == C.START_MEASUREMENTS:
            self._start_run(cmd.mask or RB_DEFAULT_MASK)
            self._reply(cmd, bytes([STATUS_OK]))
        elif c == C.STOP_MEASUREMENTS:
            self._stop_run()
            self._reply(cmd, bytes([STATUS_OK]))
        elif c == C.DISCONNECT:
            self._stop_run()
            self._reply(cmd, PLACEHOLDER_EMPTY_REPLY)
            self._spawn(self._disconnect_soon(), "emulated-belt-disconnect")
        else:
            self._reply(cmd, bytes([gdx.const.StatusBit.COMMAND_NOT_RECOGNIZED]))

    def _sensor_info(self, channel: int) -> bytes:
        if channel not in RB_CHANNELS:
            return bytes(148)  # sensor id 0: nothing on this channel
        label, unit = RB_CHANNELS[channel]
        p = PLACEHOLDER_PERIODS_US
        return gdx.sensor_info_payload_bytes(
            channel, PLACEHOLDER_SENSOR_ID[Channel(channel)], label, unit, min_period_us=p["min"],
            max_period_us=p["max"], typical_period_us=p["typical"], granularity_us=p["granularity"],
            **PLACEHOLDER_SENSOR_NUMBERS[channel],
        )

    async def _disconnect_soon(self) -> None:
        await self.clock.sleep(DISCONNECT_AFTER_S)
        client = self.client
        if client is not None:
            self.drop_link(self.clock.now())

    # ------------------------------------------------------------ measurements

    def _start_run(self, mask: int) -> None:
        self._stop_run()
        channels = tuple(ch for ch in sorted(RB_CHANNELS) if mask >> ch & 1)
        self.runs += 1
        run = _Run(self.clock.now(), self.period_us / 1e6, channels)
        run.task = self._spawn(self._measure(run), "emulated-belt-measure")
        self._run = run

    def _stop_run(self) -> None:
        run = self._run
        self._run = None
        self._held.clear()
        self._stall_until = -1.0  # a stop and start clears a stalled stream
        if run is not None and run.task is not None and run.task is not asyncio.current_task():
            run.task.cancel()

    def _values(self, run: _Run, times: np.ndarray) -> np.ndarray:
        cols = []
        for ch in run.channels:
            if ch == Channel.FORCE:
                cols.append(self.signal.force(times))
            elif ch == Channel.RESPIRATION_RATE:
                rate = self.signal.device_rate(float(times[-1]) - run.start_s, float(times[-1]))
                cols.append(np.full(times.shape, rate))
            else:
                cols.append(np.zeros(times.shape))  # steps and step rate: a wearer lying still
        return np.stack(cols, axis=1) if cols else np.zeros((times.size, 0))

    def _paused(self, t: float) -> float | None:
        """The end of the delivery pause ``t`` falls in, or None."""
        every, length = self.opts.pause_every_s, self.opts.pause_for_s
        if not every:
            return None
        phase = (t - PAUSE_PHASE_S) % every
        return t - phase + length if phase < length else None

    def _fault(self, t_last: float) -> str:
        """What happens to the packet whose last sample is at ``t_last`` (drawn in order)."""
        lost = float(self._rng.random()) < self.opts.packet_loss if self.opts.packet_loss else False
        if self._stalls_pending and t_last >= self._stalls_pending[0]:
            self._stall_until = self._stalls_pending.pop(0) + self.opts.stall_for_s
        if t_last < self._stall_until:
            return "stalled"
        if self._lose_pending and t_last >= self._lose_pending[0]:
            self._lose_pending.pop(0)
            return "lost"
        if lost:
            return "lost"
        if self._bad_pending and t_last >= self._bad_pending[0]:
            self._bad_pending.pop(0)
            return "bad_checksum"
        return ""

    async def _measure(self, run: _Run) -> None:
        n = self.opts.per_packet
        i = 0
        while True:
            times = run.start_s + (i + np.arange(n)) * run.period_s
            t_last = float(times[-1])
            await self.clock.sleep_until(t_last)
            i += n
            self._flush_held(t_last)
            fault = self._fault(t_last)
            record = SentPacket(t_last, n, fault)
            self.sent.append(record)
            if fault in ("stalled", "lost"):
                continue
            frame = gdx.measurement_frame(run.channels, self._values(run, times), self._packet_counter,
                                          PLACEHOLDER_MEASUREMENT_SPARE)
            self._packet_counter = (self._packet_counter + 1) & 0xFF
            if fault == "bad_checksum":
                frame = frame[:3] + bytes([frame[3] ^ 0x5A]) + frame[4:]
            pause_end = self._paused(t_last)
            if pause_end is not None:
                if not record.fault:
                    record.fault = "paused"
                self._held.append((frame, record))
                continue
            self._send(frame, record)

    def _flush_held(self, now: float) -> None:
        """Send the packets held back by a pause that is over."""
        if self._held and self._paused(now) is None:
            held, self._held = self._held, []
            for frame, record in held:
                self._send(frame, record)


PAUSE_PHASE_S = 0.3
"""Pauses start this far into each ``pause_every`` period."""
