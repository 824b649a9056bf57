"""The device side of an emulated chest strap: link, GATT operations, PMD control point, streams.

:class:`EmulatedStrap` models a standard Heart Rate strap (``hrs``) or a Polar H10 (``h10``: the
same plus the PMD service with its control point, settings, ACC start delay and delta-compressed
or raw ACC frames, and ECG). It answers control-point writes as a real H10 does (the state
machine in :meth:`EmulatedStrap.write`), streams on a
:class:`~psoas_sense.sources.clock.VirtualClock`, and injects the faults its options ask for: link
drops, reboots, malformed frames, stalled streams, lost skin contact.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.backends.service import BleakGATTServiceCollection
from bleak.exc import BleakError

from psoas_sense.decode import hrs, pmd
from psoas_sense.decode.pmd import CpStatus, MeasurementType, OpCode
from psoas_sense.errors import DecodeError
from psoas_sense.sources.clock import VirtualClock
from psoas_sense.sources.emulator.breathing import BreathingSignal
from psoas_sense.sources.emulator.gatt import (
    DIS,
    advertised_services,
    advertisement,
    gatt_table,
    service_collection,
)
from psoas_sense.sources.emulator.link import SentFrame, StrapLink
from psoas_sense.sources.emulator.options import EmulatorOptions
from psoas_sense.sources.emulator.payloads import (
    ACC_SAMPLES_PER_FRAME,
    MALFORMED_DELTA_BYTES,
    MALFORMED_HR_MEASUREMENT,
    ecg_waveform_uv,
    heart_rate_measurement,
)

H10_EPOCH_NS = 599_616_000_000_000_000
"""An H10 whose clock was never set starts at 2019-01-01T00:00:00 (Polar SDK docs)."""
ACC_RATES_HZ = (25, 50, 100, 200)
"""ACC sample rates an H10 offers."""
ACC_RANGES_G = (2, 4, 8)
"""ACC ranges an H10 offers."""
ACC_RESOLUTION_BITS = 16
ECG_RATE_HZ = 130
ECG_RESOLUTION_BITS = 14
ECG_SAMPLES_PER_FRAME = 73
"""An H10 at MTU 232: (232 - 3 - 10) / 3 bytes per int24 sample."""
NO_CONTACT_S = 10.0
"""How long each ``no_contact_at`` lasts."""
HR_INTERVAL_S = 1.0
"""A Heart Rate Measurement notification every second."""
H10_HR_FLAGS = 0x10
"""An H10's Heart Rate Measurement flags: RR present, no contact bits."""
MAX_SENT_KEPT = 20_000
"""Sent frames, beats and control-point writes remembered (about an hour of ACC frames)."""
HRS_HR_FLAGS = 0x16
"""A standard strap's: RR present, contact supported and detected."""


@dataclass
class _AccStream:
    """A running PMD stream of the device (ACC or ECG)."""

    rate_hz: int
    """Sample rate."""
    range_g: int
    """ACC range (0 for ECG)."""
    start_t: float
    """Session time of its first sample."""
    task: asyncio.Task[None] | None = None
    """The task producing its frames."""
    next_index: int = 0
    """Index of its next sample (sample i is at time i / rate)."""


