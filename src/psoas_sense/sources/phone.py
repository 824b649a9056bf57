"""Phone IMU sources: phyphox remote access (polled), Sensor Logger HTTP push, UDP streams.

A phone lying on the chest or belly is a good breathing sensor. Three ways in, all without extra
dependencies:

- ``phyphox:HOST[:PORT]``: phyphox's remote-access web server on the phone (port 8080 on
  Android, 80 on iPhones). psoas-sense polls ``/get`` incrementally on ``acc_time`` (only
  samples newer than the last one), about 10 times a second; no port is opened here. Open the
  "Acceleration with g" experiment, enable remote access, press play.
- ``sensorlogger:PORT``: Sensor Logger pushes JSON batches by HTTP POST to this computer;
  psoas-sense listens on PORT (on all interfaces, since the phone is on the network; only
  because you asked for it). Enable "HTTP Push" with ``http://<this computer>:PORT/``.
- ``udp:PORT``: apps that stream CSV lines over UDP (HyperIMU, Sensorstream IMU+GPS): each
  datagram is ``[timestamp,] ax, ay, az[, ...]`` in m/s²; listens on PORT.

Samples are converted to mG and stamped in session seconds: phone sample times are mapped onto
the host clock once, at the first batch, so the phone's own spacing is kept.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from psoas_sense.errors import PsoasError
from psoas_sense.model import AccFrame, Item, Status
from psoas_sense.recording.format import Header

MS2_TO_MG = 1000.0 / 9.80665
POLL_INTERVAL_S = 0.1
"""How often phyphox is polled."""
LOST_AFTER_S = 5.0
"""No new sample for this long: the source reports ``lost`` (and ``streaming`` when they return)."""
HTTP_TIMEOUT_S = 3.0
MAX_BODY_BYTES = 4 * 1024 * 1024

PHONE_HELP = """\
phone sources:
  phyphox:HOST[:PORT]   poll phyphox remote access (default port 8080; iPhone: 80)
  sensorlogger:PORT     receive Sensor Logger HTTP push on PORT (opens that port)
  udp:PORT              receive CSV accelerometer lines over UDP on PORT (opens that port)"""


class _TimeMap:
    """Maps phone sample times onto session seconds, anchored once at the first batch."""

    def __init__(self) -> None:
        self.offset: float | None = None

    def map(self, phone_t: np.ndarray, host_now_s: float) -> np.ndarray:
        if self.offset is None:
            # the newest sample arrived just now; never map a sample before the session start
            self.offset = max(host_now_s - float(phone_t[-1]), -float(phone_t[0]))
        return phone_t + self.offset


class _QueueSource:
    """Common part: a queue of timed items filled by a producer task, with loss detection."""

    header: Header

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, rate_hz: float | None = None) -> None:
        self._clock = clock
        self._t0 = clock()
        self._queue: asyncio.Queue[tuple[float, Item] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._timemap = _TimeMap()
        self._last_sample_s = -math.inf
        self._streaming = False
        self.header = Header(
            streams={"acc": {"unit": "mG", "rate_hz": rate_hz}},
            device={"name": self.describe(), "source": "phone"},
            recorded_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        )

    def describe(self) -> str:
        return "phone"

    def now_s(self) -> float:
        return self._clock() - self._t0

    def put(self, item: Item) -> None:
        self._queue.put_nowait((self.now_s(), item))

    def put_samples(self, phone_t: np.ndarray, acc_mg: np.ndarray) -> None:
        if phone_t.size == 0:
            return
        order = np.argsort(phone_t, kind="stable")
        phone_t, acc_mg = phone_t[order], acc_mg[order]
        t = self._timemap.map(phone_t, self.now_s())
        keep = t > self._last_sample_s
        if not keep.any():
            return
        t, acc_mg = t[keep], acc_mg[keep]
        if not self._streaming:
            self._streaming = True
            self.put(Status(t_s=self.now_s(), state="streaming", detail=self.describe()))
        self._last_sample_s = float(t[-1])
        self.put(AccFrame(t_s=t, acc_mg=acc_mg))

    def check_lost(self) -> None:
        if self._streaming and self.now_s() - max(self._last_sample_s, 0.0) > LOST_AFTER_S:
            self._streaming = False
            self.put(Status(t_s=self.now_s(), state="lost", detail="no samples from the phone"))

    async def _produce(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    async def _run(self) -> None:
        try:
            await self._produce()
        finally:
            self._queue.put_nowait(None)

    async def __aenter__(self) -> "_QueueSource":
        self.put(Status(t_s=0.0, state="connecting", detail=self.describe()))
        await self._start()
        self._task = asyncio.ensure_future(self._run())
        return self

    async def _start(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        await self._stop()

    async def _stop(self) -> None:
        return None

    async def __aiter__(self) -> AsyncIterator[tuple[float, Item]]:
        while True:
            got = await self._queue.get()
            if got is None:
                return
            yield got


# --------------------------------------------------------------------------- phyphox


def _phyphox_values(obj: Any, name: str) -> list[float]:
    try:
        buf = obj["buffer"][name]["buffer"]
    except (KeyError, TypeError):
        return []
    return [float("nan") if v is None else float(v) for v in buf]


class PhyphoxSource(_QueueSource):
    """Polls a phyphox remote-access server for accelerometer samples."""

    def __init__(
        self,
        base_url: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str], bytes] | None = None,
        poll_s: float = POLL_INTERVAL_S,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        super().__init__(clock=clock)
        self._fetch = fetch or self._http_get
        self._poll_s = poll_s
        self._sleep = sleep
        self._names = ("acc_time", "accX", "accY", "accZ")
        self._last_phone_t: float | None = None
        self._session: str | None = None
        self.polls = 0

    def describe(self) -> str:
        return f"phyphox {self.base_url}"

    def _http_get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.base_url + path, timeout=HTTP_TIMEOUT_S) as r:  # noqa: S310 - user's phone
            return bytes(r.read(MAX_BODY_BYTES))

    async def _get_json(self, path: str) -> Any:
        data = await asyncio.to_thread(self._fetch, path)
        return json.loads(data)

    async def _start(self) -> None:
        try:
            config = await self._get_json("/config")
        except (OSError, urllib.error.URLError, ValueError) as exc:
            raise PsoasError(
                f"cannot reach phyphox at {self.base_url}: {exc}. Is remote access enabled in the "
                "experiment's menu, and are the phone and this computer on the same network?"
            ) from None
        self._names = _acc_buffers(config) or self._names

    def _query(self) -> str:
        tname, xn, yn, zn = self._names
        if self._last_phone_t is None:
            return f"/get?{tname}=full&{xn}=full&{yn}=full&{zn}=full"
        thr = repr(self._last_phone_t)
        ref = urllib.parse.quote(f"{thr}|{tname}", safe="")
        return f"/get?{tname}={thr}&{xn}={ref}&{yn}={ref}&{zn}={ref}"

    async def _produce(self) -> None:
        failures = 0
        while True:
            try:
                obj = await self._get_json(self._query())
                failures = 0
            except (OSError, urllib.error.URLError, ValueError):
                failures += 1
                self.check_lost()
                await self._sleep(min(2.0, self._poll_s * (2**failures)))
                continue
            self.polls += 1
            status = obj.get("status", {}) if isinstance(obj, dict) else {}
            session = status.get("session")
            if self._session is not None and session != self._session:
                # the experiment was switched or cleared on the phone: start over
                self._last_phone_t = None
                self.put(Status(t_s=self.now_s(), state="reconnected", detail="phyphox experiment restarted"))
            self._session = session
            tname, xn, yn, zn = self._names
            t = _phyphox_values(obj, tname)
            cols = [_phyphox_values(obj, n) for n in (xn, yn, zn)]
            n = min([len(t), *(len(c) for c in cols)])
            if n:
                tt = np.asarray(t[:n])
                acc = np.stack([np.asarray(c[:n]) for c in cols], axis=1) * MS2_TO_MG
                ok = np.isfinite(tt) & np.isfinite(acc).all(axis=1)
                if self._last_phone_t is not None:
                    ok &= tt > self._last_phone_t
                if ok.any():
                    self._last_phone_t = float(tt[ok][-1])
                    self.put_samples(tt[ok], acc[ok])
            self.check_lost()
            await self._sleep(self._poll_s)


def _acc_buffers(config: Any) -> tuple[str, str, str, str] | None:
    """Buffer names of the accelerometer input in a phyphox ``/config`` answer."""
    try:
        for inp in config.get("inputs", []):
            if inp.get("source") not in ("accelerometer", "linear_acceleration"):
                continue
            out: dict[str, str] = {}
            for o in inp.get("outputs", []):
                out.update(o)
            if all(k in out for k in ("t", "x", "y", "z")):
                return out["t"], out["x"], out["y"], out["z"]
    except AttributeError:
        return None
    return None


# --------------------------------------------------------------------------- Sensor Logger


ACC_NAMES = ("totalacceleration", "accelerometer")
"""Payload sensor names carrying acceleration (with gravity preferred)."""


def parse_sensor_logger(body: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Times (integer ns, phone epoch) and acceleration (mG) from one Sensor Logger push batch."""
    obj = json.loads(body)
    payload = obj.get("payload", []) if isinstance(obj, dict) else []
    by_name: dict[str, list[tuple[int, float, float, float]]] = {}
    for rec in payload:
        if not isinstance(rec, dict):
            continue
        name = str(rec.get("name", "")).lower()
        if name not in ACC_NAMES:
            continue
        vals = rec.get("values", {})
        try:
            row = (int(rec["time"]), float(vals["x"]), float(vals["y"]), float(vals["z"]))
        except (KeyError, TypeError, ValueError):
            continue
        by_name.setdefault(name, []).append(row)
    for name in ACC_NAMES:
        rows = by_name.get(name)
        if rows:
            t_ns = np.asarray([r[0] for r in rows], dtype=np.int64)
            acc = np.asarray([r[1:] for r in rows], dtype=np.float64)
            return t_ns, acc * MS2_TO_MG
    return np.zeros(0, dtype=np.int64), np.zeros((0, 3))


