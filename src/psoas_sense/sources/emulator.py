"""An emulated chest strap behind bleak's own client and scanner APIs.

:class:`EmulatedStrap` models the device: a standard Heart Rate strap (``hrs``: Heart Rate,
Battery and Device Information services) or a Polar H10 (``h10``: the same plus the PMD service
with its control point, settings, ACC start delay and delta-compressed or raw ACC frames). It
is driven by a synthetic breather (:func:`psoas_sense.simulate.synthesize`) or by a recording,
and can inject faults: a link drop at a time, a malformed frame, a stalled stream.

:class:`EmulatedBleakClient` is a bleak 3.x client backend (``BleakClient(device,
backend=EmulatedBleakClient)``): the real client code in :mod:`psoas_sense.sources.ble` runs
unchanged against it. :class:`EmulatedBleakScanner` is the matching scanner backend. The device
runs on a :class:`~psoas_sense.sources.clock.VirtualClock`: as fast as possible (data time, no
real sleeps) or paced.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import numpy as np
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakError

from psoas_sense.decode import hrs, pmd
from psoas_sense.errors import PsoasError
from psoas_sense.simulate import Breather, synthesize
from psoas_sense.sources.clock import VirtualClock

DIS = {
    "00002a29-0000-1000-8000-00805f9b34fb": "manufacturer",
    "00002a24-0000-1000-8000-00805f9b34fb": "model",
    "00002a26-0000-1000-8000-00805f9b34fb": "firmware",
    "00002a27-0000-1000-8000-00805f9b34fb": "hardware",
    "00002a28-0000-1000-8000-00805f9b34fb": "software",
}
DIS_SERVICE_UUID = "0000180a-0000-1000-8000-00805f9b34fb"
CCCD_UUID = "00002902-0000-1000-8000-00805f9b34fb"

EMULATED_MTU = 232
"""ATT MTU the emulated link reports (Polar's recommended minimum for PMD)."""
H10_EPOCH_NS = 599_616_000_000_000_000
"""An H10 whose clock was never set starts at 2019-01-01T00:00:00 (Polar SDK docs)."""
SYNTH_CHUNK_S = 300.0
"""The synthetic breather is generated in chunks of this length, as the session needs them."""
SYNTH_RATE_HZ = 200.0
ACC_RATES_HZ = (25, 50, 100, 200)
ACC_RANGES_G = (2, 4, 8)
ECG_RATE_HZ = 130
ECG_SAMPLES_PER_FRAME = 73
"""An H10 at MTU 232: (232 - 3 - 10) / 3 bytes per int24 sample."""


# --------------------------------------------------------------------------- options


@dataclass
class EmulatorOptions:
    """What ``emulated:KIND?key=value&...`` sets (see :data:`EMULATOR_HELP`)."""

    kind: str = "h10"
    start_delay_s: float = 0.0
    drop_at_s: tuple[float, ...] = ()
    drop_for_s: float = 3.0
    malformed_at_s: tuple[float, ...] = ()
    stall_at_s: tuple[float, ...] = ()
    stall_for_s: float = 10.0
    recording: str | None = None
    seed: int = 1
    rate_bpm: float = 12.0
    hr_bpm: float = 65.0
    acc_frames: str = "delta"
    hr_flags: int | None = None
    rssi: int = -60
    name: str | None = None
    address: str | None = None
    no_contact_at_s: tuple[float, ...] = ()
    restart_at_s: tuple[float, ...] = ()
    latency_s: tuple[float, float] = (0.010, 0.040)

    @property
    def is_h10(self) -> bool:
        return self.kind == "h10"


EMULATOR_HELP = """\
emulated:h10 | emulated:hrs, with options after '?' joined by '&' (quote it in the shell), e.g.
  --device 'emulated:h10?drop_at=60&start_delay=25&recording=PATH'
  start_delay=S    seconds between the ACC start command and the first ACC frame (H10; a real
                   H10 often takes 25-30 s; default 0)
  drop_at=S[,S..]  drop the link at these session times; drop_for=S (default 3) the device stays
                   out of reach
  malformed_at=S[,S..]  send one malformed frame at these times (skipped and counted)
  stall_at=S[,S..] the ACC stream stalls for stall_for=S seconds (default 10)
  restart_at=S[,S..]  the strap reboots: the link drops for drop_for, streams stop, and its
                   clock restarts from 2019-01-01 (as an H10 whose battery was pulled)
  no_contact_at=S[,S..]  10 s without skin contact (contact bits; straps that report them)
  recording=PATH   drive the strap from a recording or CSV (acc and/or RR) instead of the
                   synthetic breather; seed=N, rate_bpm=X, hr_bpm=X tune the synthetic one
  acc_frames=delta|raw   ACC frame type: delta-compressed 0x81 (default) or raw int16 0x01 (what
                   a real H10 sends)
  hr_flags=0xNN    flags byte of Heart Rate Measurement (default 0x10 on h10, 0x16 on hrs)
  latency_ms=MIN-MAX  delay from the sample to the notification's arrival (default 10-40,
                   seeded; order kept, as on one BLE link)
  name=..., address=..., rssi=N   what the strap advertises"""


def _floats(value: str, key: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise PsoasError(f"emulated device option {key}={value!r}: expected seconds (e.g. {key}=60)") from None


def parse_emulator_spec(spec: str) -> EmulatorOptions:
    """``emulated:h10?drop_at=60&start_delay=25`` -> options; :class:`PsoasError` when bad."""
    if not spec.startswith("emulated:"):
        raise PsoasError(f"not an emulated device: {spec!r}")
    body = spec[len("emulated:") :]
    kind, _, query = body.partition("?")
    kind = kind.strip().lower()
    if kind not in ("h10", "hrs"):
        raise PsoasError(f"unknown emulated device {kind!r}: use emulated:h10 or emulated:hrs")
    opts = EmulatorOptions(kind=kind)
    for key, value in parse_qsl(query, keep_blank_values=True, strict_parsing=False):
        key = key.strip().lower()
        try:
            if key == "start_delay":
                opts.start_delay_s = float(value)
            elif key == "drop_at":
                opts.drop_at_s = _floats(value, key)
            elif key == "drop_for":
                opts.drop_for_s = float(value)
            elif key == "malformed_at":
                opts.malformed_at_s = _floats(value, key)
            elif key == "stall_at":
                opts.stall_at_s = _floats(value, key)
            elif key == "stall_for":
                opts.stall_for_s = float(value)
            elif key == "latency_ms":
                lo, _, hi = value.partition("-")
                a, b = float(lo) / 1000.0, float(hi or lo) / 1000.0
                if not (0 <= a <= b <= 5.0):
                    raise PsoasError("emulated device option latency_ms must be MIN-MAX milliseconds, e.g. 10-40")
                opts.latency_s = (a, b)
            elif key == "restart_at":
                opts.restart_at_s = _floats(value, key)
            elif key == "no_contact_at":
                opts.no_contact_at_s = _floats(value, key)
            elif key == "recording":
                if not value or not Path(value).exists():
                    raise PsoasError(f"emulated device recording not found: {value!r}")
                opts.recording = value
            elif key == "seed":
                opts.seed = int(value)
            elif key == "rate_bpm":
                opts.rate_bpm = float(value)
            elif key == "hr_bpm":
                opts.hr_bpm = float(value)
            elif key == "acc_frames":
                if value not in ("delta", "raw"):
                    raise PsoasError("emulated device option acc_frames must be delta or raw")
                opts.acc_frames = value
            elif key == "hr_flags":
                opts.hr_flags = int(value, 0) & 0xFF
            elif key == "rssi":
                opts.rssi = int(value)
            elif key == "name":
                opts.name = value
            elif key == "address":
                opts.address = value
            else:
                raise PsoasError(f"unknown emulated device option {key!r} (see --help for the list)")
        except ValueError:
            raise PsoasError(f"emulated device option {key}={value!r} is not a number") from None
    for name, v in (("start_delay", opts.start_delay_s), ("drop_for", opts.drop_for_s), ("stall_for", opts.stall_for_s)):
        if not (v >= 0 and math.isfinite(v)):
            raise PsoasError(f"emulated device option {name} must be a non-negative number of seconds")
    if not opts.is_h10 and (opts.stall_at_s or opts.start_delay_s):
        raise PsoasError("start_delay and stall_at apply to emulated:h10 only (a standard strap has no accelerometer)")
    return opts


# --------------------------------------------------------------------------- breathing signal


class BreathingSignal:
    """Chest acceleration (mG, with gravity) and heartbeats over session time, generated lazily.

    Synthetic (seeded chunks of :func:`synthesize`) or from a recording (looped).
    """

    def __init__(self, opts: EmulatorOptions) -> None:
        self._opts = opts
        self._acc_chunks: dict[int, np.ndarray] = {}
        self._beats: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.exhale_onsets_s: list[float] = []
        self._rec: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float] | None = None
        if opts.recording:
            self._rec = self._load_recording(opts.recording)

    @staticmethod
    def _load_recording(path: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        from psoas_sense.decode import NotificationDecoder
        from psoas_sense.model import AccFrame, Notification, RRFrame
        from psoas_sense.recording.importers import load_input

        _, items = load_input(path)
        dec = NotificationDecoder()
        acc_t: list[np.ndarray] = []
        acc_v: list[np.ndarray] = []
        beat_t: list[np.ndarray] = []
        rr: list[np.ndarray] = []
        for _, item in items:
            frames = dec.decode(item) if isinstance(item, Notification) else [item]
            for fr in frames:
                if isinstance(fr, AccFrame):
                    acc_t.append(fr.t_s)
                    acc_v.append(fr.acc_mg)
                elif isinstance(fr, RRFrame):
                    beat_t.append(fr.t_s)
                    rr.append(fr.rr_ms)
        if not acc_t and not beat_t:
            raise PsoasError(f"{path}: no accelerometer or RR data to drive the emulated strap")
        at = np.concatenate(acc_t) if acc_t else np.zeros(0)
        av = np.concatenate(acc_v) if acc_v else np.zeros((0, 3))
        bt = np.concatenate(beat_t) if beat_t else np.zeros(0)
        rv = np.concatenate(rr) if rr else np.zeros(0)
        t0 = min([x[0] for x in (at, bt) if x.size])
        span = max([x[-1] for x in (at, bt) if x.size]) - t0
        return at - t0, av, bt - t0, rv, max(span, 1.0)

    def _synth_chunk(self, k: int) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        syn = synthesize(
            SYNTH_CHUNK_S,
            seed=self._opts.seed * 1000 + k,
            breather=Breather(rate_bpm=self._opts.rate_bpm, hr_bpm=self._opts.hr_bpm),
            fs_hz=SYNTH_RATE_HZ,
            gravity_axis=np.array([0.1, -0.2, 1.0]),
            breathing_axis=np.array([0.9, 0.3, 0.1]),
        )
        off = k * SYNTH_CHUNK_S
        self.exhale_onsets_s.extend(float(x) + off for x in syn.exhale_onsets_s)
        return syn.acc_mg, (syn.beat_t_s + off, syn.rr_ms)

    def _chunk(self, k: int) -> None:
        if k in self._acc_chunks:
            return
        if self._rec is None:
            acc, beats = self._synth_chunk(k)
            self._acc_chunks[k] = acc
            self._beats[k] = beats
            return
        at, av, bt, rv, span = self._rec
        t = k * SYNTH_CHUNK_S + np.arange(int(SYNTH_CHUNK_S * SYNTH_RATE_HZ)) / SYNTH_RATE_HZ
        if at.size:
            tt = np.mod(t, span)
            acc = np.stack([np.interp(tt, at, av[:, i]) for i in range(3)], axis=1)
        else:
            acc = np.tile(np.array([0.0, 0.0, 1000.0]), (t.size, 1))
        self._acc_chunks[k] = acc
        t0, t1 = k * SYNTH_CHUNK_S, (k + 1) * SYNTH_CHUNK_S
        if bt.size:
            reps = range(int(t0 // span), int(t1 // span) + 1)
            allb = np.concatenate([bt + r * span for r in reps])
            allr = np.concatenate([rv for _ in reps])
            m = (allb >= t0) & (allb < t1)
            self._beats[k] = (allb[m], allr[m])
        else:
            self._beats[k] = (np.zeros(0), np.zeros(0))

    def acc(self, i0: int, i1: int, rate_hz: float) -> np.ndarray:
        """ACC samples i0..i1-1 of a stream at ``rate_hz`` (sample i at time i / rate)."""
        step = SYNTH_RATE_HZ / rate_hz
        idx = np.rint(np.arange(i0, i1) * step).astype(np.int64)
        n_per = int(SYNTH_CHUNK_S * SYNTH_RATE_HZ)
        out = np.empty((idx.size, 3))
        chunk_of = idx // n_per
        for k in np.unique(chunk_of):
            self._chunk(int(k))
            m = chunk_of == k
            out[m] = self._acc_chunks[int(k)][idx[m] - int(k) * n_per]
        return out

    def beats(self, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
        """Beat times in (t0, t1] and the RR interval ending at each, ms."""
        ks = range(int(max(t0, 0) // SYNTH_CHUNK_S), int(max(t1, 0) // SYNTH_CHUNK_S) + 1)
        bt_l, rr_l = [], []
        for k in ks:
            self._chunk(k)
            b, r = self._beats[k]
            m = (b > t0) & (b <= t1)
            bt_l.append(b[m])
            rr_l.append(r[m])
        return np.concatenate(bt_l), np.concatenate(rr_l)


# --------------------------------------------------------------------------- device model


@dataclass
class _Char:
    uuid: str
    properties: list[str]
    handle: int
    service_uuid: str


@dataclass
class SentFrame:
    """A PMD data frame the device produced (for tests: what was sent, when, and whether it
    arrived at the client)."""

    t_s: float
    timestamp_ns: int
    n: int
    delivered: bool
    malformed: bool = False


@dataclass
class _AccStream:
    rate_hz: int
    range_g: int
    start_t: float
    task: asyncio.Task[None] | None = None
    next_index: int = 0


class EmulatedStrap:
    """The device side of an emulated strap (one at a time may be connected).

    Args:
        opts: what to emulate (see :func:`parse_emulator_spec`).
        clock: the virtual clock shared with the client code.
    """

    def __init__(self, opts: EmulatorOptions, clock: VirtualClock) -> None:
        self.opts = opts
        self.clock = clock
        self.signal = BreathingSignal(opts)
        h10 = opts.is_h10
        self.name = opts.name or ("Polar H10 E4A1D2C3" if h10 else "HRM-Dual 12345")
        self.address = opts.address or ("EE:A1:D2:C3:00:10" if h10 else "C0:FF:EE:00:00:01")
        self.model = "Polar H10" if h10 else "HRM-Dual"
        self.dis = {
            "manufacturer": "Polar Electro Oy" if h10 else "Emulated Straps Inc.",
            "model": self.model,
            "firmware": "5.0.0" if h10 else "1.0",
            "hardware": "00760690.03" if h10 else "1",
            "software": "3.2.0" if h10 else "1.0",
        }
        self.hr_flags = opts.hr_flags if opts.hr_flags is not None else (0x10 if h10 else 0x16)
        self.battery = 87
        self._chars = self._gatt_table()
        self.ble_device = BLEDevice(self.address, self.name, details=self)
        self.client: EmulatedBleakClient | None = None
        self._subs: dict[str, NotifyCallback] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._acc: _AccStream | None = None
        self._ecg: _AccStream | None = None
        self._reachable_from = 0.0
        self._started = False
        self._malformed_pending = sorted(opts.malformed_at_s)
        self._stalls_pending = sorted(opts.stall_at_s)
        self._stall_until = -1.0
        self._clock_origin_s = 0.0
        self.restarts = 0
        self._latency_rng = np.random.default_rng(opts.seed + 7919)
        self._last_arrival_s = 0.0
        self.sent: list[SentFrame] = []
        """Every ACC frame produced (tests compare it with what the client decoded)."""
        self.hr_sent: list[tuple[float, bool]] = []
        self.connects = 0
        self.lost_in_flight = 0
        """Notifications sent just before a drop that never arrived."""
        self.cp_log: list[tuple[float, bytes, bytes]] = []
        """(time, request, response) of every control-point write."""

    # ------------------------------------------------------------ GATT layout

    def _gatt_table(self) -> list[_Char]:
        chars: list[_Char] = []
        handle = 1

        def add(service: str, uuids: list[tuple[str, list[str]]]) -> None:
            nonlocal handle
            handle += 1
            for uuid, props in uuids:
                chars.append(_Char(uuid, props, handle + 1, service))
                handle += 3

        add(hrs.HEART_RATE_SERVICE_UUID, [(hrs.HEART_RATE_MEASUREMENT_UUID, ["notify"]), (hrs.BODY_SENSOR_LOCATION_UUID, ["read"])])
        add(hrs.BATTERY_SERVICE_UUID, [(hrs.BATTERY_LEVEL_UUID, ["read", "notify"])])
        add(DIS_SERVICE_UUID, [(u, ["read"]) for u in DIS])
        if self.opts.is_h10:
            add(
                pmd.PMD_SERVICE_UUID,
                [(pmd.PMD_CONTROL_POINT_UUID, ["read", "write", "indicate"]), (pmd.PMD_DATA_UUID, ["notify"])],
            )
        return chars

    def service_collection(self, obj: Any) -> BleakGATTServiceCollection:
        coll = BleakGATTServiceCollection()
        services: dict[str, BleakGATTService] = {}
        for c in self._chars:
            svc = services.get(c.service_uuid)
            if svc is None:
                svc = services[c.service_uuid] = BleakGATTService(obj, c.handle - 1, c.service_uuid)
                coll.add_service(svc)
            ch = BleakGATTCharacteristic(obj, c.handle, c.uuid, list(c.properties), lambda: EMULATED_MTU - 3, svc)  # type: ignore[arg-type]
            coll.add_characteristic(ch)
            if "notify" in c.properties or "indicate" in c.properties:
                coll.add_descriptor(BleakGATTDescriptor(obj, c.handle + 1, CCCD_UUID, ch))
        return coll

    @property
    def service_uuids(self) -> list[str]:
        out = [hrs.HEART_RATE_SERVICE_UUID]
        if self.opts.is_h10:
            out.append(pmd.PMD_SERVICE_UUID)
        return out

    @property
    def advertisement(self) -> AdvertisementData:
        return AdvertisementData(
            local_name=self.name,
            manufacturer_data={0x006B: b"\x00"} if self.opts.is_h10 else {},
            service_data={},
            service_uuids=self.service_uuids,
            tx_power=None,
            rssi=self.opts.rssi,
            platform_data=(),
        )

    # ------------------------------------------------------------ lifecycle

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.append(task)
        return task

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
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks.clear()
        self._started = False

    def reachable(self) -> bool:
        return self.clock.now() >= self._reachable_from

    async def attach(self, client: EmulatedBleakClient, timeout: float) -> None:
        """A client connects: waits (virtually) while the strap is out of reach."""
        self.power_on()
        if self.client is not None and self.client is not client:
            raise BleakError(f"{self.name}: already connected to another client (device busy)")
        wait = self._reachable_from - self.clock.now()
        if wait > 0:
            if wait > timeout:
                await self.clock.sleep(timeout)
                raise asyncio.TimeoutError(f"{self.name} did not answer within {timeout} s")
            await self.clock.sleep(wait)
        self.client = client
        self.connects += 1
        self._subs.clear()

    def detach(self, client: EmulatedBleakClient) -> None:
        """A clean disconnect from the client. Streams the client did not stop keep running in
        the device (as on a real H10), so the next start answers ERROR_ALREADY_IN_STATE."""
        if self.client is client:
            self.client = None
            self._subs.clear()

    async def _drop_at(self, t: float, restart: bool = False) -> None:
        await self.clock.sleep_until(t)
        self._reachable_from = t + self.opts.drop_for_s
        if restart:
            self.restarts += 1
            self._stop_acc()
            self._stop_ecg()
            self._clock_origin_s = self._reachable_from
        client = self.client
        if client is not None:
            self.client = None
            self._subs.clear()
            client._link_lost()

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

    def subscribe(self, uuid: str, callback: NotifyCallback) -> None:
        self._subs[uuid] = callback

    def unsubscribe(self, uuid: str) -> None:
        self._subs.pop(uuid, None)

    def _notify(self, uuid: str, data: bytes, record: SentFrame | None = None) -> bool:
        """Send a notification: it arrives after the link latency, in order, if the link holds.

        ``record`` (a :class:`SentFrame`) is marked delivered when the notification arrives."""
        cb = self._subs.get(uuid)
        client = self.client
        if cb is None or client is None:
            return False
        lo, hi = self.opts.latency_s
        now = self.clock.now()
        arrival = max(now + float(self._latency_rng.uniform(lo, hi)), self._last_arrival_s)
        self._last_arrival_s = arrival
        if arrival <= now:
            asyncio.get_running_loop().call_soon(cb, bytearray(data))
            if record is not None:
                record.delivered = True
        else:
            self._spawn(self._deliver(arrival, client, cb, bytes(data), record), "emulated-link")
        return True

    async def _deliver(
        self, arrival: float, client: EmulatedBleakClient, cb: NotifyCallback, data: bytes, record: SentFrame | None
    ) -> None:
        await self.clock.sleep_until(arrival)
        if self.client is client:
            cb(bytearray(data))
            if record is not None:
                record.delivered = True
        else:
            self.lost_in_flight += 1
        task = asyncio.current_task()
        if task in self._tasks:
            self._tasks.remove(task)  # type: ignore[arg-type]

    def write(self, uuid: str, data: bytes) -> None:
        if uuid != pmd.PMD_CONTROL_POINT_UUID or not self.opts.is_h10:
            raise BleakError(f"characteristic {uuid} is not writable")
        resp = self._control_point(bytes(data))
        self.cp_log.append((self.clock.now(), bytes(data), resp))
        if pmd.PMD_CONTROL_POINT_UUID not in self._subs:
            return  # indications not enabled: a real H10 stays silent
        self._notify(pmd.PMD_CONTROL_POINT_UUID, resp)

    def _control_point(self, data: bytes) -> bytes:
        try:
            req = pmd.parse_cp_request(data)
        except Exception:
            return pmd.cp_response_bytes(data[0] if data else 0, 0, 4)
        op, mtype = req.op_code, req.measurement_type
        if op not in (pmd.OP_GET_SETTINGS, pmd.OP_START, pmd.OP_STOP):
            return pmd.cp_response_bytes(op, mtype, 1)
        if mtype not in (pmd.ACC, pmd.ECG):
            return pmd.cp_response_bytes(op, mtype, 3)
        if op == pmd.OP_GET_SETTINGS:
            if mtype == pmd.ACC:
                params = pmd.available_settings_bytes(
                    {"sample_rate": ACC_RATES_HZ, "resolution": (16,), "range": ACC_RANGES_G}
                )
            else:
                params = pmd.available_settings_bytes({"sample_rate": (130,), "resolution": (14,)})
            return pmd.cp_response_bytes(op, mtype, 0, params)
        if mtype == pmd.ECG:
            return self._control_point_ecg(op, req.settings)
        if op == pmd.OP_STOP:
            if self._acc is None:
                return pmd.cp_response_bytes(op, mtype, pmd.ERROR_ALREADY_IN_STATE)
            self._stop_acc()
            return pmd.cp_response_bytes(op, mtype, 0)
        # start
        if self._acc is not None:
            return pmd.cp_response_bytes(op, mtype, pmd.ERROR_ALREADY_IN_STATE)
        s = req.settings
        if "resolution" not in s or "sample_rate" not in s or "range" not in s:
            return pmd.cp_response_bytes(op, mtype, 5)  # ERROR_INVALID_PARAMETER, as a real H10
        rate, res, rng = int(s["sample_rate"][0]), int(s["resolution"][0]), int(s["range"][0])
        if rate not in ACC_RATES_HZ:
            return pmd.cp_response_bytes(op, mtype, 8)
        if res != 16:
            return pmd.cp_response_bytes(op, mtype, 7)
        if rng not in ACC_RANGES_G:
            return pmd.cp_response_bytes(op, mtype, 9)
        now = self.clock.now()
        start = now + self.opts.start_delay_s
        self._acc = _AccStream(rate, rng, start, next_index=int(math.ceil(start * rate)))
        self._acc.task = self._spawn(self._acc_loop(self._acc), "emulated-acc")
        # an H10 start response carries one trailing reserved byte
        return pmd.cp_response_bytes(op, mtype, 0, b"\x01")

    def _control_point_ecg(self, op: int, settings: dict[str, tuple[float, ...]]) -> bytes:
        """ECG: 130 Hz, 14 bit, int24 µV frames of 73 samples, as an H10."""
        mtype = pmd.ECG
        if op == pmd.OP_STOP:
            if self._ecg is None:
                return pmd.cp_response_bytes(op, mtype, pmd.ERROR_ALREADY_IN_STATE)
            self._stop_ecg()
            return pmd.cp_response_bytes(op, mtype, 0)
        if self._ecg is not None:
            return pmd.cp_response_bytes(op, mtype, pmd.ERROR_ALREADY_IN_STATE)
        if settings.get("sample_rate", (130,))[0] != 130:
            return pmd.cp_response_bytes(op, mtype, 8)
        if settings.get("resolution", (14,))[0] != 14:
            return pmd.cp_response_bytes(op, mtype, 7)
        start = self.clock.now() + self.opts.start_delay_s
        self._ecg = _AccStream(ECG_RATE_HZ, 0, start, next_index=int(math.ceil(start * ECG_RATE_HZ)))
        self._ecg.task = self._spawn(self._ecg_loop(self._ecg), "emulated-ecg")
        return pmd.cp_response_bytes(op, mtype, 0, b"\x00")  # as the real capture F0 02 00 00 00 00

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
            uv = np.zeros(n)
            for b in beats:
                uv += 1200.0 * np.exp(-(((t - b) / 0.012) ** 2)) + 200.0 * np.exp(-(((t - b - 0.25) / 0.05) ** 2))
            t_last = float(t[-1])
            await self.clock.sleep_until(t_last)
            stream.next_index = i0 + n
            self._notify(pmd.PMD_DATA_UUID, pmd.ecg_frame_bytes(self._device_ns(t_last), np.rint(uv).astype(np.int64)))

    def _stop_acc(self) -> None:
        if self._acc is not None and self._acc.task is not None:
            self._acc.task.cancel()
        self._acc = None
        self._stall_until = -1.0  # a stop and start clears a stalled stream

    # ------------------------------------------------------------ streams

    def _device_ns(self, t_s: float) -> int:
        return H10_EPOCH_NS + int(round((t_s - self._clock_origin_s) * 1e9))

    async def _hr_loop(self) -> None:
        t = 1.0
        while True:
            await self.clock.sleep_until(t)
            bt, rr = self.signal.beats(t - 1.0, t)
            hr = int(round(60000.0 / rr[-1])) if rr.size else int(self.opts.hr_bpm)
            flags = self.hr_flags
            if any(t0 <= t < t0 + 10 for t0 in self.opts.no_contact_at_s) and flags & 0x04:
                flags &= ~0x02
            hr_field = bytes([hr]) if hr <= 0xFF else (hr & 0xFFFF).to_bytes(2, "little")
            if hr > 0xFF:
                flags |= 0x01
            if rr.size:
                body = bytes([flags | 0x10]) + hr_field
                body += b"".join(min(int(round(r * 1024 / 1000)), 0xFFFF).to_bytes(2, "little") for r in rr)
            else:
                body = bytes([flags & ~0x10]) + hr_field
            if not self.opts.is_h10 and self._malformed_pending and t >= self._malformed_pending[0]:
                self._malformed_pending.pop(0)
                body = bytes([0x11, 60])  # uint16 HR flagged, one byte: malformed
            delivered = self._notify(hrs.HEART_RATE_MEASUREMENT_UUID, body)
            self.hr_sent.append((t, delivered))
            t += 1.0

    async def _acc_loop(self, stream: _AccStream) -> None:
        rate = stream.rate_hz
        stalls = self._stalls_pending
        while True:
            i0 = stream.next_index
            # 36 samples per frame, as a real H10 at MTU 232 (raw int16 fills 226 of 229 bytes;
            # the delta-compressed form of the same samples always fits too)
            n = (EMULATED_MTU - 3 - pmd.HEADER_BYTES) // 6
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
                data = data[: pmd.HEADER_BYTES + 9] if self.opts.acc_frames == "delta" else data[:-1]
                malformed = True
            record = SentFrame(t_last, ts, n, False, malformed)
            self.sent.append(record)
            self._notify(pmd.PMD_DATA_UUID, data, record)


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, EmulatedStrap] = {}
"""Emulated straps by address and by name, for address-string connects and the scanner."""


def register(strap: EmulatedStrap) -> None:
    _REGISTRY[strap.address.upper()] = strap
    _REGISTRY[strap.name.upper()] = strap


def unregister(strap: EmulatedStrap) -> None:
    for key in [k for k, v in _REGISTRY.items() if v is strap]:
        del _REGISTRY[key]


def registered() -> list[EmulatedStrap]:
    seen: list[EmulatedStrap] = []
    for v in _REGISTRY.values():
        if v not in seen:
            seen.append(v)
    return seen


# --------------------------------------------------------------------------- bleak backends


class EmulatedBleakClient(BaseBleakClient):
    """bleak client backend talking to an :class:`EmulatedStrap` (``BleakClient(..., backend=)``).

    The strap comes from ``BLEDevice.details`` (as the emulated scanner reports it) or from the
    registry by address.
    """

    def __init__(self, address_or_ble_device: BLEDevice | str, **kwargs: Any) -> None:
        kwargs.setdefault("disconnected_callback", None)
        kwargs.setdefault("timeout", 10.0)
        for key in ("services", "bluez", "winrt", "pair", "_is_retry_client", "cb"):
            kwargs.pop(key, None)
        super().__init__(address_or_ble_device, **kwargs)
        strap: Any = None
        if isinstance(address_or_ble_device, BLEDevice):
            strap = address_or_ble_device.details
        if not isinstance(strap, EmulatedStrap):
            strap = _REGISTRY.get(str(self.address).upper())
        if strap is None:
            raise BleakError(f"no emulated strap with address {self.address}")
        self._strap: EmulatedStrap = strap
        self._connected = False

    @property
    def name(self) -> str:
        return self._strap.name

    @property
    def mtu_size(self) -> int:
        return EMULATED_MTU

    @property
    def is_connected(self) -> bool:
        return self._connected

    async def connect(self, pair: bool = False, **kwargs: Any) -> None:
        timeout = float(kwargs.get("timeout", self._timeout))
        await self._strap.attach(self, timeout)
        self.services = self._strap.service_collection(self._strap)
        self._connected = True

    async def disconnect(self) -> None:
        if self._connected:
            self._connected = False
            self._strap.detach(self)
        await asyncio.sleep(0)

    def _link_lost(self) -> None:
        self._connected = False
        if self._disconnected_callback is not None:
            asyncio.get_running_loop().call_soon(self._disconnected_callback)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        return None

    async def unpair(self) -> None:
        return None

    def _check(self) -> None:
        if not self._connected:
            raise BleakError("Not connected")

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic, **kwargs: Any) -> bytearray:
        self._check()
        await asyncio.sleep(0)
        return bytearray(self._strap.read(characteristic.uuid))

    async def read_gatt_descriptor(self, descriptor: BleakGATTDescriptor, **kwargs: Any) -> bytearray:
        raise BleakError("descriptor reads are not emulated")

    async def write_gatt_char(self, characteristic: BleakGATTCharacteristic, data: Any, response: bool) -> None:
        self._check()
        await asyncio.sleep(0)
        self._strap.write(characteristic.uuid, bytes(data))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: Any) -> None:
        raise BleakError("descriptor writes are not emulated")

    async def start_notify(self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any) -> None:
        self._check()
        if not ({"notify", "indicate"} & set(characteristic.properties)):
            raise BleakError(f"characteristic {characteristic.uuid} does not notify")
        self._strap.subscribe(characteristic.uuid, callback)
        await asyncio.sleep(0)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._check()
        self._strap.unsubscribe(characteristic.uuid)


class EmulatedBleakScanner(BaseBleakScanner):
    """bleak scanner backend reporting the registered emulated straps (``devices=`` overrides)."""

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: Any = "active",
        *,
        devices: list[EmulatedStrap] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self._devices = devices
        self._handles: list[asyncio.Handle] = []

    async def start(self) -> None:
        self.seen_devices = {}
        loop = asyncio.get_running_loop()
        for strap in self._devices if self._devices is not None else registered():
            # report after start() returns: find_device_* register their callback afterwards
            self._handles.append(loop.call_soon(self._report, strap))

    def _report(self, strap: EmulatedStrap) -> None:
        adv = strap.advertisement
        if not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(strap.address, strap.address, strap.name, strap, adv)
        self.call_detection_callbacks(device, adv)

    async def stop(self) -> None:
        for h in self._handles:
            h.cancel()
        self._handles.clear()


__all__ = [
    "EMULATOR_HELP",
    "EmulatedBleakClient",
    "EmulatedBleakScanner",
    "EmulatedStrap",
    "EmulatorOptions",
    "parse_emulator_spec",
    "register",
    "unregister",
    "registered",
]