class EmulatedStrap(StrapLink):
    """The device side of an emulated strap (one at a time may be connected).

    Args:
        opts: what to emulate (see :func:`parse_emulator_spec`).
        clock: the virtual clock shared with the client code.
    """

    def __init__(self, opts: EmulatorOptions, clock: VirtualClock) -> None:
        h10 = opts.is_h10
        name = opts.name or ("Polar H10 E4A1D2C3" if h10 else "HRM-Dual 12345")
        super().__init__(name, clock, opts.latency_s, opts.seed)
        self.opts = opts
        self.signal = BreathingSignal(opts)
        self.address = opts.address or ("EE:A1:D2:C3:00:10" if h10 else "C0:FF:EE:00:00:01")
        self.model = "Polar H10" if h10 else "HRM-Dual"
        self.dis = {
            "manufacturer": "Polar Electro Oy" if h10 else "Emulated Straps Inc.",
            "model": self.model,
            "firmware": "5.0.0" if h10 else "1.0",
            "hardware": "00760690.03" if h10 else "1",
            "software": "3.2.0" if h10 else "1.0",
        }
        self.hr_flags = opts.hr_flags if opts.hr_flags is not None else (H10_HR_FLAGS if h10 else HRS_HR_FLAGS)
        self.battery = 87
        self._chars = gatt_table(h10)
        self.ble_device = BLEDevice(self.address, self.name, details=self)
        self._acc: _AccStream | None = None
        self._ecg: _AccStream | None = None
        self._started = False
        self._malformed_pending = sorted(opts.malformed_at_s)
        self._stalls_pending = sorted(opts.stall_at_s)
        self._stall_until = -1.0
        self._clock_origin_s = 0.0
        self.restarts = 0
        self.sent: deque[SentFrame] = deque(maxlen=MAX_SENT_KEPT)
        """The latest ACC frames produced (tests compare them with what the client decoded);
        bounded, so hours of emulated data take no more memory than minutes."""
        self.hr_sent: deque[tuple[float, bool]] = deque(maxlen=MAX_SENT_KEPT)
        """(time, delivered) of the latest Heart Rate Measurements."""
        self.cp_log: deque[tuple[float, bytes, bytes]] = deque(maxlen=MAX_SENT_KEPT)
        """(time, request, response) of the latest control-point writes."""

    # ------------------------------------------------------------ GATT layout

    def service_collection(self, obj: Any) -> BleakGATTServiceCollection:
        """The GATT table as bleak's service collection (see :mod:`.gatt`)."""
        return service_collection(self._chars, obj)

    @property
    def service_uuids(self) -> list[str]:
        """Service UUIDs the strap advertises."""
        return advertised_services(self.opts.is_h10)

    @property
    def advertisement(self) -> AdvertisementData:
        """What the strap advertises."""
        return advertisement(self.name, self.opts.is_h10, self.opts.rssi)

    # ------------------------------------------------------------ lifecycle

    def power_on(self) -> None:
        """Start the device's own timeline (heartbeats, scheduled faults)."""
        if self._started:
            return
        self._started = True
        self._spawn(self._hr_loop(), "emulated-hr")
        for t in self.opts.drop_at_s:
            self._spawn(self._drop_at(t), "emulated-drop")
        for t in self.opts.restart_at_s:
            self._spawn(self._drop_at(t, restart=True), "emulated-restart")

    async def shutdown(self) -> None:
        """Stop everything the device runs; a later connect powers it on again."""
        await super().shutdown()
        self._started = False

    async def _drop_at(self, t: float, restart: bool = False) -> None:
        await self.clock.sleep_until(t)
        reachable_from = t + self.opts.drop_for_s
        if restart:
            self.restarts += 1
            self._stop_acc()
            self._stop_ecg()
            self._clock_origin_s = reachable_from
        self.drop_link(reachable_from)

    # ------------------------------------------------------------ GATT operations

    def read(self, uuid: str) -> bytes:
        if uuid == hrs.BATTERY_LEVEL_UUID:
            return bytes([self.battery])
        if uuid == hrs.BODY_SENSOR_LOCATION_UUID:
            return b"\x01"
        if uuid in DIS:
            return self.dis[DIS[uuid]].encode()
        if uuid == pmd.PMD_CONTROL_POINT_UUID:
            return pmd.features_bytes({"ecg", "acc"})
        raise BleakError(f"characteristic {uuid} is not readable")

    def write(self, uuid: str, data: bytes) -> None:
        if uuid != pmd.PMD_CONTROL_POINT_UUID or not self.opts.is_h10:
            raise BleakError(f"characteristic {uuid} is not writable")
        resp = self._control_point(bytes(data))
        self.cp_log.append((self.clock.now(), bytes(data), resp))
        if pmd.PMD_CONTROL_POINT_UUID not in self._subs:
            return  # indications not enabled: a real H10 stays silent
        self._notify(pmd.PMD_CONTROL_POINT_UUID, resp)

    def _control_point(self, data: bytes) -> bytes:
        """The response to one CP write: the H10's control-point state machine."""
        try:
            req = pmd.parse_cp_request(data)
        except DecodeError:
            return pmd.cp_response_bytes(data[0] if data else 0, 0, CpStatus.ERROR_INVALID_LENGTH)
        op, mtype = req.op_code, req.measurement_type
        if op not in (OpCode.GET_MEASUREMENT_SETTINGS, OpCode.START_MEASUREMENT, OpCode.STOP_MEASUREMENT):
            return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_INVALID_OP_CODE)
        if mtype not in (MeasurementType.ACC, MeasurementType.ECG):
            return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_NOT_SUPPORTED)
        if op == OpCode.GET_MEASUREMENT_SETTINGS:
            if mtype == MeasurementType.ACC:
                offered = {"sample_rate": ACC_RATES_HZ, "resolution": (ACC_RESOLUTION_BITS,), "range": ACC_RANGES_G}
            else:
                offered = {"sample_rate": (ECG_RATE_HZ,), "resolution": (ECG_RESOLUTION_BITS,)}
            return pmd.cp_response_bytes(op, mtype, CpStatus.SUCCESS, pmd.available_settings_bytes(offered))
        if mtype == MeasurementType.ECG:
            return self._control_point_ecg(op, req.settings)
        if op == OpCode.STOP_MEASUREMENT:
            if self._acc is None:
                return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_ALREADY_IN_STATE)
            self._stop_acc()
            return pmd.cp_response_bytes(op, mtype, CpStatus.SUCCESS)
        if self._acc is not None:
            return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_ALREADY_IN_STATE)
        s = req.settings
        if "resolution" not in s or "sample_rate" not in s or "range" not in s:
            return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_INVALID_PARAMETER)  # as a real H10
        rate, res, rng = int(s["sample_rate"][0]), int(s["resolution"][0]), int(s["range"][0])
        if rate not in ACC_RATES_HZ:
            return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_INVALID_SAMPLE_RATE)
        if res != ACC_RESOLUTION_BITS:
            return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_INVALID_RESOLUTION)
        if rng not in ACC_RANGES_G:
            return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_INVALID_RANGE)
        start = self.clock.now() + self.opts.start_delay_s
        self._acc = _AccStream(rate, rng, start, next_index=int(math.ceil(start * rate)))
        self._acc.task = self._spawn(self._acc_loop(self._acc), "emulated-acc")
        # an H10 start response carries one trailing reserved byte
        return pmd.cp_response_bytes(op, mtype, CpStatus.SUCCESS, b"\x01")

    def _control_point_ecg(self, op: int, settings: dict[str, tuple[float, ...]]) -> bytes:
        """ECG: 130 Hz, 14 bit, int24 µV frames of 73 samples, as an H10."""
        mtype = MeasurementType.ECG
        if op == OpCode.STOP_MEASUREMENT:
            if self._ecg is None:
                return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_ALREADY_IN_STATE)
            self._stop_ecg()
            return pmd.cp_response_bytes(op, mtype, CpStatus.SUCCESS)
        if self._ecg is not None:
            return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_ALREADY_IN_STATE)
        if settings.get("sample_rate", (ECG_RATE_HZ,))[0] != ECG_RATE_HZ:
            return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_INVALID_SAMPLE_RATE)
        if settings.get("resolution", (ECG_RESOLUTION_BITS,))[0] != ECG_RESOLUTION_BITS:
            return pmd.cp_response_bytes(op, mtype, CpStatus.ERROR_INVALID_RESOLUTION)
        start = self.clock.now() + self.opts.start_delay_s
        self._ecg = _AccStream(ECG_RATE_HZ, 0, start, next_index=int(math.ceil(start * ECG_RATE_HZ)))
        self._ecg.task = self._spawn(self._ecg_loop(self._ecg), "emulated-ecg")
        return pmd.cp_response_bytes(op, mtype, CpStatus.SUCCESS, b"\x00")  # as the real capture F0 02 00 00 00 00

    def _stop_ecg(self) -> None:
        if self._ecg is not None and self._ecg.task is not None:
            self._ecg.task.cancel()
        self._ecg = None

    async def _ecg_loop(self, stream: _AccStream) -> None:
        n = ECG_SAMPLES_PER_FRAME
        while True:
            i0 = stream.next_index
            t = np.arange(i0, i0 + n) / ECG_RATE_HZ
            beats, _ = self.signal.beats(t[0] - 1.0, t[-1] + 1.0)
            uv = ecg_waveform_uv(t, beats)
            t_last = float(t[-1])
            await self.clock.sleep_until(t_last)
            stream.next_index = i0 + n
            frame = pmd.ecg_frame_bytes(self._device_ns(t_last), np.rint(uv).astype(np.int64))
            self._notify(pmd.PMD_DATA_UUID, frame)

    def _stop_acc(self) -> None:
        if self._acc is not None and self._acc.task is not None:
            self._acc.task.cancel()
        self._acc = None
        self._stall_until = -1.0  # a stop and start clears a stalled stream

    # ------------------------------------------------------------ streams

    def _device_ns(self, t_s: float) -> int:
        return H10_EPOCH_NS + int(round((t_s - self._clock_origin_s) * 1e9))

    async def _hr_loop(self) -> None:
        t = HR_INTERVAL_S
        while True:
            await self.clock.sleep_until(t)
            _, rr = self.signal.beats(t - HR_INTERVAL_S, t)
            hr = int(round(60000.0 / rr[-1])) if rr.size else int(self.opts.hr_bpm)
            contact = not any(t0 <= t < t0 + NO_CONTACT_S for t0 in self.opts.no_contact_at_s)
            body = heart_rate_measurement(hr, rr, self.hr_flags, contact)
            if not self.opts.is_h10 and self._malformed_pending and t >= self._malformed_pending[0]:
                self._malformed_pending.pop(0)
                body = MALFORMED_HR_MEASUREMENT
            delivered = self._notify(hrs.HEART_RATE_MEASUREMENT_UUID, body)
            self.hr_sent.append((t, delivered))
            t += HR_INTERVAL_S

    async def _acc_loop(self, stream: _AccStream) -> None:
        rate = stream.rate_hz
        stalls = self._stalls_pending
        while True:
            i0 = stream.next_index
            n = ACC_SAMPLES_PER_FRAME
            samples = self.signal.acc(i0, i0 + n, rate)
            limit = stream.range_g * 1000.0
            samples = np.clip(samples, -limit, limit)
            t_last = (i0 + n - 1) / rate
            await self.clock.sleep_until(t_last)
            stream.next_index = i0 + n
            if stalls and t_last >= stalls[0]:
                self._stall_until = stalls.pop(0) + self.opts.stall_for_s
            if t_last < self._stall_until:
                self.sent.append(SentFrame(t_last, self._device_ns(t_last), n, False))
                continue
            ts = self._device_ns(t_last)
            data = pmd.acc_frame_bytes(ts, samples, compressed=self.opts.acc_frames == "delta")
            malformed = False
            if self._malformed_pending and t_last >= self._malformed_pending[0]:
                self._malformed_pending.pop(0)
                data = data[:MALFORMED_DELTA_BYTES] if self.opts.acc_frames == "delta" else data[:-1]
                malformed = True
            record = SentFrame(t_last, ts, n, False, malformed)
            self.sent.append(record)
            self._notify(pmd.PMD_DATA_UUID, data, record)