class SensorLoggerSource(_QueueSource):
    """Receives Sensor Logger HTTP push batches on a port the user chose."""

    def __init__(self, port: int, *, host: str = "0.0.0.0", clock: Callable[[], float] = time.monotonic) -> None:  # noqa: S104 - the phone is on the LAN
        self.port = port
        self.host = host
        super().__init__(clock=clock)
        self._server: asyncio.base_events.Server | None = None
        self._base_ns: int | None = None
        self.batches = 0

    def describe(self) -> str:
        return f"Sensor Logger push on port {self.port}"

    async def _start(self) -> None:
        try:
            self._server = await asyncio.start_server(self._handle, self.host, self.port)
        except OSError as exc:
            raise PsoasError(f"cannot listen on port {self.port}: {exc.strerror or exc}") from None
        sock = self._server.sockets[0] if self._server.sockets else None
        if sock is not None:
            self.port = sock.getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        status = b"200 OK"
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HTTP_TIMEOUT_S)
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v.strip())
            if length > MAX_BODY_BYTES:
                status = b"413 Payload Too Large"
            else:
                body = await asyncio.wait_for(reader.readexactly(length), HTTP_TIMEOUT_S)
                t_ns, acc = parse_sensor_logger(body)
                self.batches += 1
                if t_ns.size:
                    if self._base_ns is None:
                        self._base_ns = int(t_ns.min())
                    # relative to the first sample, in float seconds without losing precision
                    self.put_samples((t_ns - self._base_ns).astype(np.float64) * 1e-9, acc)
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, asyncio.LimitOverrunError, ValueError):
            status = b"400 Bad Request"
        writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _produce(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.check_lost()


# --------------------------------------------------------------------------- UDP


def parse_udp_line(text: str) -> tuple[float | None, tuple[float, float, float]] | None:
    """``[timestamp,] ax, ay, az[, ...]`` in m/s²; HyperIMU's ``#`` line ends are accepted."""
    parts = [p.strip() for p in text.replace("#", "").replace(";", ",").split(",") if p.strip()]
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        return None
    if len(vals) == 3:
        return None, (vals[0], vals[1], vals[2])
    if len(vals) >= 4:
        # Sensorstream IMU+GPS: timestamp, 3 (accelerometer id), x, y, z, ...
        if len(vals) >= 5 and vals[1] == 3.0:
            return vals[0], (vals[2], vals[3], vals[4])
        return vals[0], (vals[1], vals[2], vals[3])
    return None


class UdpSource(_QueueSource):
    """Receives CSV accelerometer lines over UDP on a port the user chose."""

    def __init__(self, port: int, *, host: str = "0.0.0.0", clock: Callable[[], float] = time.monotonic) -> None:  # noqa: S104 - the phone is on the LAN
        self.port = port
        self.host = host
        super().__init__(clock=clock)
        self._transport: asyncio.DatagramTransport | None = None
        self.bad_datagrams = 0

    def describe(self) -> str:
        return f"UDP on port {self.port}"

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        source = self

        class Proto(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: Any) -> None:
                source._datagram(data)

        try:
            transport, _ = await loop.create_datagram_endpoint(Proto, local_addr=(self.host, self.port))
        except OSError as exc:
            raise PsoasError(f"cannot listen on UDP port {self.port}: {exc.strerror or exc}") from None
        self._transport = transport
        self.port = transport.get_extra_info("sockname")[1]

    def _datagram(self, data: bytes) -> None:
        rows_t: list[float] = []
        rows: list[tuple[float, float, float]] = []
        host_t = self.now_s()
        for line in data.decode("utf-8", "replace").splitlines():
            got = parse_udp_line(line)
            if got is None:
                if line.strip():
                    self.bad_datagrams += 1
                continue
            ts, acc = got
            rows_t.append(host_t if ts is None else ts)
            rows.append(acc)
        if rows:
            t = np.asarray(rows_t, dtype=np.float64)
            if t.max() > 1e11:  # epoch milliseconds
                t = t / 1000.0
            self.put_samples(t, np.asarray(rows) * MS2_TO_MG)

    async def _stop(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def _produce(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.check_lost()


def open_phone_source(spec: str) -> _QueueSource | None:
    """A phone source for ``phyphox:...``, ``sensorlogger:PORT`` or ``udp:PORT``; None otherwise."""
    kind, sep, rest = spec.partition(":")
    if not sep:
        return None
    kind = kind.lower()
    if kind == "phyphox":
        target = rest.lstrip("/")
        if not target:
            raise PsoasError("phyphox needs the phone's address, e.g. phyphox:192.168.1.20:8080")
        if "://" not in rest:
            target = "http://" + target
        else:
            target = rest
        parsed = urllib.parse.urlparse(target)
        if parsed.port is None:
            target = f"{parsed.scheme}://{parsed.hostname}:8080"
        return PhyphoxSource(target)
    if kind in ("sensorlogger", "udp"):
        try:
            port = int(rest)
        except ValueError:
            raise PsoasError(f"{kind} needs a port number, e.g. {kind}:8000") from None
        if not 0 <= port <= 65535:
            raise PsoasError(f"port {port} is out of range")
        return SensorLoggerSource(port) if kind == "sensorlogger" else UdpSource(port)
    return None
